"""One feed's poll, through every stage: fetch → parse → store → match → summarise → (outbox).

The order of decisions for each entry the store has not seen (``decide``):

1. First poll of a feed: an entry older than ``defaults.backfill`` (or without a date) is recorded
   silently (``backfill``) — adding a feed never floods a channel.
2. An entry published longer ago than ``defaults.max_age`` is recorded silently (``too_old``).
3. Every rule judges the entry (``bot.match``; its docstring has the rule-level order).
4. The rules that fired are grouped by where they deliver; each destination gets one alert for the entry,
   naming every rule that fired for it. A story already sent to that destination (same link or same
   headline, from any feed, within a week) is not sent again (``duplicate``, decided by the store).
5. Nothing fired: ``excluded`` if an exclude term vetoed a rule, else ``no_match``.

Entries are handled oldest first, so a channel receives a burst in publication order. The whole result is
written by ``Store.record_poll`` in one transaction, before anything is delivered.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from bot.cadence import failure_delay, success_delay
from bot.fetch import Fetcher
from bot.identity import normalise_link
from bot.match import Matcher, fold
from bot.model import Entry, ParsedFeed, RuleOutcome, Target
from bot.rules.model import Config, Feed
from bot.store import NewItem, PlannedAlert, PollRecord, StoreThread
from bot.summarise import summarise

log = logging.getLogger(__name__)

ParseFn = Callable[[bytes, str, Mapping[str, str]], Awaitable[ParsedFeed]]


@dataclass(frozen=True, slots=True)
class Ruleset:
    """The rules in force: a validated keywords.yaml and its compiled matcher, swapped as one."""

    config: Config
    matcher: Matcher

    @classmethod
    def of(cls, config: Config) -> Ruleset:
        return cls(config, Matcher(config))


@dataclass(slots=True)
class PollReport:
    feed: str
    status: Literal["ok", "unchanged", "not_modified", "error", "skipped"]
    new_items: int = 0
    alerts: int = 0
    duplicates: int = 0
    error: str | None = None
    seconds: float = 0.0
    alert_ids: list[int] = field(default_factory=list)


def dedup_keys(entry: Entry) -> tuple[str, ...]:
    """What makes two items the same story for one destination: the link, and a long-enough headline."""
    keys = []
    if entry.link:
        keys.append("link:" + normalise_link(entry.link))
    title = " ".join(fold(entry.title).split())
    if len(title.split()) >= 4:
        keys.append("title:" + title)
    return tuple(keys)


def _target(config: Config, feed: Feed, rule_name: str) -> Target | None:
    rule = config.rule(rule_name)
    if rule is None:
        return None
    webhook = config.webhook_for(rule, feed)
    if webhook:
        return Target(webhook=webhook, username=feed.username, avatar=feed.avatar)
    channel = config.channel_for(rule)
    return Target(channel=channel) if channel else None


def decide(
    entry: Entry,
    *,
    ruleset: Ruleset,
    feed: Feed,
    feed_title: str,
    first_poll: bool,
    now: datetime,
) -> NewItem:
    """What to do with one unseen entry (see the module docstring for the order)."""
    config = ruleset.config
    outcomes: list[RuleOutcome] = ruleset.matcher.match(entry, feed, now)
    fired = [o for o in outcomes if o.fired]
    published = entry.published
    age = (now - published).total_seconds() if published else None
    if first_poll and (age is None or age > config.defaults.backfill):
        why = "no date" if age is None else f"published {age / 3600:.1f} h before the feed's first poll"
        return NewItem(
            entry, "backfill", f"first poll of the feed: {why}, recorded without alerting", outcomes
        )
    if age is not None and age > config.defaults.max_age:
        return NewItem(
            entry, "too_old", f"published {age / 86400:.1f} days ago, older than max_age", outcomes
        )
    if not fired:
        if any(o.verdict == "excluded" for o in outcomes):
            reasons = "; ".join(f"{o.rule}: {o.reason()}" for o in outcomes if o.verdict == "excluded")
            return NewItem(entry, "excluded", reasons, outcomes)
        near = [o for o in outcomes if o.verdict == "missing_all"]
        reason = "; ".join(f"{o.rule}: {o.reason()}" for o in near) if near else "no rule matched"
        return NewItem(entry, "no_match", reason, outcomes)

    by_target: dict[Target, list[RuleOutcome]] = {}
    for o in fired:
        target = _target(config, feed, o.rule)
        if target is not None:
            by_target.setdefault(target, []).append(o)
    severities = {r.name: r.severity for r in config.rules}
    mentions = {r.name: r.mention for r in config.rules}
    keys = dedup_keys(entry)
    alerts = [
        PlannedAlert(
            target,
            summarise(
                entry, group, feed=feed.name, feed_title=feed_title, severities=severities, mentions=mentions
            ),
            keys,
        )
        for target, group in by_target.items()
    ]
    reason = "; ".join(f"{o.rule}: {o.reason()}" for o in fired)
    return NewItem(entry, "alerted" if alerts else "no_match", reason, outcomes, alerts)


class Poller:
    """Polls one feed at a time per feed name (a poll of a feed never overlaps itself)."""

    def __init__(
        self,
        *,
        store: StoreThread,
        fetcher: Fetcher,
        parse: ParseFn,
        rules: Callable[[], Ruleset],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.parse = parse
        self.rules = rules
        self.clock = clock
        self._inflight: set[str] = set()

    def busy(self, name: str) -> bool:
        return name in self._inflight

    async def poll(self, name: str) -> PollReport:
        if name in self._inflight:
            return PollReport(name, "skipped", error="a poll of this feed is already running")
        self._inflight.add(name)
        started = time.monotonic()
        try:
            report = await self._poll(name)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one feed's bug must not stop the others
            log.exception("poll of feed %s failed unexpectedly", name)
            report = PollReport(name, "error", error=f"internal error: {type(exc).__name__}: {exc}")
            now = self.clock()
            await self.store.run(
                lambda s: s.record_failure(name, now, now + success_delay(None), report.error or "")
            )
        finally:
            self._inflight.discard(name)
        report.seconds = time.monotonic() - started
        return report

    async def _poll(self, name: str) -> PollReport:
        ruleset = self.rules()
        feed = ruleset.config.feed(name)
        if feed is None:
            return PollReport(name, "skipped", error="no longer in keywords.yaml")
        state = await self.store.run(lambda s: s.feed(name))
        if state is None:
            return PollReport(name, "skipped", error="not registered in the store")
        interval = ruleset.config.interval_for(feed)
        at = self.clock()
        fetched = await self.fetcher.fetch(feed.url, etag=state.etag, last_modified=state.last_modified)

        if fetched.status == "error":
            return await self._failed(
                name,
                interval,
                state.consecutive_failures + 1,
                fetched.error or "fetch failed",
                fetched.http_status,
                fetched.retry_after,
            )
        next_at = at + success_delay(interval)
        if fetched.status == "not_modified":
            await self.store.run(
                lambda s: s.record_not_modified(
                    name, at, next_at, etag=fetched.etag, last_modified=fetched.last_modified
                )
            )
            return PollReport(name, "not_modified")

        body_hash = hashlib.blake2b(fetched.body, digest_size=16).hexdigest()
        if body_hash == state.body_hash:
            await self.store.run(
                lambda s: s.record_not_modified(
                    name,
                    at,
                    next_at,
                    etag=fetched.etag,
                    last_modified=fetched.last_modified,
                    http_status=fetched.http_status,
                )
            )
            return PollReport(name, "unchanged")

        parsed = await self.parse(fetched.body, fetched.final_url or feed.url, fetched.headers)
        if parsed.error:
            return await self._failed(
                name, interval, state.consecutive_failures + 1, parsed.error, fetched.http_status, None
            )

        unique: dict[str, Entry] = {}
        for e in parsed.entries:
            unique.setdefault(e.key, e)
        unseen = await self.store.run(lambda s: s.unseen(name, list(unique)))
        fresh = [e for k, e in unique.items() if k in unseen]
        epoch = datetime.fromtimestamp(0, UTC)
        fresh.sort(key=lambda e: (e.published is None, e.published or epoch))  # oldest first, undated last
        now_dt = datetime.fromtimestamp(at, UTC)
        first_poll = state.first_polled_at is None
        title = parsed.title or state.title or feed.name
        items = [
            decide(e, ruleset=ruleset, feed=feed, feed_title=title, first_poll=first_poll, now=now_dt)
            for e in fresh
        ]
        record = PollRecord(
            feed=name,
            at=at,
            next_poll_at=next_at,
            http_status=fetched.http_status,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            body_hash=body_hash,
            title=parsed.title or None,
            warning=parsed.warning,
            items=items,
        )
        outcome = await self.store.run(lambda s: s.record_poll(record))
        if items:
            log.info(
                "feed %s: %d new item(s), %d alert(s)%s",
                name,
                len(items),
                len(outcome.alert_ids),
                f", {outcome.duplicates} duplicate(s) suppressed" if outcome.duplicates else "",
            )
        return PollReport(
            name, "ok", len(items), len(outcome.alert_ids), outcome.duplicates, alert_ids=outcome.alert_ids
        )

    async def _failed(
        self,
        name: str,
        interval: float | None,
        failures: int,
        error: str,
        http_status: int | None,
        retry_after: float | None,
    ) -> PollReport:
        at = self.clock()
        delay = failure_delay(interval, failures, retry_after)
        await self.store.run(lambda s: s.record_failure(name, at, at + delay, error, http_status))
        log.warning("feed %s failed (%s); next try in %.0f s", name, error, delay)
        return PollReport(name, "error", error=error)
