"""The delivery worker: outbox → sink, in order per destination, concurrently across destinations.

An alert is marked sent only when the sink confirms (with the message id); a temporary problem leaves it
pending with a later ``next_attempt_at`` (exponential backoff, kept in the store so it survives restarts);
a permanent one marks it failed with the reason and tells the admin channel once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.deliver import DeliveryResult, OutboxAlert, Sink
from bot.store import Store, StoreThread

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DrainReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


class DeliveryWorker:
    def __init__(
        self,
        store: StoreThread,
        sink: Sink,
        *,
        clock: Callable[[], float] = time.time,
        backoff_base: float = 5.0,
        backoff_max: float = 900.0,
    ) -> None:
        self.store = store
        self.sink = sink
        self.clock = clock
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._wake = asyncio.Event()
        self._told: set[tuple[str, str]] = set()

    def wake(self) -> None:
        self._wake.set()

    def backoff(self, attempts: int) -> float:
        return float(min(self.backoff_max, self.backoff_base * (2 ** min(attempts, 20))))

    async def drain(self) -> DrainReport:
        """Send every alert that is due now. Returns what happened."""
        report = DrainReport()
        now = self.clock()
        pending = await self.store.run(lambda s: s.pending_alerts(now))
        by_target: dict[str, list[OutboxAlert]] = {}
        for item in pending:
            by_target.setdefault(item.target.key, []).append(item)
        await asyncio.gather(*(self._send_in_order(items, report) for items in by_target.values()))
        return report

    async def _send_in_order(self, items: list[OutboxAlert], report: DrainReport) -> None:
        for item in items:
            try:
                result = await self.sink.send(item)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a sink bug: keep the alert, try again later
                log.exception("sink %s raised on alert %d", self.sink.name, item.id)
                result = DeliveryResult.retry(f"internal error: {type(exc).__name__}: {exc}")
            at = self.clock()
            if result.status == "sent":
                await self.store.call(Store.mark_sent, item.id, result.message_id, at)
                report.sent += 1
                continue
            error = result.error or "unknown error"
            if result.status == "retry":
                delay = max(result.retry_after or 0.0, self.backoff(item.attempts))
                await self.store.call(Store.mark_retry, item.id, error, at + delay)
                log.warning("alert %d to %s: %s; retrying in %.0f s", item.id, item.target.key, error, delay)
                report.retried += 1
                report.errors.append(error)
                return  # keep this destination's order: nothing after it goes first
            await self.store.call(Store.mark_failed, item.id, error, at)
            log.error("alert %d to %s failed for good: %s", item.id, item.target.key, error)
            report.failed += 1
            report.errors.append(error)
            told = (item.target.key, error)
            if told not in self._told:
                self._told.add(told)
                await self.sink.notify_admin(f"Alerts to {item.target.key} cannot be delivered: {error}")

    async def run_forever(self, stop: asyncio.Event, idle: float = 30.0) -> None:
        """Drain whenever woken (new alerts) or when the next retry is due, until ``stop`` is set."""
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivery round failed")
            next_retry = await self.store.run(lambda s: s.next_retry_at())
            timeout = idle if next_retry is None else max(0.05, min(idle, next_retry - self.clock()))
            waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            try:
                await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
