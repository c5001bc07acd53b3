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
