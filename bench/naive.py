"""The naive baseline bot: fetch each feed in turn with aiohttp, ``feedparser.parse`` it, remember ids.

What most small feed bots do (no conditional GET, no body hash, one feed at a time, feedparser with its
defaults). ``python -m bench.naive URLS_FILE`` polls every URL once and prints a JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp
import feedparser


async def poll(urls: list[str]) -> dict[str, float]:
    seen: set[str] = set()
    entries = 0
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        for url in urls:
            async with session.get(url) as resp:
                body = await resp.read()
            parsed = feedparser.parse(body)
            for e in parsed.entries:
                entries += 1
                seen.add(e.get("id") or e.get("link") or e.get("title", ""))
    return {
        "wall": time.perf_counter() - started,
        "entries": entries,
        "new": len(seen),
        "peak_rss": _peak_rss(),
    }


def _peak_rss() -> int:
    """This process's peak resident memory in bytes (``VmHWM``; 0 off Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def main() -> None:
    urls = [u for u in open(sys.argv[1]).read().split() if u]  # noqa: SIM115
    print(json.dumps(asyncio.run(poll(urls))), flush=True)


if __name__ == "__main__":
    main()
