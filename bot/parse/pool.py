"""Parsing off the event loop, on every core: a process pool running ``parse_feed``."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from bot.model import ParsedFeed
from bot.parse import parse_feed


class ParsePool:
    """A pool of worker processes (``forkserver``, so no thread or socket of the bot is inherited)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or max(1, os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["bot.parse"])
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)
        return self._pool

    async def parse(self, body: bytes, url: str, headers: Mapping[str, str]) -> ParsedFeed:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor(), parse_feed, body, url, dict(headers))
        except BrokenProcessPool:
            # A worker died (out of memory, killed): start a fresh pool, report this feed's failure.
            self.close()
            return ParsedFeed(error="the parser process died while reading this feed", parser="none")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
