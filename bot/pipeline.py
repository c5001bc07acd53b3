"""One feed's poll, through every stage: fetch → parse → store → match → summarise → (outbox).

The order of decisions for each entry the store has not seen (``decide``) — an entry with an unseen key
but the link, headline and date of an item the feed had (``bot.identity.signature``) is that item under a
new guid, and not among them (``_not_rekeyed``):

1. First poll of a feed: an entry older than ``defaults.backfill`` (or without a date) is recorded
   silently (``backfill``) — adding a feed never floods a channel.
2. An entry published longer ago than ``defaults.max_age`` is recorded silently (``too_old``).
   (``Defaults.silent`` decides 1 and 2. Such entries are never matched — their outcomes are ``None`` —
   and on a first poll the parse worker keeps them ``brief``: only the text the store keeps.)
3. Every rule judges the entry (``bot.match``; its docstring has the rule-level order).
4. The rules that fired are grouped by where they deliver; each destination gets one alert for the entry,
   naming every rule that fired for it. A story already sent to that destination (same link or same
   headline, from any feed, within a week) is not sent again (``duplicate``, decided by the store).
5. Nothing fired: ``excluded`` if an exclude term vetoed a rule, else ``no_match``.
6. An entry the store *has* seen on this feed that comes back with another headline (breaking news is
   retitled as it develops; spacing does not count) is judged again (``decide_retitled``), unless older
   than ``max_age``: the rules that fire on the new headline but did not on the old one alert — to a
   destination that has had no alert for the entry, and not a story sent there within the week. Its
   stored headline and verdict follow the change. Only polls after a feed's first look for this.

Entries are handled oldest first, so a channel receives a burst in publication order. The whole result is
written by ``Store.record_poll`` in one transaction, before anything is delivered.

Feeds that share a URL are fetched once: the first poll of the URL fetches (and parses) for every feed
with that URL, and each feed records its own items, alerts, health and schedule. A poll asked for while
its URL is being fetched waits for that fetch instead of making another.

Health (see ``bot.cadence`` for the timings): every failure is recorded in words and backs off; a day of
consecutive failures queues one notice for the admin channel, a week pauses the feed with another; a feed
that works again after its failure notice gets a "works again" notice; a feed silent far longer than its
usual rhythm gets one "gone quiet" notice. Notices are queued in the same transaction as the poll's result
(``Store.add_notice``: unique keys, so never repeated) and sent by ``bot.deliver.notices``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

from bot import cadence
from bot.fetch import Fetcher
from bot.identity import normalise_link, signature
from bot.match import Matcher, fold
from bot.model import RETITLED, Entry, FetchResult, ParsedFeed, RuleOutcome, Target
from bot.rules.durations import format_duration
from bot.rules.model import Config, Feed
from bot.store import FeedState, NewItem, NoticeDraft, PlannedAlert, PollRecord, Retitled, StoreThread
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


#: A parsed document and, per entry, the rule outcomes (``None`` for the list: not matched yet; for one
#: entry: it cannot alert, see ``Defaults.silent``, and was kept ``brief``).
Matched = tuple[ParsedFeed, list[list[RuleOutcome] | None] | None]
#: Parse, and match with the given ruleset, in one step (in a worker process), for a feed's poll (its
#: first poll or not) at a time: the parsed feed and, per entry, the rule outcomes — ``None`` for the
#: entries that cannot alert (kept brief), or for the whole list when they could not be computed there
#: with that ruleset.
ParseMatchFn = Callable[[bytes, str, Mapping[str, str], Feed, datetime, Ruleset, bool], Awaitable[Matched]]


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
    notices: int = 0
    #: How many of the new items got each verdict (``backfill``, ``too_old``, ``excluded``, ``no_match``,
    #: ``alerted``), as decided before the store suppresses duplicates.
    verdicts: dict[str, int] = field(default_factory=dict)
    #: Seen items that came back with another headline and were judged again (their alerts are counted
    #: in ``alerts``).
    retitled: int = 0


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
    outcomes: list[RuleOutcome] | None = None,
) -> NewItem:
    """What to do with one unseen entry (see the module docstring for the order). ``outcomes``: the
    rules' verdicts when already computed with this ruleset (by a parse worker). An entry recorded
    silently (steps 1 and 2) is not matched at all: its outcomes are ``None``."""
    config = ruleset.config
    published = entry.published
    silent = config.defaults.silent(published, first_poll=first_poll, now=now)
    if silent is not None:
        age = (now - published).total_seconds() if published else None
        if silent == "backfill":
            why = "no date" if age is None else f"published {age / 3600:.1f} h before the feed's first poll"
            return NewItem(
                entry, "backfill", f"first poll of the feed: {why}, recorded without alerting", None
            )
        return NewItem(
            entry, "too_old", f"published {(age or 0) / 86400:.1f} days ago, older than max_age", None
        )
    if entry.brief:
        raise ValueError(f"entry {entry.key!r} was kept brief but can alert: it must be parsed in full")
    if outcomes is None:
        outcomes = ruleset.matcher.match(entry, feed, now)
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

    alerts = _planned_alerts(entry, fired, config, feed, feed_title)
    reason = "; ".join(f"{o.rule}: {o.reason()}" for o in fired)
    return NewItem(entry, "alerted" if alerts else "no_match", reason, outcomes, alerts)


def _planned_alerts(
    entry: Entry,
    fired: list[RuleOutcome],
    config: Config,
    feed: Feed,
    feed_title: str,
    previous_title: str = "",
) -> list[PlannedAlert]:
    """One alert per destination of the rules that fired, each naming every rule that fired there."""
    by_target: dict[Target, list[RuleOutcome]] = {}
    for o in fired:
        target = _target(config, feed, o.rule)
        if target is not None:
            by_target.setdefault(target, []).append(o)
    severities = {r.name: r.severity for r in config.rules}
    mentions = {r.name: r.mention for r in config.rules}
    keys = dedup_keys(entry)
    return [
        PlannedAlert(
            target,
            summarise(
                entry,
                group,
                feed=feed.name,
                feed_title=feed_title,
                severities=severities,
                mentions=mentions,
                previous_title=previous_title,
            ),
            keys,
        )
        for target, group in by_target.items()
    ]


def same_headline(a: str, b: str) -> bool:
    """Whether two headlines are the same but for spacing."""
    return a.split() == b.split()


def decide_retitled(
    entry: Entry,
    item_id: int,
    old_title: str,
    *,
    ruleset: Ruleset,
    feed: Feed,
    feed_title: str,
    now: datetime,
) -> Retitled:
    """What to do with a seen item that came back with another headline (step 6 of the module
    docstring): judge it again, and alert for the rules that fire on the new headline but did not on the
    old one — the news is in the change. Items older than ``max_age`` are not judged again."""
    head = f"{RETITLED}{old_title!r}"
    published = entry.published
    age = (now - published).total_seconds() if published else None
    if entry.brief or (age is not None and age > ruleset.config.defaults.max_age):
        days = f"published {(age or 0) / 86400:.1f} days ago, older than max_age"
        return Retitled(item_id, entry, old_title, f"{head}; {days}: not judged again")
    outcomes = ruleset.matcher.match(entry, feed, now)
    before = replace(entry, title=old_title)
    fired_before = {o.rule for o in ruleset.matcher.match(before, feed, now) if o.fired}
    newly = [o for o in outcomes if o.fired and o.rule not in fired_before]
    if not newly:
        why = "the rules that fire on it fired on the old headline too" if fired_before else "no rule fires"
        return Retitled(item_id, entry, old_title, f"{head}; {why}", outcomes)
    alerts = _planned_alerts(entry, newly, ruleset.config, feed, feed_title, previous_title=old_title)
    reason = f"{head}; " + "; ".join(f"{o.rule}: {o.reason()}" for o in newly)
    return Retitled(item_id, entry, old_title, reason, outcomes, alerts)


@dataclass(slots=True)
class _Group:
    """A poll of one URL in flight, for every feed that has it."""

    members: frozenset[str]
    done: asyncio.Future[dict[str, PollReport]]


class Poller:
    """Polls feeds. A poll of a feed never overlaps itself, and feeds sharing a URL share one fetch."""

    def __init__(
        self,
        *,
        store: StoreThread,
        fetcher: Fetcher,
        parse: ParseFn,
        rules: Callable[[], Ruleset],
        clock: Callable[[], float] = time.time,
        parse_and_match: ParseMatchFn | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.parse = parse
        self.parse_and_match = parse_and_match
        self.rules = rules
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 (jitter, not secrets)
        self._groups: dict[str, _Group] = {}

    def busy(self, name: str) -> bool:
        return any(name in g.members for g in self._groups.values())

    async def poll(self, name: str, *, if_due: bool = False) -> PollReport:
        """Poll feed ``name`` (and every feed sharing its URL). With ``if_due``, a feed whose next poll
        is not due any more (a shared fetch already served it) is skipped."""
        started = time.monotonic()
        ruleset = self.rules()
        feed = ruleset.config.feed(name)
        if feed is None:
            return PollReport(name, "skipped", error="no longer in keywords.yaml")
        group = self._groups.get(feed.url)
        if group is not None and name in group.members:
            reports = await asyncio.shield(group.done)
            report = reports.get(name) or PollReport(name, "skipped", error="served by a shared fetch")
        else:
            if group is not None:  # the URL is being fetched for other feeds (config changed meanwhile)
                await asyncio.wait([group.done])
            report = (await self._lead(feed.url, name, ruleset, if_due))[name]
        report.seconds = time.monotonic() - started
        return report

    async def _lead(self, url: str, name: str, ruleset: Ruleset, if_due: bool) -> dict[str, PollReport]:
        members = [f.name for f in ruleset.config.feeds if f.url == url]
        done: asyncio.Future[dict[str, PollReport]] = asyncio.get_running_loop().create_future()
        self._groups[url] = _Group(frozenset(members), done)
        try:
            try:
                reports = await self._poll_group(url, name, members, ruleset, if_due)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one feed's bug must not stop the others
                log.exception("poll of %s failed unexpectedly", url)
                reports = await self._internal_error(members, ruleset, exc)
        except BaseException:
            done.cancel()
            raise
        finally:
            self._groups.pop(url, None)
        done.set_result(reports)
        return reports

    async def _internal_error(
        self, members: list[str], ruleset: Ruleset, exc: Exception
    ) -> dict[str, PollReport]:
        """A bug met while polling: recorded as each feed's failure, with the same backoff, notice after
        a day and pause after a week as any other failure (a feed it keeps hitting is not retried every
        few minutes for ever without anyone hearing of it)."""
        error = f"internal error: {type(exc).__name__}: {exc}"[:300]
        states = await self.store.run(lambda s: {n: s.feed(n) for n in members})
        reports: dict[str, PollReport] = {}
        for n in members:
            state = states.get(n)
            if state is None or state.status == "paused":
                reports[n] = PollReport(n, "skipped", error=error)
                continue
            feed = ruleset.config.feed(n)
            interval = ruleset.config.interval_for(feed) if feed is not None else None
            reports[n] = await self._failed(state, interval, error, None, None, self.clock())
        return reports

    async def _poll_group(
        self, url: str, requester: str, members: list[str], ruleset: Ruleset, if_due: bool
    ) -> dict[str, PollReport]:
        states = await self.store.run(lambda s: {n: s.feed(n) for n in members})
        reports: dict[str, PollReport] = {}
        active: dict[str, FeedState] = {}
        for n in members:
            st = states.get(n)
            if st is None:
                reports[n] = PollReport(n, "skipped", error="not registered in the store")
            elif st.status == "paused":
                reports[n] = PollReport(n, "skipped", error=f"paused: {st.last_error or 'kept failing'}")
            else:
                active[n] = st
        mine = active.get(requester)
        if mine is None:
            return {n: reports.get(n) or PollReport(n, "skipped") for n in members}
        if if_due and mine.next_poll_at is not None and mine.next_poll_at > self.clock() + 1.0:
            return {n: PollReport(n, "skipped", error="not due (served by a shared fetch)") for n in members}

        # One conditional GET for all of them when they agree on the validators, else a plain GET.
        validators = {(st.etag, st.last_modified) for st in active.values()}
        etag, last_modified = validators.pop() if len(validators) == 1 else (None, None)
        at = self.clock()
        fetched = await self.fetcher.fetch(url, etag=etag, last_modified=last_modified)
        parsed: list[tuple[ParsedFeed, list[list[RuleOutcome] | None] | None, str]] = []

        async def parse_once(feed: Feed, first_poll: bool) -> Matched:
            """Parse the body once for every member. On a feed's first poll every entry is new, so the
            parse worker matches them all too (both cores) — all that can alert, that is: the others
            (nearly all, on a first poll) are kept brief and not matched. Later polls usually bring a few
            new entries among many seen ones: parse only, and match just the new ones (``_record``)."""
            if not parsed:
                where = fetched.final_url or url
                if self.parse_and_match is not None and first_poll:
                    now = datetime.fromtimestamp(at, UTC)
                    doc, outcomes = await self.parse_and_match(
                        fetched.body, where, fetched.headers, feed, now, ruleset, first_poll
                    )
                else:
                    doc, outcomes = await self.parse(fetched.body, where, fetched.headers), None
                parsed.append((doc, outcomes, feed.name))
            doc, outcomes, matched_for = parsed[0]
            return doc, outcomes if matched_for == feed.name else None

        for n, st in active.items():
            feed = ruleset.config.feed(n)
            assert feed is not None
            reports[n] = await self._record(feed, st, ruleset, fetched, parse_once, at)
        return reports

    async def _record(
        self,
        feed: Feed,
        state: FeedState,
        ruleset: Ruleset,
        fetched: FetchResult,
        parse_once: Callable[[Feed, bool], Awaitable[Matched]],
        at: float,
    ) -> PollReport:
        """What one fetch means for one feed: its items, alerts, health and next poll, recorded."""
        name = feed.name
        interval = ruleset.config.interval_for(feed)
        if fetched.status == "error":
            return await self._failed(
                state, interval, fetched.error or "fetch failed", fetched.http_status, fetched.retry_after, at
            )
        rows = await self.store.run(lambda s: s.item_times(name))
        known = cadence.item_times(rows, state.first_polled_at, at)
        notices = self._recovered(state, at) + self._moved(feed, fetched)

        body_hash = hashlib.blake2b(fetched.body, digest_size=16).hexdigest()
        if fetched.status == "not_modified" or body_hash == state.body_hash:
            hint = cadence.cache_hint(fetched.headers, state.ttl_seconds, at)
            delay = cadence.success_delay(interval, times=known, now=at, hint=hint)
            next_at = cadence.next_poll_at(
                at=at, scheduled=state.next_poll_at, interval=interval, delay=delay, rng=self.rng
            )
            notices += self._quiet(state, known, at)
            await self.store.run(
                lambda s: s.record_not_modified(
                    name,
                    at,
                    next_at,
                    etag=fetched.etag,
                    last_modified=fetched.last_modified,
                    http_status=fetched.http_status,
                    poll_interval=delay,
                    notices=notices,
                )
            )
            status: Literal["not_modified", "unchanged"] = (
                "not_modified" if fetched.status == "not_modified" else "unchanged"
            )
            return PollReport(name, status, notices=len(notices))

        parsed, outcomes = await parse_once(feed, state.first_polled_at is None)
        if parsed.error:
            return await self._failed(state, interval, parsed.error, fetched.http_status, None, at)

        # Judge with the rules in force now: an edit made while this feed was being fetched applies.
        matched_with, ruleset = ruleset, self.rules()
        feed = ruleset.config.feed(name) or feed
        if ruleset is not matched_with:
            outcomes = None  # matched in the worker with the rules replaced meanwhile: match again here
        now_dt = datetime.fromtimestamp(at, UTC)
        first_poll = state.first_polled_at is None
        had_items = state.items_total > 0
        fresh, matched, changed = await self._fresh(name, parsed, outcomes, first_poll, had_items)
        defaults = ruleset.config.defaults
        retitled_briefs = [e for e, _, _ in changed if e.brief]
        if any(
            e.brief and defaults.silent(e.published, first_poll=first_poll, now=now_dt) is None for e in fresh
        ) or any(defaults.silent(e.published, first_poll=False, now=now_dt) is None for e in retitled_briefs):
            # Kept brief for rules replaced meanwhile, or for another feed sharing this URL (on its first
            # poll), yet it can alert here — new, or a seen item retitled within max_age: read the
            # document again, in full.
            parsed = await self.parse(fetched.body, fetched.final_url or feed.url, fetched.headers)
            if parsed.error:
                return await self._failed(state, interval, parsed.error, fetched.http_status, None, at)
            outcomes = None
            fresh, matched, changed = await self._fresh(name, parsed, None, first_poll, had_items)
        epoch = datetime.fromtimestamp(0, UTC)
        fresh.sort(key=lambda e: (e.published is None, e.published or epoch))  # oldest first, undated last
        title = parsed.title or state.title or feed.name

        def decide_all() -> list[NewItem]:
            return [
                decide(
                    e,
                    ruleset=ruleset,
                    feed=feed,
                    feed_title=title,
                    first_poll=first_poll,
                    now=now_dt,
                    outcomes=matched.get(e.key) if outcomes is not None else None,
                )
                for e in fresh
            ]

        def decide_changed() -> list[Retitled]:
            return [
                decide_retitled(e, item_id, old, ruleset=ruleset, feed=feed, feed_title=title, now=now_dt)
                for e, item_id, old in changed
            ]

        retitled: list[Retitled] = []
        if (outcomes is not None or not fresh) and not changed:
            items = decide_all()  # matched in the parse worker already: cheap
        else:
            # Matching is CPU work: on a thread, so the event loop keeps serving other feeds meanwhile.
            items, retitled = await asyncio.to_thread(lambda: (decide_all(), decide_changed()))
        times = known + [
            min(e.published.timestamp(), at) if e.published else at
            for e in fresh
            if e.published or not first_poll
        ]
        hint = cadence.cache_hint(fetched.headers, parsed.ttl_seconds, at)
        carried = len({e.key for e in parsed.entries})
        window = None
        if (
            cadence.overflowed(carried, len(fresh), first_poll=first_poll, had_items=state.items_total > 0)
            and state.last_ok_at is not None
        ):
            window = max(0.0, at - state.last_ok_at)
        delay = cadence.success_delay(interval, times=times, now=at, hint=hint, overflow_window=window)
        next_at = cadence.next_poll_at(
            at=at, scheduled=state.next_poll_at, interval=interval, delay=delay, rng=self.rng
        )
        if not fresh:
            notices += self._quiet(state, times, at)
        if window is not None:
            notices += self._overflowed(state, carried, window, interval, delay, at)
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
            retitled=retitled,
            poll_interval=delay,
            ttl_seconds=parsed.ttl_seconds,
            notices=notices,
        )
        outcome = await self.store.run(lambda s: s.record_poll(record))
        if items or retitled:
            log.info(
                "feed %s: %d new item(s), %d alert(s)%s%s",
                name,
                len(items),
                len(outcome.alert_ids),
                f", {outcome.duplicates} duplicate(s) suppressed" if outcome.duplicates else "",
                f", {len(retitled)} seen item(s) with a new headline" if retitled else "",
            )
        return PollReport(
            name,
            "ok",
            len(items),
            len(outcome.alert_ids),
            outcome.duplicates,
            alert_ids=outcome.alert_ids,
            notices=len(notices),
            verdicts=dict(Counter(i.verdict for i in items)),
            retitled=len(retitled),
        )

    async def _fresh(
        self,
        name: str,
        parsed: ParsedFeed,
        outcomes: list[list[RuleOutcome] | None] | None,
        first_poll: bool = False,
        had_items: bool = True,
    ) -> tuple[list[Entry], dict[str, list[RuleOutcome] | None], list[tuple[Entry, int, str]]]:
        """The entries of ``parsed`` the store has not seen on feed ``name`` (the first of each key) and
        that are not an item it had under another id (``had_items``: the feed has stored items), the
        outcomes computed for them in the worker, by key, and — after the feed's first poll — the seen
        entries that came back with another headline: (entry, item id, stored headline)."""
        unique: dict[str, Entry] = {}
        matched: dict[str, list[RuleOutcome] | None] = {}
        for i, e in enumerate(parsed.entries):
            if e.key not in unique:
                unique[e.key] = e
                if outcomes is not None:
                    matched[e.key] = outcomes[i]
        keys = list(unique)
        if first_poll:
            unseen = await self.store.run(lambda s: s.unseen(name, keys))
            fresh = [e for k, e in unique.items() if k in unseen]
            return (await self._not_rekeyed(name, fresh) if had_items else fresh), matched, []
        known = await self.store.run(lambda s: s.seen_titles(name, keys))
        retitled = [
            (e, *known[k])
            for k, e in unique.items()
            if k in known and e.title.strip() and not same_headline(e.title, known[k][1])
        ]
        fresh = [e for k, e in unique.items() if k not in known]
        return (await self._not_rekeyed(name, fresh) if had_items else fresh), matched, retitled

    async def _not_rekeyed(self, name: str, unseen: list[Entry]) -> list[Entry]:
        """``unseen`` without the entries that are an item feed ``name`` already had under another
        guid/id (same link, headline and date: ``bot.identity.signature``) — not new, not stored again."""
        candidates = {
            e.key: (sig, e.published.timestamp())
            for e in unseen
            if e.published is not None and (sig := signature(e.link, e.title, e.published.timestamp()))
        }
        if not candidates:
            return unseen
        again = await self.store.run(lambda s: s.rekeyed(name, candidates))
        if again:
            log.debug("feed %s: %d item(s) came back under new ids", name, len(again))
        return [e for e in unseen if e.key not in again]

    async def _failed(
        self,
        state: FeedState,
        interval: float | None,
        error: str,
        http_status: int | None,
        retry_after: float | None,
        at: float,
    ) -> PollReport:
        name = state.name
        failures = state.consecutive_failures + 1
        since = state.failing_since or at
        delay = cadence.until_escalation(
            cadence.jittered(
                cadence.failure_delay(interval, failures, retry_after, base=state.poll_interval), self.rng
            ),
            since,
            at,
            retry_after,
        )
        stage = cadence.escalation(since, at)
        notices: list[NoticeDraft] = []
        if http_status == 410:  # the publisher says so: no need to wait a day to tell someone
            notices.append(
                NoticeDraft(
                    f"gone:{name}:{since:.0f}",
                    "gone",
                    f"Feed {name} is gone: its server answers HTTP 410 Gone, which means the feed was "
                    "removed for good. Newshound keeps retrying, less and less often, and pauses it after "
                    f"{cadence.span(cadence.PAUSE_AFTER)}; remove it from keywords.yaml, or give it the "
                    "feed's new address.",
                    name,
                )
            )
        if stage != "none":
            notices.append(
                NoticeDraft(
                    f"failing:{name}:{since:.0f}",
                    "failing",
                    f"Feed {name} has been failing for {cadence.span(at - since)} "
                    f"(since {cadence.when(since)}): {error}. Newshound keeps retrying, less and less often; "
                    f"after {cadence.span(cadence.PAUSE_AFTER)} of failures it pauses the feed.",
                    name,
                )
            )
        if stage == "pause":
            notices.append(
                NoticeDraft(
                    f"paused:{name}:{since:.0f}",
                    "paused",
                    f"Feed {name} is paused: it has failed for {cadence.span(at - since)} "
                    f"(last error: {error}). It is no longer polled. To bring it back, add it again with "
                    f"/feed add or run `newshound feeds resume {name}`.",
                    name,
                )
            )
        await self.store.run(
            lambda s: s.record_failure(
                name, at, at + delay, error, http_status, pause=stage == "pause", notices=notices
            )
        )
        if stage == "pause":
            log.error("feed %s paused after %s of failures: %s", name, cadence.span(at - since), error)
        else:
            log.warning("feed %s failed (%s); next try in %.0f s", name, error, delay)
        return PollReport(name, "error", error=error, notices=len(notices))

    @staticmethod
    def _recovered(state: FeedState, at: float) -> list[NoticeDraft]:
        since = state.failing_since
        if since is None or cadence.escalation(since, at) == "none":
            return []
        return [
            NoticeDraft(
                f"recovered:{state.name}:{since:.0f}",
                "recovered",
                f"Feed {state.name} works again, after failing for {cadence.span(at - since)}.",
                state.name,
            )
        ]

    @staticmethod
    def _overflowed(
        state: FeedState, carried: int, window: float, interval: float | None, delay: float, at: float
    ) -> list[NoticeDraft]:
        name = state.name
        if interval is None:
            remedy = f"It is polled adaptively: the next poll is in {cadence.span(delay)}."
        else:
            half = max(1.0, round(interval / 2))
            remedy = (
                f"Its interval is fixed at {format_duration(interval)}: set "
                f"`interval: {format_duration(half)}` (or `auto`) on it in keywords.yaml to poll it more "
                + ("often (under a minute is allowed, with a warning)." if half < 60 else "often.")
            )
        log.warning(
            "feed %s: all %d items were new since the last read %s ago", name, carried, cadence.span(window)
        )
        day = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")
        return [
            NoticeDraft(
                f"overflow:{name}:{day}",
                "overflow",
                f"Feed {name} may have dropped stories before they were seen: all {carried} items it carries "
                f"were new since it was last read {cadence.span(window)} ago ({cadence.when(at - window)}), "
                "so items published and pushed out in between were missed (or the feed gave its items new "
                f"ids). {remedy}",
                name,
            )
        ]

    @staticmethod
    def _moved(feed: Feed, fetched: FetchResult) -> list[NoticeDraft]:
        """One notice per new address when the feed's URL redirects permanently (301, 308) elsewhere."""
        if not fetched.moved_to:
            return []
        return [
            NoticeDraft(
                f"moved:{feed.name}:{fetched.moved_to}",
                "moved",
                f"Feed {feed.name} has moved: {feed.url} redirects permanently to {fetched.moved_to}. "
                "Newshound follows the redirect on every poll; to poll the new address directly, change "
                "the feed's url in keywords.yaml.",
                feed.name,
            )
        ]

    @staticmethod
    def _quiet(state: FeedState, times: list[float], at: float) -> list[NoticeDraft]:
        silent = cadence.gone_quiet(times, at)
        if silent is None:
            return []
        last, usual = silent
        return [
            NoticeDraft(
                f"quiet:{state.name}:{last:.0f}",
                "quiet",
                f"Feed {state.name} has gone quiet: nothing new for {cadence.span(at - last)} (last item "
                f"{cadence.when(last)}), though it usually publishes every {cadence.span(usual)}. "
                "It still answers; the publisher may have moved or stopped the feed.",
                state.name,
            )
        ]
