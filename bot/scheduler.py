"""APScheduler wiring, and nothing more: every tick asks the store which feeds are due and hands each to
the poller. The poller decides everything else (see ``bot.pipeline``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)


class PollScheduler:
    def __init__(
        self,
        *,
        due: Callable[[], Awaitable[list[str]]],
        poll: Callable[[str], Awaitable[Any]],
        concurrency: int = 32,
        tick: float = 1.0,
    ) -> None:
        self._due = due
        self._poll = poll
        self._tick_seconds = tick
        self._limit = asyncio.Semaphore(concurrency)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.scheduler = AsyncIOScheduler(timezone=UTC)

    def start(self) -> None:
        """Start ticking. Must be called with the event loop running (e.g. in ``setup_hook``)."""
        self.scheduler.add_job(
            self._tick,
            "interval",
            seconds=self._tick_seconds,
            id="poll-tick",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        self.scheduler.start()

    def add_job(self, fn: Callable[[], Awaitable[None]], seconds: float, job_id: str) -> None:
        """Another periodic job on the same scheduler (rules reload, housekeeping)."""
        self.scheduler.add_job(fn, "interval", seconds=seconds, id=job_id, max_instances=1, coalesce=True)

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
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        tasks = list(self._tasks.values())
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
