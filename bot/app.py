"""Wiring: settings + rules + store + fetcher + parser + poller + delivery, for ``once`` and ``run``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot import __version__, cadence
from bot.cadence import interval_warnings
from bot.config import Settings
from bot.deliver import Sink
from bot.deliver.console import ConsoleSink
from bot.deliver.notices import NoticeSender
from bot.deliver.worker import DeliveryWorker, DrainReport
from bot.fetch import Fetcher
from bot.match import Matcher
from bot.parse.pool import MatchedFeed, ParsePool
from bot.pipeline import Poller, PollReport, Ruleset
from bot.rules.durations import format_duration
from bot.rules.model import Config, Defaults, Feed
from bot.rules.reload import RulesWatcher
from bot.store import PRUNE_BATCH, SEARCH_INDEX_BATCH, NoticeDraft, Pruned, StoreThread

if TYPE_CHECKING:  # imported where used: `newshound once` needs neither slash commands nor a scheduler
    from bot.commands import Services
    from bot.scheduler import PollScheduler

log = logging.getLogger(__name__)

#: On start-up, feeds already due are spread over this many seconds so they don't all fire together.
START_SPREAD = 30.0
#: How often queued admin notices are sent (they are also sent at the end of ``once``).
NOTICE_EVERY = 30.0
#: How often keywords.yaml is looked at for edits while running (edits take effect within ~2 s).
RULES_CHECK_SECONDS = 1.0
#: How often newly stored items are added to the full-text index for /search and /trend while running.
SEARCH_INDEX_EVERY = 15.0
#: How often items older than ``NEWSHOUND_RETENTION_DAYS`` are pruned while running (first: a minute in).
PRUNE_EVERY = 3600.0
PRUNE_FIRST_AFTER = 60.0


@dataclass(slots=True)
class OnceSummary:
    polls: list[PollReport] = field(default_factory=list)
    delivery: DrainReport = field(default_factory=DrainReport)
    notices: int = 0
    #: The rules' defaults the poll ran with (for the words of ``backfill`` and ``max_age``).
    defaults: Defaults = field(default_factory=Defaults)

    def lines(self) -> list[str]:
        ok = [p for p in self.polls if p.status in ("ok", "unchanged", "not_modified")]
        bad = [p for p in self.polls if p.status == "error"]
        paused = [p for p in self.polls if p.status == "skipped" and (p.error or "").startswith("paused")]
        new = sum(p.new_items for p in self.polls)
        alerts = sum(p.alerts for p in self.polls)
        polled = len(self.polls) - len(paused)
        out = [
            f"polled {polled} feed(s): {len(ok)} ok, {len(bad)} failed"
            + (f", {len(paused)} paused (not polled)" if paused else "")
            + f"; {new} new item(s), {alerts} alert(s) queued; delivered {self.delivery.sent}"
            + (f", {self.delivery.retried} waiting to retry" if self.delivery.retried else "")
            + (f", {self.delivery.failed} failed" if self.delivery.failed else "")
            + (f"; {self.notices} admin notice(s)" if self.notices else "")
        ]
        why = _why_not_alerted(self.polls, self.defaults)
        if why:
            out.append(f"  of the new items: {why}")
        retitled = sum(p.retitled for p in self.polls)
        if retitled:
            out.append(f"  {retitled} seen item(s) came back with a new headline and were judged again")
        out += [f"  {p.feed}: {p.error}" for p in bad]
        out += [f"  {p.feed}: {p.error} — `newshound feeds resume {p.feed}` brings it back" for p in paused]
        return out


def _why_not_alerted(polls: list[PollReport], defaults: Defaults) -> str:
    """Why the new items that did not alert did not: counts by verdict (in the order the pipeline decides
    them), and the alerts not queued because the same story had been sent already."""
    counts: dict[str, int] = {}
    for p in polls:
        for verdict, n in p.verdicts.items():
            counts[verdict] = counts.get(verdict, 0) + n
    words = (
        ("backfill", f"older than `backfill` ({format_duration(defaults.backfill)}) on their feed's first "
         "poll: recorded, not alerted"),
        ("too_old", f"older than `max_age` ({format_duration(defaults.max_age)})"),
        ("excluded", "excluded by a rule's `exclude`"),
        ("no_match", "matched no rule"),
    )  # fmt: skip
    parts = [f"{counts[verdict]} {text}" for verdict, text in words if counts.get(verdict)]
    duplicates = sum(p.duplicates for p in polls)
    if duplicates:
        parts.append(f"{duplicates} alert(s) not queued: the same story had been sent there already")
    return "; ".join(parts)


class App:
    """The running bot. ``start`` loads the rules (raising ``RulesError`` if they are broken)."""

    def __init__(
        self,
        settings: Settings,
        *,
        sink: Sink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.sink: Sink = sink or ConsoleSink()
        self.store = StoreThread(settings.database)
        self.fetcher = Fetcher(
            timeout=settings.fetch_timeout,
            max_bytes=settings.max_body_bytes,
            reach=settings.feed_reach,
            max_connections=settings.max_concurrent_fetches,
        )
        self.pool = ParsePool()
        self._ruleset: Ruleset | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.rules_watcher: RulesWatcher[Ruleset] = RulesWatcher(settings.keywords, Ruleset.of)
        self.poller = Poller(
            store=self.store,
            fetcher=self.fetcher,
            parse=self.pool.parse,
            rules=self.ruleset,
            clock=clock,
            parse_and_match=self._parse_and_match,
        )
        self.notices = NoticeSender(self.store, self.sink, clock=clock)
        self.worker = DeliveryWorker(
            self.store,
            self.sink,
            clock=clock,
            backoff_base=settings.retry_min,
            backoff_max=max(settings.retry_min, settings.retry_max),
            burst_limit=settings.burst_limit,
            burst_window=settings.burst_window,
            notices=self.notices,
        )
        self.scheduler: PollScheduler | None = None
        self.started_at = clock()
        #: Called after an edited keywords.yaml is put in force (e.g. the Discord channel check).
        self.on_rules_reloaded: list[Callable[[], Awaitable[None]]] = []

    @property
    def has_rules(self) -> bool:
        return self._ruleset is not None

    def ruleset(self) -> Ruleset:
        if self._ruleset is None:
            raise RuntimeError("rules are not loaded; call start() first")
        return self._ruleset

    async def start(self) -> None:
        config, ruleset = self.rules_watcher.load()
        for warning in interval_warnings(config):
            log.warning("%s", warning)
        await self.store.open()
        await self.fetcher.open()
        await self.apply_config(config, spread=0.0, ruleset=ruleset)

    async def apply_config(
        self, config: Config, *, spread: float = 0.0, ruleset: Ruleset | None = None
    ) -> None:
        """Put ``config`` in force: swap the matcher and register its feeds in the store."""
        self._ruleset = ruleset or Ruleset.of(config)
        self.pool.set_rules(config, Matcher)  # workers start when a feed first needs parsing
        now = self.clock()
        pairs = [(f.name, f.url) for f in config.feeds]
        # The longest a healthy feed may now wait after its last fetch: a shortened interval takes effect
        # at once (an adaptive one is never longer than MAX_AUTO and its jitter).
        longest_auto = cadence.MAX_AUTO * (1 + cadence.JITTER)
        waits = {f.name: config.interval_for(f) or longest_auto for f in config.feeds}
        await self.store.run(lambda s: s.sync_feeds(pairs, now, spread, waits))

    async def _parse_and_match(
        self,
        body: bytes,
        url: str,
        headers: Mapping[str, str],
        feed: Feed,
        now: datetime,
        ruleset: Ruleset,
        first_poll: bool,
    ) -> MatchedFeed:
        """Parse and match in a worker — when ``ruleset`` is the one the pool matches with."""
        if ruleset is not self._ruleset:  # the rules changed since this poll began: match here instead
            return await self.pool.parse(body, url, headers), None
        return await self.pool.parse_and_match(body, url, headers, feed, now, first_poll)

    async def apply_edit(self, config: Config) -> None:
        """Put rules just written by a slash command in force: compiled off the event loop (a large rule set
        takes a moment), then swapped in. (The file watcher then finds the same content and reloads it once
        more; that is harmless.)"""
        ruleset = await asyncio.to_thread(Ruleset.of, config)
        await self.apply_config(config, ruleset=ruleset)

    def command_services(self) -> Services:
        """What slash commands use: the store, the rules in force, the keywords.yaml editor's target and
        ``apply_config`` (so an edit is in force at once), the feed probe and the admin channel."""
        from bot.commands import Services
        from bot.probe import describe_feed

        return Services(
            store=self.store,
            rules=self.ruleset,
            apply_config=self.apply_edit,
            keywords=self.settings.keywords,
            probe_feed=lambda url: describe_feed(url, fetcher=self.fetcher, parse=self.pool.parse),
            notify_admin=self.sink.notify_admin,
            clock=self.clock,
            version=__version__,
            started_at=self.started_at,
            retention_days=self.settings.retention_days,
        )

    async def poll_all(self) -> list[PollReport]:
        """Poll every configured feed once, concurrently: at most ``max_concurrent_fetches`` polls in
        flight, so fetched bodies never pile up in memory faster than the parse pool drains them."""
        names = [f.name for f in self.ruleset().config.feeds]
        states = await self.store.run(lambda s: s.feeds())
        paused = {f.name: f for f in states if f.status == "paused"}
        if any(f.first_polled_at is None for f in states if f.name not in paused):
            # A first poll is certain to parse: start the workers (and their matchers) in the
            # background now, overlapping the fetches, rather than on the first body.
            task = asyncio.create_task(self.pool.warm_up(), name="parse-pool-start")
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        limit = asyncio.Semaphore(self.settings.max_concurrent_fetches)

        async def bounded(name: str) -> PollReport:
            async with limit:
                return await self._poll_and_wake(name)

        reports = await asyncio.gather(*(bounded(n) for n in names if n not in paused))
        skipped = [PollReport(n, "skipped", error=f"paused: {f.last_error}") for n, f in paused.items()]
        return [*reports, *skipped]

    async def _poll_and_wake(self, name: str, *, if_due: bool = False) -> PollReport:
        report = await self.poller.poll(name, if_due=if_due)
        if report.alerts:
            self.worker.wake()
        return report

    async def _scheduled_poll(self, name: str) -> PollReport:
        return await self._poll_and_wake(name, if_due=True)

    async def send_notices(self) -> int:
        """Send the admin notices that are due (failing, paused, working again, gone quiet)."""
        try:
            return await self.notices.drain()
        except Exception:
            log.exception("sending admin notices failed")
            return 0

    async def queue_notice(self, notice: NoticeDraft) -> None:
        """Queues an admin notice from outside the poller (the Discord channel check), then sends what is
        due: one the admin channel does not take yet stays queued and is retried, after a restart too."""
        at = self.clock()
        await self.store.run(lambda s: s.add_notice(notice, at))
        await self.send_notices()

    async def once(self) -> OnceSummary:
        """One poll of every feed, then deliver everything that is due, then prune what has expired."""
        before = self.notices.sent
        polls = await self.poll_all()
        delivery = await self.worker.drain()  # may send notices too (an alert that cannot be delivered)
        await self.send_notices()
        await self._prune_job()
        return OnceSummary(polls, delivery, self.notices.sent - before, self.ruleset().config.defaults)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll on schedule and deliver continuously until ``stop`` is set."""
        from bot.scheduler import PollScheduler

        config = self.ruleset().config
        spread = START_SPREAD if len(config.feeds) > 1 else 0.0
        await self.apply_config(config, spread=spread, ruleset=self.ruleset())
        self.scheduler = PollScheduler(
            due=self._due,
            poll=self._scheduled_poll,
            next_due=self._next_due,
            concurrency=self.settings.max_concurrent_fetches,
            clock=self.clock,
        )
        self.scheduler.start()
        self.scheduler.add_job(self.reload_rules, RULES_CHECK_SECONDS, "rules-reload")
        self.scheduler.add_job(self._notice_job, NOTICE_EVERY, "admin-notices")
        self.scheduler.add_job(self.index_for_search, SEARCH_INDEX_EVERY, "search-index")
        self.scheduler.add_job(self._prune_job, PRUNE_EVERY, "retention", first_after=PRUNE_FIRST_AFTER)
        worker = asyncio.create_task(self.worker.run_forever(stop), name="delivery")
        log.info(
            "newshound running: %d feed(s), %d rule(s), delivering to %s",
            len(config.feeds),
            len(config.rules),
            self.sink.name,
        )
        try:
            await stop.wait()
        finally:
            await self.scheduler.shutdown(grace=5.0)
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

    async def _notice_job(self) -> None:
        await self.send_notices()

    async def index_for_search(self, batch: int = SEARCH_INDEX_BATCH) -> int:
        """Add what the polls stored to the full-text index, a batch per store call so polls and
        commands get the store between batches (a search would do it anyway, but then it would wait)."""
        total = 0
        try:
            while (n := await self.store.run(lambda s: s.index_for_search(batch))) > 0:
                total += n
                if n < batch:
                    break
        except Exception:
            log.exception("indexing items for search failed")
        return total

    async def prune(self, batch: int = PRUNE_BATCH) -> Pruned:
        """Prune what is older than ``NEWSHOUND_RETENTION_DAYS`` (``bot.store.retention``), a batch per
        store call so polls and commands get the store in between. Nothing when retention is off."""
        keep = self.settings.retention_seconds
        total = Pruned()
        if keep is None:
            return total
        now = self.clock()
        while True:
            total += await self.store.run(lambda s: s.prune(now, keep, batch))
            if not total.more:
                break
        if total.items or total.alert_bodies:
            log.info(
                "retention: %d item(s) older than %g day(s) pruned (text and rule details dropped), "
                "%d sent alert message(s) dropped",
                total.items,
                self.settings.retention_days,
                total.alert_bodies,
            )
        return total

    async def _prune_job(self) -> None:
        try:
            await self.prune()
        except Exception:
            log.exception("pruning old items failed")

    async def reload_rules(self) -> None:
        """Put an edited keywords.yaml in force; a broken edit is logged (and sent to the admin channel)
        and the last good rules stay (see ``bot.rules.reload``)."""
        try:
            result = await asyncio.to_thread(self.rules_watcher.check)
            if result is None:
                return
            if result.status == "reloaded" and result.config is not None and result.compiled is not None:
                await self.apply_config(result.config, ruleset=result.compiled)
                log.info("%s", result.message())
                for hook in self.on_rules_reloaded:
                    await hook()
            else:  # rejected, or restored after a rejection: the admin channel heard of it, so hears this
                if result.status == "restored":
                    log.info("%s", result.message())
                await self.sink.notify_admin(result.message())
        except Exception:
            log.exception("reloading %s failed; the rules in force stay", self.settings.keywords)

    async def _due(self) -> list[str]:
        now = self.clock()
        return await self.store.run(lambda s: s.feeds_due(now))

    async def _next_due(self) -> float | None:
        now = self.clock()
        return await self.store.run(lambda s: s.next_due_at(now))

    async def close(self) -> None:
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.fetcher.close()
        self.pool.close()
        await self.store.close()
