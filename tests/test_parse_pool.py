"""The parse pool: workers parse exactly as ``parse_feed`` does, and match with the rules in force."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bot.match import Matcher
from bot.parse import parse_feed
from bot.parse.pool import ParsePool, parse_in_pool
from bot.rules.model import Config, Defaults, Feed, Rule

DATA = Path(__file__).parent / "data"
BODY = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>Russian ship leaves Tartus</title><guid>a</guid><description>By Jane.</description></item>
<item><title>Weather</title><guid>b</guid></item></channel></rss>"""
NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def test_parse_pool_returns_what_parse_feed_returns() -> None:
    body = (DATA / "real-feeds" / "c4eb37eca10d1d55").read_bytes()
    pool = ParsePool(workers=2)
    try:
        results = [await parse_in_pool(pool, body, "https://feeds.example/x", {}) for _ in range(3)]
    finally:
        pool.close()
    direct = parse_feed(body, "https://feeds.example/x", {})
    assert direct.parser == "fast"
    for r in results:
        assert r == direct


async def test_workers_match_with_the_rules_in_force() -> None:
    config = Config(
        path="k.yaml",
        defaults=Defaults(channel="123456789012345678"),
        feeds=(Feed(name="wire", url="https://wire.example/rss"),),
        rules=(Rule(name="bases", keywords=("Tartus",)),),
    )
    feed = config.feeds[0]
    pool = ParsePool(workers=1)
    try:
        parsed, outcomes = await pool.parse_and_match(BODY, "https://wire.example/rss", {}, feed, NOW)
        assert outcomes is None  # no rules given yet: the caller matches itself
        pool.set_rules(config, Matcher)
        parsed, outcomes = await pool.parse_and_match(BODY, "https://wire.example/rss", {}, feed, NOW)
        expected = [Matcher(config).match(e, feed, NOW) for e in parsed.entries]
        assert outcomes == expected
        assert [o.verdict for per in expected for o in per] == ["matched", "no_match"]

        other = replace(config, rules=(Rule(name="people", keywords=("Jane",)),))
        pool.set_rules(other, Matcher)
        _, outcomes = await pool.parse_and_match(BODY, "https://wire.example/rss", {}, feed, NOW)
        assert outcomes is not None
        assert [[(o.rule, o.verdict) for o in per] for per in outcomes] == [
            [("people", "matched")],
            [("people", "no_match")],
        ]
        assert (await pool.parse(BODY, "https://wire.example/rss", {})).entries == parsed.entries
    finally:
        pool.close()


async def test_on_a_first_poll_workers_match_only_entries_that_can_alert() -> None:
    """Backfill (older than ``backfill``, or undated) and anything older than ``max_age`` is recorded
    without alerting whatever the rules say: the worker keeps it brief and does not match it."""
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>Tartus today</title><guid>new</guid><pubDate>Wed, 31 Dec 2025 23:00:00 GMT</pubDate></item>
<item><title>Tartus last week</title><guid>old</guid><pubDate>Wed, 24 Dec 2025 23:00:00 GMT</pubDate></item>
<item><title>Tartus, undated</title><guid>undated</guid></item></channel></rss>"""
    config = Config(
        path="k.yaml",
        defaults=Defaults(channel="123456789012345678", backfill=3 * 86400.0, max_age=5 * 86400.0),
        feeds=(Feed(name="wire", url="https://wire.example/rss"),),
        rules=(Rule(name="bases", keywords=("Tartus",)),),
    )
    feed = config.feeds[0]
    pool = ParsePool(workers=1)
    try:
        pool.set_rules(config, Matcher)
        url = "https://wire.example/rss"
        first, outcomes = await pool.parse_and_match(body, url, {}, feed, NOW, first_poll=True)
        assert [e.brief for e in first.entries] == [False, True, True]
        assert outcomes is not None and outcomes[1:] == [None, None]
        assert outcomes[0] == Matcher(config).match(first.entries[0], feed, NOW)
        later, outcomes = await pool.parse_and_match(body, url, {}, feed, NOW, first_poll=False)
        assert [e.brief for e in later.entries] == [False, True, False]  # only max_age applies
        assert outcomes is not None and [o is None for o in outcomes] == [False, True, False]
        full = parse_feed(body, url, {})
        assert [e.key for e in first.entries] == [e.key for e in full.entries]
        assert first.entries[0] == full.entries[0] and later.entries[2] == full.entries[2]
    finally:
        pool.close()


def _memory_mb(pid: int) -> dict[str, float]:
    """A process's resident set now (``VmRSS``) and at its peak (``VmHWM``), in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}


