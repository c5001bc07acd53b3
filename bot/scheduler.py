"""Scheduling, and nothing more: polls start when the store says feeds are due, and the poller decides
everything else (see ``bot.pipeline``).

A ticker asks the store which feeds are due and hands each to the poller, then sleeps until the next feed
is due (at most ``tick`` seconds, to notice feeds added or resumed meanwhile; at least ``min_tick``, so that
polls due close together start together): a poll starts within ``min_tick`` of its scheduled time rather
than within a whole tick. Other periodic jobs (rules reload, admin notices, search indexing, retention)
run on APScheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)


class PollScheduler:
    def __init__(
        self,
        *,
        due: Callable[[], Awaitable[list[str]]],
        poll: Callable[[str], Awaitable[Any]],
        next_due: Callable[[], Awaitable[float | None]] | None = None,
        concurrency: int = 32,
        tick: float = 1.0,
        min_tick: float = 0.05,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._due = due
        self._next_due = next_due
        self._poll = poll
        self._tick_seconds = tick
        self._min_tick = min(min_tick, tick)
        self._clock = clock
        self._limit = asyncio.Semaphore(concurrency)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._ticker: asyncio.Task[None] | None = None
        self.scheduler = AsyncIOScheduler(timezone=UTC)

    def start(self) -> None:
        """Start ticking. Must be called with the event loop running (e.g. in ``setup_hook``)."""
        self.scheduler.start()
        self._ticker = asyncio.create_task(self._ticking(), name="poll-ticker")

    def add_job(
        self,
        fn: Callable[[], Awaitable[object]],
        seconds: float,
        job_id: str,
        *,
        first_after: float | None = None,
    ) -> None:
        """Another periodic job on the same scheduler (rules reload, housekeeping): every ``seconds``,
        the first time after ``first_after`` seconds (default: after ``seconds``)."""
        extra: dict[str, Any] = {}
        if first_after is not None:
            extra["next_run_time"] = datetime.now(UTC) + timedelta(seconds=first_after)

        async def call() -> None:
            # APScheduler awaits only what it sees is a coroutine function; anything else it runs on a
            # thread, and an awaitable returned there (a lambda's) would silently never run.
            await fn()

        self.scheduler.add_job(
            call, "interval", seconds=seconds, id=job_id, max_instances=1, coalesce=True, **extra
        )

    async def _ticking(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await self._tick()
            delay = self._tick_seconds
            if self._next_due is not None:
                try:
                    upcoming = await self._next_due()
                except Exception:
                    log.exception("could not read when the next feed is due")
                    upcoming = None
                if upcoming is not None:
                    delay = min(delay, upcoming - self._clock())
            await asyncio.sleep(max(delay, started + self._min_tick - loop.time(), 0.0))

    async def _tick(self) -> None:
        try:
            names = await self._due()
        except Exception:
            log.exception("could not read due feeds")
            return
        for name in names:
            if name not in self._tasks:
                self._tasks[name] = asyncio.create_task(self._run(name), name=f"poll:{name}")

    async def _run(self, name: str) -> None:
        try:
            async with self._limit:
                await self._poll(name)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("poll of %s failed", name)
        finally:
            self._tasks.pop(name, None)

    async def shutdown(self, grace: float = 5.0) -> None:
        """Stop ticking; give in-flight polls ``grace`` seconds, then abandon them (their writes are
        transactional, so an abandoned poll leaves nothing half-done)."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        tasks = list(self._tasks.values())
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
