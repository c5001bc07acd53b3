"""The delivery worker: outbox → sink, in order per destination, concurrently across destinations.

* **Order** — each target (a channel, a webhook) has its own task that sends its pending alerts oldest
  first; an alert waiting to be retried holds back the ones after it.
* **Independence** — targets run concurrently, so a long rate-limit wait or an unreachable webhook on one
  never delays another.
* **Nothing lost** — an alert is marked sent only when the sink confirms (with the message id). Before the
  sink is called the alert is marked as *being sent* (``sending_at``), so after a crash the sink knows to
  check whether it already arrived. A temporary problem leaves it pending with a later
  ``next_attempt_at`` (exponential backoff with a cap, kept in the store so it survives restarts); when any
  target succeeds again, targets that were backing off are retried at once. A permanent problem marks it
  failed with the reason and tells the admin channel once per target and reason: the notice is queued in
  the store's notices outbox and sent by a ``NoticeSender``, so an admin channel that is down for a while
  (or a restart) delays it but never loses it.
* **Bursts** — when ``burst_limit`` messages went to one target within ``burst_window`` seconds (a digest
  counts as one), the rest are held until that window has passed and then go out as one digest message
  (headline + link of each), all marked sent with the digest's message id; after a digest, the next one
  waits a window, and once the window holds fewer messages than the limit, alerts go one by one again.
  Both are read from the outbox, so a restart keeps to them. ``drain`` (``newshound once``) sends the
  digest at once instead of waiting. An alert whose own send has an unknown outcome (``sending_at``) is
  retried on its own, never folded into a digest, so the check for it in the channel finds it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.cadence import doubling
from bot.deliver import DeliveryResult, DigestSink, OutboxAlert, Sink, Target
from bot.deliver.notices import NoticeSender
from bot.store import NoticeDraft, Store, StoreThread

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DrainReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    digests: int = 0
    errors: list[str] = field(default_factory=list)


class DeliveryWorker:
    def __init__(
        self,
        store: StoreThread,
        sink: Sink,
        *,
        clock: Callable[[], float] = time.time,
        backoff_base: float = 2.0,
        backoff_max: float = 120.0,
        burst_limit: int = 10,
        burst_window: float = 60.0,
        concurrency: int = 32,
        batch: int = 50,
        notices: NoticeSender | None = None,
    ) -> None:
        self.store = store
        self.sink = sink
        self.clock = clock
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.burst_limit = burst_limit
        self.burst_window = burst_window
        self.batch = batch
        self._limit = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        #: Sends the admin notices this worker queues (share the app's, so they take turns).
        self.notices = notices if notices is not None else NoticeSender(store, sink, clock=clock)
        self._told: set[tuple[str, str]] = set()  # (target, reason) already queued for the admin channel
        self._notifying: set[asyncio.Task[None]] = set()
        self._troubled: set[str] = set()  # targets backing off after a transient error
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.report = DrainReport()  # running totals for ``run_forever``

    def wake(self) -> None:
        self._wake.set()

    def backoff(self, attempts: int) -> float:
        return doubling(attempts, self.backoff_base, self.backoff_max)

    async def recover(self) -> None:
        """Discord is reachable again (e.g. the gateway reconnected): retry waiting alerts now."""
        count = await self.store.run(lambda s: s.retry_now())
        self._troubled.clear()
        if count:
            log.info("Discord is back: retrying %d waiting alert(s) now", count)
        self.wake()

    # -- entry points ------------------------------------------------------------------------------

    async def drain(self) -> DrainReport:
        """Send every alert that is due now (bursts collapse at once, without waiting). Returns what
        happened."""
        report = DrainReport()
        now = self.clock()
        keys = await self.store.run(lambda s: s.due_targets(now))
        await asyncio.gather(*(self._target(key, report, final=True) for key in keys))
        await asyncio.gather(*list(self._notifying))  # the admin notices this drain queued
        return report

    async def run_forever(self, stop: asyncio.Event, idle: float = 30.0) -> None:
        """Keep one task per target with due alerts, until ``stop`` is set. Woken by new alerts, by a
        target finishing, or when the next retry is due."""
        try:
            while not stop.is_set():
                self._wake.clear()
                try:
                    now = self.clock()
                    await self._start_due_targets(now)
                    # Wait for the next retry of a target not running now: a running one wakes the loop
                    # when it ends, and a retry due by ``now`` was just started. (Counting a running
                    # target's head, due in the past, spun this loop at 20 Hz during a long send.)
                    running = [key for key, task in self._tasks.items() if not task.done()]
                    next_retry = await self.store.call(Store.next_retry_at, now, running)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("delivery round failed")
                    next_retry = None
                timeout = idle if next_retry is None else max(0.05, min(idle, next_retry - self.clock()))
                waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
                try:
                    await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for w in waits:
                        w.cancel()
        finally:
            tasks = [*self._tasks.values(), *self._notifying]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._tasks.clear()

    async def _start_due_targets(self, now: float) -> None:
        keys = await self.store.run(lambda s: s.due_targets(now))
        for key in keys:
            running = self._tasks.get(key)
            if running is not None and not running.done():
                continue
            task = asyncio.create_task(self._target(key, self.report, final=False), name=f"deliver:{key}")
            self._tasks[key] = task
            task.add_done_callback(lambda _t: self._wake.set())

    # -- one target --------------------------------------------------------------------------------

    async def _burst_hold(self, target: Target, now: float) -> float | None:
        """Until when ``target``'s pending alerts are held for a digest, or None when not in a burst (or
        the sink does not collapse bursts to it).

        In a burst when ``burst_limit`` messages went to ``target`` within the last ``burst_window``
        seconds, a digest counting as one: held until the oldest of them is a window old, and at least a
        window after the last digest (at most one digest per window). Once fewer messages than the limit
        fall in the window, alerts go one by one again: a burst does not turn a channel's steady traffic
        into a digest a minute."""
        if self.burst_limit <= 0 or not isinstance(self.sink, DigestSink) or not self.sink.collapses(target):
            return None
        times, last = await self.store.call(Store.sent_since, target.key, now - self.burst_window)
        if len(times) < self.burst_limit:
            return None
        hold = times[len(times) - self.burst_limit] + self.burst_window
        if last is not None:
            hold = max(hold, last + self.burst_window)
        return hold

    async def _target(self, key: str, report: DrainReport, *, final: bool) -> None:
        """Send ``key``'s due alerts in order until none is due or one must wait."""
        async with self._limit:
            while True:
                now = self.clock()
                items = await self.store.call(Store.pending_for, key, now, self.batch)
                if not items:
                    return
                interrupted = self._interrupted_digest(items)
                if interrupted is not None:
                    if not await self._send_digest(interrupted, report):
                        return
                    continue
                if items[0].sending_at is not None:
                    # Sent on its own before, outcome unknown (a timeout, a crash): it may be in the
                    # channel already. Retried on its own, which first looks for it there — in a new
                    # digest it would be looked for under the digest's nonce and title, and shown twice.
                    if not await self._send_one(items[0], report):
                        return
                    continue
                hold = await self._burst_hold(items[0].target, now)
                if hold is not None:
                    if not final and hold > now:
                        await asyncio.sleep(hold - now)
                        # Everything that arrived meanwhile goes in the same digest.
                        items = await self.store.call(Store.pending_for, key, self.clock(), self.batch)
                        if not items:
                            return
                    if len(items) > 1:
                        if not await self._send_digest(items, report):
                            return
                        continue
                    # A single held alert is sent as itself.
                for item in items:
                    if not await self._send_one(item, report):
                        return
                    if await self._burst_hold(item.target, self.clock()) is not None:
                        break  # the rest of this burst is collapsed into a digest

    @staticmethod
    def _interrupted_digest(items: list[OutboxAlert]) -> list[OutboxAlert] | None:
        """The alerts of a digest that was being sent when the process stopped (they share the head's
        ``sending_at``), to be sent again as the very same digest; None if the head was not in one."""
        head = items[0]
        if head.sending_at is None:
            return None
        group = [head]
        for item in items[1:]:
            if item.sending_at != head.sending_at:
                break
            group.append(item)
        return group if len(group) > 1 else None

    async def _call(self, item: OutboxAlert, send: Awaitable[DeliveryResult]) -> DeliveryResult:
        try:
            return await send
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a sink bug: keep the alert, try again later
            log.exception("sink %s raised on alert %d", self.sink.name, item.id)
            return DeliveryResult.retry(f"internal error: {type(exc).__name__}: {exc}")

    async def _send_one(self, item: OutboxAlert, report: DrainReport) -> bool:
        await self.store.call(Store.mark_sending, item.id, self.clock())
        result = await self._call(item, self.sink.send(item))
        return await self._record([item], result, report)

    async def _send_digest(self, items: list[OutboxAlert], report: DrainReport) -> bool:
        assert isinstance(self.sink, DigestSink)
        # Every alert of one digest attempt shares one ``sending_at``: after a crash the worker knows
        # which alerts went out together and sends exactly that digest again (see _interrupted_digest).
        at = items[0].sending_at or self.clock()
        await self.store.call(Store.mark_sending_many, [i.id for i in items], at)
        try:
            result, count = await self.sink.send_digest(items)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("sink %s raised on a digest", self.sink.name)
            result, count = DeliveryResult.retry(f"internal error: {type(exc).__name__}: {exc}"), len(items)
        taken = items[: max(1, count)]
        if len(taken) < len(items):  # the rest did not fit: never attempted
            await self.store.call(Store.clear_sending, [i.id for i in items[len(taken) :]])
        if result.status == "sent":
            report.digests += 1
            log.info("burst on %s: %d alert(s) sent as one digest", items[0].target.key, len(taken))
        return await self._record(taken, result, report)

    async def _record(self, items: list[OutboxAlert], result: DeliveryResult, report: DrainReport) -> bool:
        """Store the outcome; True when the target may go on with its next alert."""
        head = items[0]
        key = head.target.key
        at = self.clock()
        ids = [i.id for i in items]
        if result.status == "sent":
            await self.store.call(Store.mark_sent_many, ids, result.message_id, at)
            report.sent += len(items)
            self._troubled.discard(key)
            if self._troubled:  # one target works again: the others need not sit out their backoff
                others = list(self._troubled)
                self._troubled.clear()
                await self.store.call(Store.retry_now, others)
                self.wake()
            return True
        error = result.error or "unknown error"
        if result.status == "retry":
            delay = max(result.retry_after or 0.0, self.backoff(head.attempts))
            await self.store.call(Store.mark_retry, head.id, error, at + delay)
            log.warning("alert %d to %s: %s; retrying in %.1f s", head.id, key, error, delay)
            report.retried += 1
            report.errors.append(error)
            if result.retry_after is None:
                self._troubled.add(key)
            return False  # keep this destination's order: nothing after it goes first
        rules = ", ".join(dict.fromkeys(m.rule for i in items for m in i.alert.matches)) or "-"
        told = (key, error)
        if told not in self._told:
            # Queued before the alerts are marked failed, under a key of its own: a worker stopped in
            # between tries them again, and queues the same notice again — which the key makes a no-op.
            notice = NoticeDraft(
                key=f"undeliverable:{key}:{head.id}",
                kind="undeliverable",
                text=f"Alerts to {key} cannot be delivered (rule {rules}): {error}. "
                "They are marked failed; fix the channel or permissions — later alerts will be tried.",
            )
            await self.store.call(Store.add_notice, notice, at)
        await self.store.call(Store.mark_failed_many, ids, error, at)
        log.error("alert %d (rule %s) to %s failed for good: %s", head.id, rules, key, error)
        report.failed += len(items)
        report.errors.append(error)
        if told not in self._told:
            self._told.add(told)
            task = asyncio.create_task(self._send_notices(), name="admin-notices")
            self._notifying.add(task)
            task.add_done_callback(self._notifying.discard)
        return True

    async def _send_notices(self) -> None:
        """Send the queued admin notices now (without holding up this target); one the admin channel does
        not take yet stays queued and is retried with backoff (``newshound run`` every 30 s)."""
        try:
            await self.notices.drain()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sending admin notices failed")