def _large_feed(items: int = 9000) -> bytes:
    """An RSS document of ~0.9 KB per item (9,000 items: 8 MB, ~60 MB of a worker's heap to parse)."""
    body = "".join(
        f"<item><title>Story {i}</title><guid>g{i}</guid><link>https://ex.example/{i}</link>"
        f"<description>{'word ' * 150}</description></item>"
        for i in range(items)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'.encode()


async def test_a_worker_hands_its_heap_back_once_idle_after_a_large_document() -> None:
    """glibc keeps freed heap: without a trim, a worker that once parsed an 8 MB feed would stay ~50 MB
    larger for good. The trim waits until the worker has been idle for ``TRIM_IDLE_SECONDS``."""
    pool = ParsePool(workers=1)
    try:
        await pool.warm_up()
        assert pool._pool is not None
        (pid,) = pool._pool._processes  # the executor's worker processes, by pid
        before = _memory_mb(pid)["VmRSS"]
        parsed = await parse_in_pool(pool, _large_feed(), "https://ex.example/", {})
        assert len(parsed.entries) == 9000 and parsed.parser == "fast"
        peak = _memory_mb(pid)["VmHWM"]
        assert peak > before + 40, (before, peak)  # the document's tree and text were in memory
        deadline = time.monotonic() + 10
        while (now := _memory_mb(pid)["VmRSS"]) > before + (peak - before) / 3:
            assert time.monotonic() < deadline, f"still {now:.0f} MB (was {before:.0f}, peak {peak:.0f})"
            await asyncio.sleep(0.1)
    finally:
        pool.close()


async def test_a_busy_worker_that_grew_large_trims_before_its_next_document() -> None:
    """Polls can keep a worker busy for minutes (thousands of feeds): one that holds over
    ``TRIM_NOW_RSS`` after a large document trims before the next one instead of waiting to be idle."""
    pool = ParsePool(workers=1)
    try:
        await pool.warm_up()
        assert pool._pool is not None
        (pid,) = pool._pool._processes
        before = _memory_mb(pid)["VmRSS"]
        await parse_in_pool(pool, _large_feed(), "https://ex.example/", {})
        small = await parse_in_pool(pool, BODY, "https://wire.example/rss", {})  # at once: not idle
        assert len(small.entries) == 2
        now, peak = _memory_mb(pid)["VmRSS"], _memory_mb(pid)["VmHWM"]
        assert peak > before + 40, (before, peak)
        assert now < before + (peak - before) / 3, f"{now:.0f} MB (was {before:.0f}, peak {peak:.0f})"
    finally:
        pool.close()


def test_workers_do_not_import_the_bots_main_module(tmp_path: Path) -> None:
    """multiprocessing makes every new process import the parent's ``__main__`` (for ``newshound``: the
    CLI, settings, rules — ~20 MB per worker); the pool's workers skip it."""
    marker = tmp_path / "imported"
    script = tmp_path / "main.py"
    script.write_text(
        "import asyncio, pathlib, sys\n"
        f"if __name__ != '__main__':\n    pathlib.Path({str(marker)!r}).write_text(__name__)\n"
        "else:\n"
        "    from bot.parse.pool import ParsePool\n"
        "    async def go():\n"
        "        pool = ParsePool(workers=2)\n"
        "        try:\n"
        "            body = b'<rss><channel><item><title>x</title></item></channel></rss>'\n"
        "            parsed = await pool.parse(body, '', {})\n"
        "            print(len(parsed.entries))\n"
        "        finally:\n"
        "            pool.close()\n"
        "    asyncio.run(go())\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent.parent,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"
    assert not marker.exists(), f"a worker imported the main module as {marker.read_text()}"
