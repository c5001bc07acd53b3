"""Parse benchmark: µs per entry over the real feeds, ours vs plain feedparser, and field agreement.

"Ours" is ``bot.parse.parse_feed`` — the fast lxml path with feedparser as the fallback, each entry
normalised into an ``Entry`` (plain text, cleaned links, UTC dates). "Plain feedparser" is
``feedparser.parse(body)`` with its defaults, producing no normalised output at all. Agreement compares
ours with the feedparser reference path (``bot.parse.feedparser_path``: feedparser, normalised the same
way, through the same guards: ``parse_feed(..., fast=False)``) entry by entry on title, link, id (key),
published UTC and summary text.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import feedparser

from bot.model import ParsedFeed
from bot.parse import parse_feed, use_accelerator
from bot.parse.normalise import Brief
from bot.parse.pool import ParsePool
from bot.rules.model import Defaults

FIELDS = ("title", "link", "key", "published", "summary")
ALL_FIELDS = ("key", "title", "link", "summary", "content", "published", "author", "source", "tags", "guid")

Doc = tuple[str, bytes, dict[str, str]]


@dataclass(slots=True)
class ParseResult:
    feeds: int
    entries: int
    ours_seconds: float
    brief_seconds: float  # ours on a feed's first poll: entries that cannot alert kept brief
    python_seconds: float  # ours with the C accelerator off
    brief_entries: int
    pool_seconds: float
    pool_start_seconds: float
    feedparser_seconds: float
    fast_seconds: float  # ours, on the feeds the fast path read
    reference_seconds: float  # feedparser + the same normalisation, on those feeds
    reference_entries: int
    fast_feeds: int
    fast_entries: int
    agree: int
    agree_all: int
    compared: int

    @property
    def ours_us(self) -> float:
        return self.ours_seconds / self.entries * 1e6

    @property
    def brief_us(self) -> float:
        return self.brief_seconds / self.entries * 1e6

    @property
    def python_us(self) -> float:
        return self.python_seconds / self.entries * 1e6

    @property
    def pool_us(self) -> float:
        return self.pool_seconds / self.entries * 1e6

    @property
    def feedparser_us(self) -> float:
        return self.feedparser_seconds / self.entries * 1e6


def _ours(docs: list[Doc], brief: Brief | None = None) -> tuple[list[float], list[ParsedFeed]]:
    times, out = [], []
    for url, body, headers in docs:
        t0 = time.perf_counter()
        out.append(parse_feed(body, url, headers, brief=brief))
        times.append(time.perf_counter() - t0)
    return times, out


def first_poll_brief(now: datetime) -> Brief:
    """What the parse workers are told on a feed's first poll with the default ``backfill``/``max_age``:
    an entry older than a day (or undated) cannot alert."""
    defaults = Defaults()
    return lambda published: defaults.silent(published, first_poll=True, now=now) is not None


async def _pool(docs: list[Doc]) -> tuple[float, float]:
    pool = ParsePool()
    try:
        t0 = time.perf_counter()
        await pool.parse(b"<rss/>", "", {})  # start-up: forkserver + workers
        start = time.perf_counter() - t0
        t0 = time.perf_counter()
        await asyncio.gather(*(pool.parse(body, url, headers) for url, body, headers in docs))
        return time.perf_counter() - t0, start
    finally:
        pool.close()


def run(docs: list[Doc], *, reference: bool = True) -> ParseResult:
    """``docs`` are ``(url, body, headers)``. ``reference=False`` skips the agreement check."""
    parse_feed(docs[0][1], docs[0][0], docs[0][2])  # warm imports and caches
    times, ours = _ours(docs)
    again, _ = _ours(docs)
    if sum(again) < sum(times):
        times = again
    ours_s = sum(times)
    brief = first_poll_brief(datetime.now(UTC))
    brief_times, brief_out = _ours(docs, brief)
    again, _ = _ours(docs, brief)
    brief_s = min(sum(brief_times), sum(again))
    use_accelerator(False)  # the Python forms: what an install without a C compiler runs
    try:
        python_s = min(sum(_ours(docs)[0]) for _ in range(2))
    finally:
        use_accelerator(True)
    fast_s = sum(t for t, p in zip(times, ours, strict=True) if p.parser == "fast")
    pool_s, pool_start = asyncio.run(_pool(docs))

    t0 = time.perf_counter()
    for url, body, headers in docs:
        feedparser.parse(body, response_headers={**headers, "content-location": url})
    fp_s = time.perf_counter() - t0

    entries = sum(len(p.entries) for p in ours)
    fast_feeds = sum(1 for p in ours if p.parser == "fast")
    fast_entries = sum(len(p.entries) for p in ours if p.parser == "fast")
    agree = agree_all = compared = 0
    ref_s = 0.0
    ref_entries = 0
    if reference:
        for (url, body, headers), mine in zip(docs, ours, strict=True):
            if mine.parser == "fast":
                t0 = time.perf_counter()
                ref = parse_feed(body, url, headers, fast=False)
                ref_s += time.perf_counter() - t0
                ref_entries += len(ref.entries)
            else:
                ref = mine
            if len(ref.entries) != len(mine.entries):
                compared += max(len(ref.entries), len(mine.entries))
                continue
            for a, b in zip(mine.entries, ref.entries, strict=True):
                compared += 1
                if all(getattr(a, f) == getattr(b, f) for f in FIELDS):
                    agree += 1
                if all(getattr(a, f) == getattr(b, f) for f in ALL_FIELDS):
                    agree_all += 1
    return ParseResult(
        feeds=len(docs),
        entries=entries,
        ours_seconds=ours_s,
        brief_seconds=brief_s,
        python_seconds=python_s,
        brief_entries=sum(e.brief for p in brief_out for e in p.entries),
        pool_seconds=pool_s,
        pool_start_seconds=pool_start,
        feedparser_seconds=fp_s,
        fast_seconds=fast_s,
        reference_seconds=ref_s,
        reference_entries=ref_entries,
        fast_feeds=fast_feeds,
        fast_entries=fast_entries,
        agree=agree,
        agree_all=agree_all,
        compared=compared,
    )
