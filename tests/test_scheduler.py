"""The poll ticker: asks which feeds are due, then sleeps until the next one is due — not a whole tick."""

from __future__ import annotations

import asyncio
import time

from bot.scheduler import PollScheduler


async def test_the_ticker_wakes_when_the_next_feed_is_due_rather_than_a_tick_later() -> None:
    asked: list[float] = []
    polled: list[str] = []
    due_at = time.time() + 0.3

    async def due() -> list[str]:
        asked.append(time.time())
        return ["wire"] if time.time() >= due_at and not polled else []

    async def next_due() -> float | None:
        return due_at if time.time() < due_at else None

    async def poll(name: str) -> None:
        polled.append(name)

    scheduler = PollScheduler(due=due, poll=poll, next_due=next_due, tick=60.0)
    scheduler.start()
    try:
        async with asyncio.timeout(20):  # a 60 s tick would take three times that
            while not polled:  # noqa: ASYNC110 - the condition is the scheduler's doing: poll it
                await asyncio.sleep(0.01)
    finally:
        await scheduler.shutdown()
    assert polled == ["wire"]
    assert len(asked) >= 2 and asked[-1] >= due_at


async def test_without_a_next_due_time_the_ticker_still_ticks() -> None:
    asked: list[float] = []

    async def due() -> list[str]:
        asked.append(time.time())
        return []

    async def poll(name: str) -> None:
        raise AssertionError(name)

    scheduler = PollScheduler(due=due, poll=poll, tick=0.05)
    scheduler.start()
    try:
        async with asyncio.timeout(20):
            while len(asked) < 3:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    finally:
        await scheduler.shutdown()


async def test_a_housekeeping_job_can_run_first_long_before_its_interval() -> None:
    """The retention job runs hourly, but first a minute after start (a bot restarted more often than
    hourly would otherwise never prune)."""
    ran: list[str] = []

    async def nothing_due() -> list[str]:
        return []

    async def poll(name: str) -> None:
        raise AssertionError(name)

    async def soon() -> None:
        ran.append("soon")

    async def job(label: str) -> None:
        ran.append(label)

    scheduler = PollScheduler(due=nothing_due, poll=poll, tick=60.0)
    scheduler.start()
    scheduler.add_job(soon, 3600.0, "soon", first_after=0.1)
    scheduler.add_job(lambda: job("hourly"), 3600.0, "hourly")
    scheduler.add_job(lambda: job("lambda"), 3600.0, "lambda", first_after=0.2)
    try:
        async with asyncio.timeout(20):
            while len(ran) < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
    finally:
        await scheduler.shutdown()
    assert ran == ["soon", "lambda"]  # a job that returns an awaitable (not a coroutine function) runs too
