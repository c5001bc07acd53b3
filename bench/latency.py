"""Latency: a feed changes → the alert is POSTed to the Discord fake, with N feeds polling.

The installed bot runs as users run it — ``newshound run`` with ``DISCORD_TOKEN``, ``DISCORD_API_BASE`` and
``DISCORD_GATEWAY_URL`` pointing at the Discord fake (``tests.fakes.discord_server``, in its own process),
logged in over the fake's gateway — polling N feeds of the loopback feed server every ``interval``
seconds. Changes are injected one at a time (``POST /_change/<i>``: a new item that one rule matches)
into feeds whose next scheduled poll is a few seconds away, so no poll of that feed is under way and the
change becomes visible exactly at that scheduled time, read from the bot's store. The latency of a
change is the time from that scheduled poll to the fake's receipt of the alert (``timestamp`` of the
message it created): scheduling, fetch, parse, match, store, outbox and the Discord POST — everything
beyond the poll interval. Feeds are spread over several rules and channels so that no channel reaches
the bot's burst limit (beyond it alerts are held back on purpose, into a digest).
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.corpus import REPO
from bench.procmon import TreeMonitor, Usage
from bench.setup import feed_url

CHANNELS = [str(300000000000000000 + k) for k in range(10)]
_FRESH = re.compile(r"Fresh story (\d+)-(\d+)")


@dataclass(slots=True)
class LatencyResult:
    feeds: int
    interval: float
    injected: int
    latencies: list[float] = field(default_factory=list)  # seconds beyond the scheduled poll
    missing: int = 0
    missed: list[int] = field(default_factory=list)  # feeds whose change never alerted
    why: list[str] = field(default_factory=list)  # for each, what the bot's store knew of it
    polls_per_second: float = 0.0
    usage: Usage | None = None

    def quantile(self, q: float) -> float:
        xs = sorted(self.latencies)
        if not xs:
            return float("nan")
        return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


class DiscordFakeProc:
    """``python -m tests.fakes.discord_server`` with one guild and ``CHANNELS``."""

    def __init__(self) -> None:
        args = [sys.executable, "-m", "tests.fakes.discord_server", "--token", "bench-token"]
        for c in CHANNELS:
            args += ["--channel", c]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=REPO)
        assert self.proc.stdout is not None
        self.env: dict[str, str] = {}
        while len(self.env) < 3:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the Discord fake did not start")
            key, _, value = line.strip().partition("=")
            self.env[key] = value
        self.base = self.env["DISCORD_API_BASE"].split("/api/")[0]

    def messages(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.base}/_fake/messages", timeout=30) as resp:  # loopback
            data: dict[str, list[dict[str, Any]]] = json.loads(resp.read())
        return [m for msgs in data.values() for m in msgs]

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def write_latency_keywords(path: Path, port: int, feeds: int, hosts: int, interval: float) -> Path:
    """The same feeds (names and URLs) as ``bench.setup.write_keywords``, polled every ``interval``
    seconds, tagged into ``len(CHANNELS)`` groups; one rule per group, each to its own channel."""
    lines = [
        "version: 1",
        "defaults:",
        f'  channel: "{CHANNELS[0]}"',
        f"  interval: {interval:g}s",
        "  backfill: 24h",
        "  max_age: 7d",
        "feeds:",
    ]
    for i in range(feeds):
        lines += [
            f"  - name: feed-{i:05d}",
            f"    url: {feed_url(port, i, hosts)}",
            f"    tags: [g{i % len(CHANNELS)}]",
        ]
    lines.append("rules:")
    for k, channel in enumerate(CHANNELS):
        lines += [
            f"  - name: group-{k}",
            "    keywords: [Tartus]",
            f'    feeds: ["tag:g{k}"]',
            f'    channel: "{channel}"',
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def changeable(corpus: list[bytes]) -> set[int]:
    """Indexes of the corpus documents into which the feed server can inject a fresh item that the bot
    then reads (not JSON Feed, not a document too broken to read)."""
    from datetime import UTC, datetime

    from bench.feedserver import _fresh_item
    from bot.parse import parse_feed

    now = datetime.now(UTC)
    ok = set()
    for k, body in enumerate(corpus):
        parsed = parse_feed(_fresh_item(body, "0-1", now), "https://feeds.example/x", {})
        if any(e.title.startswith("Fresh story 0-1") for e in parsed.entries):
            ok.add(k)
    return ok


def _post(url: str) -> None:
    req = urllib.request.Request(url, method="POST")
    with urllib.request.urlopen(req, timeout=30):  # loopback
        pass


def _stats(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats", timeout=30) as resp:  # loopback
        return int(json.loads(resp.read())["hits"])


def run(
    *,
    port: int,
    feeds: int,
    hosts: int,
    db: Path,
    work: Path,
    env: dict[str, str],
    corpus: list[bytes],
    interval: float = 15.0,
    changes: int = 40,
    warmup: float = 4.0,
    seed: int = 7,
) -> LatencyResult:
    """``db`` must already know the feeds (a poll pass over them ran), so that every poll of the run is a
    steady-state one. Their schedule is reset so that each is due once within the first interval."""
    rng = random.Random(seed)
    eligible = changeable(corpus)
    keywords = write_latency_keywords(work / "k-latency.yaml", port, feeds, hosts, interval)
    now = time.time()
    with sqlite3.connect(db) as conn:  # every feed due once in the coming interval, in a stable spread
        conn.execute(
            "UPDATE feeds SET next_poll_at = ? + (abs(id * 7919) % 1000) * ? / 1000.0",
            [now + 1.0, interval],
        )
    fake = DiscordFakeProc()
    result = LatencyResult(feeds, interval, 0)
    bot: subprocess.Popen[bytes] | None = None
    try:
        bot_env = dict(env)
        bot_env.update(fake.env)
        bot_env.update(NEWSHOUND_KEYWORDS=str(keywords), NEWSHOUND_DATABASE=str(db))
        exe = Path(sys.executable).parent / "newshound"
        with open(work / "latency-bot.log", "wb") as log:
            bot = subprocess.Popen([str(exe), "run"], env=bot_env, stdout=log, stderr=log, cwd=env["HOME"])
        mon = TreeMonitor(bot.pid).start()
        time.sleep(warmup)
        hits0, t0 = _stats(port), time.time()
        reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        scheduled: dict[tuple[int, int], float] = {}  # (feed, generation) → poll that sees the change
        used: set[int] = set()
        per_group = dict.fromkeys(range(len(CHANNELS)), 0)
        generations = dict.fromkeys(range(feeds), 0)
        gap = interval / 2 / max(1, changes) * 1.0
        deadline = time.time() + interval * 0.75
        while len(scheduled) < changes and time.time() < deadline:
            t = time.time()
            # A feed whose next poll is 2-5 s away: no poll of it is running, and the change is seen then.
            rows = reader.execute(
                "SELECT id, name, next_poll_at FROM feeds WHERE next_poll_at BETWEEN ? AND ?",
                [t + 2.0, t + 5.0],
            ).fetchall()
            candidates = [(int(name.split("-")[1]), nxt) for _id, name, nxt in rows]
            candidates = [(i, nxt) for i, nxt in candidates if i not in used and i % len(corpus) in eligible]
            # Channels evenly: beyond the burst limit (10 a minute per channel) alerts wait for a digest.
            fewest = min(per_group.values())
            candidates = [(i, nxt) for i, nxt in candidates if per_group[i % len(CHANNELS)] == fewest]
            if candidates:
                i, nxt = rng.choice(candidates)
                per_group[i % len(CHANNELS)] += 1
                used.add(i)
                _post(f"http://127.0.0.1:{port}/_change/{i}")
                generations[i] += 1
                scheduled[(i, generations[i])] = nxt
            time.sleep(gap)
        result.injected = len(scheduled)
        # Wait for every alert (each change is seen within 5 s; allow generous delivery time).
        arrived: dict[tuple[int, int], float] = {}
        stop_at = time.time() + 20.0
        while time.time() < stop_at:
            for m in fake.messages():
                found = _FRESH.search(json.dumps(m))
                if found is None:
                    continue
                key = (int(found.group(1)), 1)  # the first change of each feed (one per feed)
                if key in scheduled and key not in arrived:
                    arrived[key] = _timestamp(m["timestamp"])
            if len(arrived) >= len(scheduled):
                break
            time.sleep(0.25)
        hits1, t1 = _stats(port), time.time()
        result.polls_per_second = (hits1 - hits0) / (t1 - t0)
        result.latencies = [arrived[k] - scheduled[k] for k in scheduled if k in arrived]
        result.missing = len(scheduled) - len(arrived)
        result.missed = sorted(i for i, _g in scheduled if (i, 1) not in arrived)
        result.why = [_what_the_store_knew(reader, i, scheduled[(i, 1)]) for i in result.missed]
        reader.close()
        bot.terminate()
        bot.wait(timeout=30)
        result.usage = mon.stop()
        bot = None
    finally:
        if bot is not None:
            bot.kill()
            bot.wait()
        fake.close()
    return result


def _what_the_store_knew(reader: sqlite3.Connection, i: int, due: float) -> str:
    """A missed change in words: the feed's polls and health, the item's verdict, its alert's status."""
    feed = reader.execute(
        "SELECT id, status, last_fetch_at, next_poll_at, last_error FROM feeds WHERE name = ?",
        [f"feed-{i:05d}"],
    ).fetchone()
    if feed is None:
        return f"feed-{i:05d}: not in the store"
    fid, status, fetched, nxt, error = feed
    said = (
        f"feed-{i:05d} ({status}; change due at +0 s, last fetched {fetched - due:+.1f} s, next poll "
        f"{nxt - due:+.1f} s{'; ' + error if error else ''})"
    )
    item = reader.execute(
        "SELECT id, verdict, reason FROM items WHERE feed_id = ? AND title LIKE ?",
        [fid, f"Fresh story {i}-%"],
    ).fetchone()
    if item is None:
        return said + ": the item was never stored"
    alert = reader.execute(
        "SELECT status, attempts, error, created_at FROM alerts WHERE item_id = ?", [item[0]]
    ).fetchone()
    verdict = f"item {item[1]}{' (' + item[2] + ')' if item[2] else ''}"
    if alert is None:
        return f"{said}: {verdict}, no alert"
    return (
        f"{said}: {verdict}, alert {alert[0]} after {alert[1]} attempt(s), queued {alert[3] - due:+.1f} s"
        + (f" ({alert[2]})" if alert[2] else "")
    )


def _timestamp(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def summary(r: LatencyResult) -> str:
    if not r.latencies:
        return f"no alert arrived ({r.injected} changes injected)"
    p50, p99 = r.quantile(0.5), r.quantile(0.99)
    return f"{p50 * 1000:,.0f} ms / {p99 * 1000:,.0f} ms (max {max(r.latencies) * 1000:,.0f} ms)"
