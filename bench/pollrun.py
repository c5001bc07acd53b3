"""The bot under benchmark: our real ``App`` polling every feed, one pass per ``go`` line on stdin.

``python -m bench.pollrun`` reads the usual NEWSHOUND_* environment. For each line ``go`` it runs
``App.once()`` (poll every feed, deliver what matched — exactly what ``newshound once`` does) while a
probe task measures the event loop's longest stall, then prints one JSON line. EOF ends it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import TextIO

from bot.app import App
from bot.config import load_settings
from bot.deliver.console import ConsoleSink


async def probe(stop: asyncio.Event, period: float = 0.005) -> tuple[float, float, float]:
    """The longest delay beyond ``period`` between two wake-ups of a sleeping task, and how much CPU
    the event-loop thread and the whole process (all its threads) used during that delay: loop CPU
    near the delay = the loop was busy; process CPU near it = other threads held the GIL; neither =
    the process was waiting for a core."""
    worst, worst_cpu, worst_proc = 0.0, 0.0, 0.0
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t, c, p = loop.time(), time.thread_time(), time.process_time()
        await asyncio.sleep(period)
        late = loop.time() - t - period
        if late > worst:
            worst, worst_cpu, worst_proc = late, time.thread_time() - c, time.process_time() - p
    return worst, worst_cpu, worst_proc


async def main(devnull: TextIO) -> None:
    settings = load_settings()
    # The real console sink (no token), printing into /dev/null; results go to our stdout.
    results = sys.stdout
    app = App(settings, sink=ConsoleSink(devnull))
    await app.start()
    loop = asyncio.get_running_loop()
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            stop = asyncio.Event()
            prober = asyncio.create_task(probe(stop))
            t0 = time.perf_counter()
            summary = await app.once()
            wall = time.perf_counter() - t0
            stop.set()
            stall, stall_cpu, stall_proc = await prober
            statuses: dict[str, int] = {}
            for p in summary.polls:
                statuses[p.status] = statuses.get(p.status, 0) + 1
            out = {
                "wall": wall,
                "stall": stall,
                "stall_cpu": stall_cpu,
                "stall_process_cpu": stall_proc,
                "new": sum(p.new_items for p in summary.polls),
                "alerts": sum(p.alerts for p in summary.polls),
                "statuses": statuses,
            }
            print(json.dumps(out), file=results, flush=True)
    finally:
        await app.close()


if __name__ == "__main__":
    with open(os.devnull, "w") as devnull:
        asyncio.run(main(devnull))
