"""``python -m bench`` — Newshound's performance, measured beside a naive bot, in one table.

Sections (``--only parse,poll`` runs a subset):

- ``parse``: µs per entry over the 200 real feeds — ours on one core and through the two-process pool,
  plain ``feedparser.parse`` — and how many entries agree field by field with the feedparser reference.
- ``store``: N seen items (default 1,000,000) written through ``bot.store``; "is it new?" per item; file size;
  then retention on a store of 100,000 items: prune rate, file size after ``VACUUM``.
- ``poll``: a loopback feed server; the installed ``newshound once`` over the 200 real feeds (first pass,
  then the unchanged cycle; wall time the median of three runs with nothing else sampling the machine,
  CPU and memory from one more run under the /proc monitor) against the naive bot (``bench.naive``:
  sequential aiohttp + feedparser; its own rusage), and the first pass again with every item recent
  enough to alert (nothing kept brief, all matched, alerts printed);
  then our ``App`` over ``--feeds`` feeds (default 2,000, cycled from the 200) on top of the store
  section's database: first pass and a steady-state cycle (80 % 304, 15 % same body with a new ETag, 5 %
  changed), with the event loop's longest stall measured by a probe task. Wall, CPU (every process of
  the bot, workers included) and peak memory (PSS summed over the bot's processes) come from /proc.
- ``latency``: feed change → alert POST on the Discord fake: ``newshound run`` with a Discord token against
  ``tests.fakes.discord_server``, ``--feeds`` feeds polling (on the poll section's store and feed server
  when it ran), changes injected just before their feed's scheduled poll (``bench/latency.py``).
- ``match``: items/s against 10 / 100 / 1,000 / 10,000 keywords (``bench/match.py`` from the rules work).

Targets are printed beside the figures; they are goals, not tests. Every figure is measured in this run,
except where a row says "est." (and says how it was derived).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.corpus import REPO, real_feeds
from bench.procmon import TreeMonitor, Usage
from bench.setup import feed_url, write_keywords

SECTIONS = ("parse", "store", "poll", "latency", "match")
MB = 1024 * 1024
#: Items in the store the retention rows prune (a store of their own).
RETENTION_ITEMS = 100_000
#: Unmonitored runs of `newshound once` per figure (the median is reported).
ONCE_RUNS = 3


@dataclass(slots=True)
class Row:
    section: str
    measure: str
    ours: str
    other: str = ""
    ratio: str = ""
    target: str = ""
    met: str = ""


@dataclass(slots=True)
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *args: str, **kw: str) -> None:
        self.rows.append(Row(*args, **kw))

    def table(self) -> str:
        head = ("section", "measure", "Newshound", "naive / reference", "ratio", "target", "met")
        cells = [head] + [
            (r.section, r.measure, r.ours, r.other, r.ratio, r.target, r.met) for r in self.rows
        ]
        widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
        lines = []
        for n, c in enumerate(cells):
            lines.append("| " + " | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)) + " |")
            if n == 0:
                lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        return "\n".join(lines)


def yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def ratio(slow: float, fast: float) -> str:
    return f"{slow / fast:.1f}×" if fast > 0 else "-"


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Linux {platform.release()}, "
        f"Python {platform.python_version()}, "
        f"{dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}"
    )


# --- parse -----------------------------------------------------------------------------------------


def section_parse(report: Report, args: argparse.Namespace) -> None:
    from bench import parse

    docs = [(f"https://feeds.example/{n}", body, {"content-type": ct}) for n, body, ct in real_feeds()]
    r = parse.run(docs)
    report.add(
        "parse",
        f"µs/entry, {r.feeds} real feeds, {r.entries:,} entries, 1 core",
        f"{r.ours_us:,.0f}",
        f"{r.feedparser_us:,.0f} (feedparser.parse)",
        ratio(r.feedparser_us, r.ours_us),
        "≥ 20×",
        yes(r.feedparser_us / r.ours_us >= 20),
    )
    report.add(
        "parse",
        f"… on a feed's first poll: the {r.brief_entries:,} entries that cannot alert (older than a day) "
        "kept brief",
        f"{r.brief_us:,.0f}",
        f"{r.feedparser_us:,.0f}",
        ratio(r.feedparser_us, r.brief_us),
    )
    report.add(
        "parse",
        "… without the C accelerator (bot/parse/_speedups.c: an install without a C compiler)",
        f"{r.python_us:,.0f}",
        f"{r.feedparser_us:,.0f}",
        ratio(r.feedparser_us, r.python_us),
    )
    report.add(
        "parse",
        "µs/entry through the parse pool (2 processes)",
        f"{r.pool_us:,.0f}",
        f"{r.feedparser_us:,.0f}",
        ratio(r.feedparser_us, r.pool_us),
        "≥ 20×",
        yes(r.feedparser_us / r.pool_us >= 20),
    )
    if r.reference_entries:
        fast_us = r.fast_seconds / r.reference_entries * 1e6
        ref_us = r.reference_seconds / r.reference_entries * 1e6
        report.add(
            "parse",
            f"… on the {r.fast_feeds} feeds the fast path reads, vs feedparser + the same normalisation",
            f"{fast_us:,.0f}",
            f"{ref_us:,.0f} (bot.parse.feedparser_path)",
            ratio(ref_us, fast_us),
        )
    report.add(
        "parse", "parse pool start-up (forkserver + 2 workers)", f"{r.pool_start_seconds * 1000:.0f} ms"
    )
    report.add(
        "parse",
        "entries agreeing with feedparser (title, link, id, published, summary)",
        f"{r.agree / r.compared:.2%} ({r.agree:,}/{r.compared:,})",
        "",
        "",
        "≥ 99 %",
        yes(r.agree / r.compared >= 0.99),
    )
    report.add(
        "parse",
        "… agreeing on every Entry field",
        f"{r.agree_all / r.compared:.2%}",
    )
    report.add(
        "parse",
        "read by the fast path (rest: feedparser fallback)",
        f"{r.fast_feeds}/{r.feeds} feeds, {r.fast_entries:,}/{r.entries:,} entries",
    )


# --- store -----------------------------------------------------------------------------------------


def section_store(report: Report, args: argparse.Namespace, work: Path) -> Path:
    from bench import store

    db = work / "store.db"
    r = store.run(db, items=args.store_items)
    report.add(
        "store", f"insert {r.items:,} seen items (bot.store.record_poll)", f"{r.insert_rate:,.0f} items/s"
    )
    report.add(
        "store",
        "… then index them for /search (Store.index_for_search: the running bot's background job)",
        f"{r.index_rate:,.0f} items/s",
    )
    report.add(
        "store",
        f'"is it new?" with {r.items:,} stored (Store.unseen, {r.lookup_batch} keys a call)',
        f"{r.lookup_us_per_item:.1f} µs/item",
        "",
        "",
        "≤ 50 µs/item",
        yes(r.lookup_us_per_item <= 50),
    )
    report.add(
        "store",
        "… on a later poll, with the stored headline of the seen keys (Store.seen_titles: retitled items)",
        f"{r.titles_us_per_item:.1f} µs/item",
        "",
        "",
        "≤ 50 µs/item",
        yes(r.titles_us_per_item <= 50),
    )
    report.add("store", "database file (incl. full-text index)", f"{r.file_bytes / MB:,.0f} MB")
    # Retention on a store of its own, a tenth the size (pruning the big one takes a minute: the
    # bench's budget), then thrown away.
    small = work / "store-retention.db"
    n = store.run(small, items=min(args.store_items, RETENTION_ITEMS)).items
    p = store.prune_all(small)
    fresh_db(small)
    report.add(
        "store",
        f"retention: prune {p.items:,} of {n:,} items (Store.prune: text and rule details dropped, key kept)",
        f"{p.rate:,.0f} items/s",
    )
    report.add(
        "store",
        "… that database file after VACUUM (`newshound prune --vacuum`)",
        f"{p.bytes_after / MB:,.0f} MB (from {p.bytes_before / MB:,.0f} MB)",
    )
    return db


# --- poll ------------------------------------------------------------------------------------------


class FeedServerProc:
    def __init__(self, feeds: int, hosts: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.feedserver", "--feeds", str(feeds), "--hosts", str(hosts)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "READY":
            raise RuntimeError("feed server did not start")
        self.port = int(line[1])

    def post(self, path: str) -> dict[str, int]:
        import urllib.request

        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method="POST")
        with urllib.request.urlopen(req, timeout=30) as resp:  # loopback only
            data: dict[str, int] = json.loads(resp.read())
            return data

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def _reap_measured(proc: subprocess.Popen[str], mon: TreeMonitor) -> Usage:
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped: /proc still there
    usage = mon.stop()
    proc.wait()
    return usage


def _bot_env(work: Path, keywords: Path, db: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        NEWSHOUND_KEYWORDS=str(keywords),
        NEWSHOUND_DATABASE=str(db),
        NEWSHOUND_ALLOW_PRIVATE_FEEDS="1",
        NEWSHOUND_LOG_LEVEL="WARNING",
    )
    env.pop("DISCORD_TOKEN", None)
    return env


def compile_bytecode() -> str:
    """Byte-compile the bot (and the naive bot) as ``pip install`` does for an installed package, so that
    no timed run compiles source on every start — which an editable install does when
    ``PYTHONDONTWRITEBYTECODE`` is set (it is on this machine's sessions: ~30 ms a start)."""
    import compileall

    import bot

    dirs = [Path(bot.__file__).parent, REPO / "bench"]
    ok = all(compileall.compile_dir(d, quiet=1) for d in dirs)
    state = "written" if ok else "not all writable: some modules compile at every start"
    return (
        f"bytecode of the bot and the naive bot compiled before the timed runs, as an install does ({state})."
    )


def newshound_exe() -> str:
    """The installed ``newshound`` command beside this Python."""
    return shutil.which("newshound", path=str(Path(sys.executable).parent)) or "newshound"


def _once_command(env: dict[str, str]) -> dict[str, Any]:
    """``subprocess`` arguments for one ``newshound once`` in the bench's environment."""
    return {
        "args": [newshound_exe(), "once"],
        "env": env,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.PIPE,
        "text": True,
        "cwd": env["HOME"],
    }


def run_cli_once(env: dict[str, str]) -> tuple[Usage, str]:
    proc = subprocess.Popen(**_once_command(env))
    mon = TreeMonitor(proc.pid).start()
    assert proc.stderr is not None
    err = proc.stderr.read()
    usage = _reap_measured(proc, mon)
    if proc.returncode != 0:
        raise RuntimeError(f"newshound once failed: {err[-2000:]}")
    lines = err.strip().splitlines()
    said = [line for line in lines if line.startswith("polled ")] + lines[-1:]
    return usage, " / ".join(dict.fromkeys(line.strip() for line in said))


def time_cli_once(env: dict[str, str]) -> float:
    """Wall time of one ``newshound once``, process start to exit, with no monitor sharing the cores (a
    /proc sampler is not free on a 2-core machine: this is the figure the held-out check compares)."""
    started = time.perf_counter()
    proc = subprocess.run(**_once_command(env))
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"newshound once failed: {proc.stderr[-2000:]}")
    return wall


def fresh_db(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def run_naive(urls: list[str], work: Path) -> tuple[Usage, dict[str, float]]:
    """The naive bot, one process: wall from the clock, CPU and peak RSS from its own rusage (no monitor)."""
    path = work / "naive-urls.txt"
    path.write_text("\n".join(urls))
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.naive", str(path)], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    assert proc.stdout is not None
    out = json.loads(proc.stdout.read())
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    rss = int(out["peak_rss"])  # its VmHWM (ru_maxrss would count the bench's own pages from before the exec)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Usage(wall, ru.ru_utime + ru.ru_stime, rss, rss, rss, 1), out


def usage_cells(u: Usage) -> str:
    return f"{u.wall:.2f} s wall, {u.cpu:.2f} s CPU, {u.peak_pss / MB:.0f} MB"


def once_cells(wall: float, measured: Usage) -> str:
    return f"{wall:.2f} s wall, {measured.cpu:.2f} s CPU, {measured.peak_pss / MB:.0f} MB"


@dataclass(slots=True)
class Polled:
    """What the poll section leaves for the latency section: its feed server (still serving) and the
    store its passes wrote (every feed polled, the items of the store section below them)."""

    server: FeedServerProc
    db: Path
    env: dict[str, str]
    backdrop: str


def section_poll(
    report: Report, args: argparse.Namespace, work: Path, store_db: Path | None, keep: bool = False
) -> Polled | None:
    home = work / "home"
    home.mkdir(exist_ok=True)
    real = len(list(real_feeds()))
    report.notes.append(compile_bytecode())

    # 1. The held-out check's shape: `newshound once` over the real feeds, first and unchanged cycle —
    # timed in ONCE_RUNS runs with nothing else sampling (each first pass on a new database), then
    # once more under the /proc monitor for CPU and memory.
    server = FeedServerProc(real, 1)
    try:
        kw = write_keywords(work / "k200.yaml", server.port, real, hosts=1)
        db = work / "once200.db"
        env = _bot_env(work, kw, db)
        env["HOME"] = str(home)
        first_walls: list[float] = []
        again_walls: list[float] = []
        for _ in range(ONCE_RUNS):
            fresh_db(db)
            first_walls.append(time_cli_once(env))
            again_walls.append(time_cli_once(env))
        fresh_db(db)
        first, first_line = run_cli_once(env)
        again, again_line = run_cli_once(env)
        # The same feeds with every item recent enough to alert (backfill and max_age longer than their
        # age): nothing is kept brief, everything is matched, the alerts are printed (no Discord token).
        kw_all = write_keywords(
            work / "k200-all.yaml", server.port, real, hosts=1, backfill="36500d", max_age="36500d"
        )
        env_all = _bot_env(work, kw_all, work / "once200-all.db")
        env_all["HOME"] = str(home)
        judged_walls: list[float] = []
        for _ in range(ONCE_RUNS):
            fresh_db(work / "once200-all.db")
            judged_walls.append(time_cli_once(env_all))
        fresh_db(work / "once200-all.db")
        judged, judged_line = run_cli_once(env_all)
        urls = [feed_url(server.port, i, 1) for i in range(real)]
        naive, naive_out = run_naive(urls, work)
    finally:
        server.close()
    first_wall, again_wall = statistics.median(first_walls), statistics.median(again_walls)
    report.add(
        "poll",
        f"`newshound once`, {real} real feeds, first pass (process start to exit; median of {ONCE_RUNS})",
        once_cells(first_wall, first),
        usage_cells(naive),
        ratio(naive.wall, first_wall),
        "≤ 1.4 s, ≥ 20×",
        yes(first_wall <= 1.4 and naive.wall / first_wall >= 20),
    )
    report.add(
        "poll",
        f"`newshound once`, {real} real feeds, unchanged cycle (median of {ONCE_RUNS})",
        once_cells(again_wall, again),
        f"{naive.wall:.2f} s (est.: = its first pass, it has no cache)",
        ratio(naive.wall, again_wall),
    )
    judged_wall = statistics.median(judged_walls)
    report.add(
        "poll",
        f"… first pass when every item is recent enough to alert (all matched; median of {ONCE_RUNS})",
        once_cells(judged_wall, judged),
        f"{naive.wall:.2f} s (its first pass: it judges nothing)",
        ratio(naive.wall, judged_wall),
    )
    report.notes.append(f"`newshound once` with every item judged said: {judged_line!r}.")
    walls = ", ".join(f"{w:.2f}" for w in first_walls), ", ".join(f"{w:.2f}" for w in again_walls)
    report.notes.append(
        f"`newshound once` wall times, unmonitored: first pass {walls[0]} s; unchanged {walls[1]} s. "
        "CPU (every process of the bot) and "
        f"peak PSS come from one more run of each under the /proc monitor (its wall: first "
        f"{first.wall:.2f} s, unchanged {again.wall:.2f} s). The naive bot's figures are its own rusage "
        "(one process: peak RSS)."
    )
    report.notes.append(f"`newshound once` said: first pass: {first_line!r}; unchanged: {again_line!r}.")
    report.notes.append(
        f"naive bot: {int(naive_out['entries']):,} entries parsed in {naive_out['wall']:.2f} s of polling."
    )

    # 2. Our App over --feeds feeds on top of the store section's 1,000,000 items.
    n = args.feeds
    server = FeedServerProc(n, args.hosts)
    try:
        kw = write_keywords(work / "kN.yaml", server.port, n, hosts=args.hosts)
        db = work / "pollN.db"
        fresh_db(db)
        backdrop = "empty database"
        if store_db is not None and store_db.exists():
            shutil.copy(store_db, db)
            backdrop = f"{args.store_items:,} items already stored"
        env = _bot_env(work, kw, db)
        env["HOME"] = str(home)
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.pollrun"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # the bot's log and admin notices ("gone quiet" …)
            text=True,
            cwd=REPO,
        )
        assert proc.stdin is not None and proc.stdout is not None
        results = []
        for phase in ("first", "steady"):
            if phase == "steady":
                counts = server.post("/_cycle")
                report.notes.append(
                    f"steady cycle over {n:,} feeds: {counts['not_modified']:,} answer 304, "
                    f"{counts['same_body_new_etag']:,} same body with a new ETag, "
                    f"{counts['changed']:,} changed."
                )
            mon = TreeMonitor(proc.pid).start()
            proc.stdin.write("go\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
            usage = mon.stop()
            if not line:
                raise RuntimeError("bench.pollrun died")
            results.append((phase, usage, json.loads(line)))
        proc.stdin.close()
        proc.wait(timeout=60)
    except BaseException:
        server.close()
        raise
    kept = Polled(server, db, env, backdrop) if keep else None
    if not keep:
        server.close()
    (_, u1, r1), (_, u2, r2) = results
    report.notes.append(
        f"the {real} real feeds for `newshound once` come from one loopback address (as in the held-out "
        f"check; the fetcher allows 2 connections per host); the {n:,} feeds of the App passes from "
        f"{args.hosts} loopback addresses, like feeds on different hosts."
    )
    naive_est = naive.wall * n / real
    report.add(
        "poll",
        f"{n:,} feeds, first pass ({backdrop})",
        usage_cells(u1),
        f"{naive_est:.1f} s (est.: naive 200-feed pass × {n / real:g})",
        ratio(naive_est, u1.wall),
    )
    report.add(
        "poll",
        f"{n:,} feeds, steady-state cycle",
        usage_cells(u2),
        f"{naive_est:.1f} s (est., as above)",
        ratio(naive_est, u2.wall),
        "≤ 5 s",
        yes(u2.wall <= 5),
    )
    pss = max(u1.peak_pss, u2.peak_pss)
    rss = max(u1.peak_rss, u2.peak_rss)
    report.add(
        "poll",
        f"peak memory, {n:,} feeds + {backdrop}: PSS of all processes (RSS sum; main alone)",
        f"{pss / MB:.0f} MB ({rss / MB:.0f} MB; {max(u1.main_peak_rss, u2.main_peak_rss) / MB:.0f} MB)",
        "",
        "",
        "≤ 200 MB",
        yes(pss <= 200 * MB),
    )
    stall = max(r1["stall"], r2["stall"])
    report.add(
        "loop",
        "longest event-loop stall during the passes (probe task, 5 ms period)",
        f"{r1['stall'] * 1000:.0f} ms first, {r2['stall'] * 1000:.0f} ms steady",
        "",
        "",
        "≤ 100 ms",
        yes(stall <= 0.1),
    )
    report.notes.append(
        "longest loop stalls, CPU used meanwhile by the loop thread / by the whole bot process: "
        f"first pass {r1['stall_cpu'] * 1000:.0f} / {r1['stall_process_cpu'] * 1000:.0f} ms, steady "
        f"{r2['stall_cpu'] * 1000:.0f} / {r2['stall_process_cpu'] * 1000:.0f} ms (loop CPU near the stall: "
        "the loop was busy; process CPU near it: other threads held the GIL; neither: no core was free)."
    )
    report.notes.append(
        f"{n:,}-feed first pass: {r1['new']:,} new items, {r1['alerts']} alerts, statuses {r1['statuses']}; "
        f"steady: {r2['new']:,} new items, statuses {r2['statuses']}."
    )
    return kept


# --- match / latency ---------------------------------------------------------------------------------


def section_match(report: Report, args: argparse.Namespace) -> None:
    try:
        from bench import match
    except ImportError:
        report.add(
            "match", "items/s at 10 / 100 / 1,000 / 10,000 keywords", "not yet available (bench/match.py)"
        )
        return
    rows = match.run(items=300, seconds=0.2) if args.quick else match.run(items=500, seconds=0.6)
    for r in rows:
        report.add(
            "match",
            f"items/s, {r.keywords:,} keywords ({r.rules:,} rules; compiled in {r.compile_ms:,.0f} ms), "
            "2 KB items, 1 core",
            f"{r.ascii_items_per_s:,.0f} ASCII, {r.accented_items_per_s:,.0f} accented, "
            f"{r.cyrillic_arabic_items_per_s:,.0f} Cyrillic+Arabic",
        )


def section_latency(report: Report, args: argparse.Namespace, work: Path, polled: Polled | None) -> None:
    from bench import latency

    n = args.feeds
    if polled is None:  # run alone: a store that knows every feed first (one `newshound once` pass)
        server = FeedServerProc(n, args.hosts)
        home = work / "home"
        home.mkdir(exist_ok=True)
        env = _bot_env(
            work, write_keywords(work / "kL.yaml", server.port, n, hosts=args.hosts), work / "lat.db"
        )
        env["HOME"] = str(home)
        run_cli_once(env)
        polled = Polled(server, work / "lat.db", env, "empty database")
    try:
        corpus = [body for _name, body, _ctype in real_feeds()]
        r = latency.run(
            port=polled.server.port,
            feeds=n,
            hosts=args.hosts,
            db=polled.db,
            work=work,
            env=polled.env,
            corpus=corpus,
            interval=args.latency_interval,
            changes=args.latency_changes,
        )
    finally:
        polled.server.close()
    p99 = r.quantile(0.99)
    report.add(
        "latency",
        f"feed change → alert POST on the Discord fake beyond the scheduled poll, p50 / p99, {n:,} feeds "
        f"polling every {r.interval:g} s (`newshound run`)",
        latency.summary(r),
        "",
        "",
        "p99 < 1 s beyond the interval",
        yes(bool(r.latencies) and p99 < 1.0 and not r.missing),
    )
    report.notes.append(
        f"latency: {len(r.latencies)} of {r.injected} injected changes alerted"
        + (f" ({r.missing} never arrived: {'; '.join(r.why)})" if r.missing else "")
        + f", each into a feed 2-5 s before its scheduled poll; {r.polls_per_second:,.0f} polls/s meanwhile "
        f"({polled.backdrop}); the bot used {r.usage.cpu:.1f} s CPU over {r.usage.wall:.0f} s, peak "
        f"{r.usage.peak_pss / MB:.0f} MB PSS."
        if r.usage is not None
        else ""
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated subset of {', '.join(SECTIONS)}"
    )
    ap.add_argument("--feeds", type=int, default=2000, help="feeds in the big poll pass (default 2,000)")
    ap.add_argument("--hosts", type=int, default=16, help="loopback addresses the big pass spreads over")
    ap.add_argument("--store-items", type=int, default=1_000_000, help="seen items in the store section")
    ap.add_argument("--quick", action="store_true", help="shorter match timing")
    ap.add_argument("--latency-interval", type=float, default=15.0, help="poll interval in the latency run")
    ap.add_argument(
        "--latency-changes", type=int, default=40, help="feed changes injected in the latency run"
    )
    ap.add_argument("--results", type=Path, default=REPO / "bench" / "RESULTS.md")
    ap.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = ap.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown section(s): {', '.join(sorted(unknown))}")

    report = Report()
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="newshound-bench-") as tmp:
        work = Path(tmp)
        store_db = None
        polled: Polled | None = None
        for section in SECTIONS:
            if section not in only:
                continue
            t0 = time.perf_counter()
            print(f"… {section}", file=sys.stderr, flush=True)
            if section == "parse":
                section_parse(report, args)
            elif section == "store":
                store_db = section_store(report, args, work)
            elif section == "poll":
                polled = section_poll(report, args, work, store_db, keep="latency" in only)
            elif section == "match":
                section_match(report, args)
            elif section == "latency":
                section_latency(report, args, work, polled)
            print(f"  {section}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    total = time.perf_counter() - started
    header = (
        f"Newshound benchmark — {machine()}\nsections: {', '.join(only)}; total run time {total:.0f} s; "
        f"1-minute load average before the run {load_before:.1f} (on an idle machine ~0: higher means "
        "other work was competing for the cores)"
    )
    text = header + "\n\n" + report.table() + "\n" + "".join(f"\n- {n}" for n in report.notes) + "\n"
    print(text)
    if not args.no_write and set(only) == set(SECTIONS):
        args.results.write_text(
            "# Benchmark results\n\nThe latest `python -m bench` run (re-run it to refresh this file).\n\n"
            "```\n" + text + "```\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
