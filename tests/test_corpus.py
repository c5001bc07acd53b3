"""The robustness corpus through the real path: a local HTTP server → fetch → parse (worker processes) →
store → match → deliver, for every document at once, as one ``newshound once`` over thousands of feeds.

Always: every one of feedparser's 2,248 test documents (``tests/data/feedparser-tests``; ``http/`` files
carry the headers to send) and a slice of the real feeds (``tests/data/corpus``), with their licences.
When ``shared/corpus`` sits beside the checkout (or ``NEWSHOUND_SHARED`` points at the folder holding it):
all 200 real feeds (``shared/corpus/real-feeds``, 44 MB, not committed) too.

Zero crashes, zero unhandled exceptions: every feed ends ``ok`` or with an error in words, nothing is
logged as an internal error, and no parser process dies. Memory stays bounded: the peak resident memory of
this process and of each parse worker is checked.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.app import App
from bot.config import Settings
from tests.conftest import CHANNEL, write_rules
from tests.fakes.corpus_host import CorpusHost

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = (ROOT / "tests" / "data" / "feedparser-tests", ROOT / "tests" / "data" / "corpus")
_CANDIDATES = (ROOT.parent / "shared", ROOT.parent.parent / "shared")
SHARED = Path(
    os.environ.get("NEWSHOUND_SHARED") or next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])
)
LINUX = Path("/proc/self/status").exists()
NOT_FEEDS = {"LICENSE", "LICENSE-feedparser", "LICENSE-real-feeds", "SOURCE.txt", "INDEX.tsv", "README.md"}
PEAK_MB = 800  # per process (measured ~180 MB here, workers ~110 MB); an unguarded parse can take gigabytes


def corpus_files() -> list[Path]:
    roots = list(COMMITTED)
    if (SHARED / "corpus" / "real-feeds").is_dir():
        roots.append(SHARED / "corpus" / "real-feeds")
    return [p for root in roots for p in sorted(root.rglob("*")) if p.is_file() and p.name not in NOT_FEEDS]


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident memory of a process (Linux ``VmHWM``), in MB; 0 when it cannot be read."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    m = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(m.group(1)) / 1024 if m else 0.0


def child_pids(pid: int | str = "self") -> list[int]:
    """Every descendant of a process: parse workers are children of the forkserver, itself our child."""
    pids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = [int(p) for p in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
        for kid in kids:
            pids += [kid, *child_pids(kid)]
    return pids


def test_the_committed_corpus_is_in_the_checkout_with_its_licences() -> None:
    feedparser_tests, real_slice = COMMITTED
    assert {"LICENSE", "SOURCE.txt"} <= {p.name for p in feedparser_tests.iterdir()}
    assert sum(1 for p in feedparser_tests.rglob("*") if p.is_file() and p.name not in NOT_FEEDS) == 2248
    assert {"LICENSE-real-feeds", "SOURCE.txt"} <= {p.name for p in real_slice.iterdir()}
    assert sum(1 for p in (real_slice / "real-feeds").iterdir()) == 6


async def test_every_corpus_document_goes_through_the_real_path(
    settings: Settings, make_app: Callable[..., App], caplog: pytest.LogCaptureFixture
) -> None:
    files = corpus_files()
    host = CorpusHost(ports=16)
    await host.start()
    try:
        urls = {f"c{i:04d}": host.add(path) for i, path in enumerate(files)}
        lines = ["version: 1", "defaults:", f'  channel: "{CHANNEL}"', "  interval: 1h", "feeds:"]
        lines += [f"  - {{name: {name}, url: '{url}'}}" for name, url in urls.items()]
        lines += ["rules:", "  - name: bases", "    keywords: [Syria, Russia*, Tartus, Khmeimim, example]"]
        write_rules(settings.keywords, "\n".join(lines) + "\n")
        app = make_app()
        caplog.set_level(logging.WARNING)
        try:
            await app.start()
            summary = await app.once()
            states = {f.name: f for f in await app.store.run(lambda s: s.feeds())}
            workers = [peak_rss_mb(pid) for pid in child_pids()]
        finally:
            await app.close()
    finally:
        await host.stop()

    by_name = {name: path for name, path in zip(urls, files, strict=True)}
    assert len(summary.polls) == len(files)
    crashed = [
        (by_name[p.feed].name, p.error)
        for p in summary.polls
        if p.status == "error"
        and any(w in (p.error or "") for w in ("internal error", "parser failed", "parser process died"))
    ]
    assert crashed == []
    assert {p.status for p in summary.polls} <= {"ok", "error"}
    for p in summary.polls:
        state = states[p.feed]
        if p.status == "error":
            assert state.last_error and state.last_error == p.error, by_name[p.feed]
        else:
            assert state.status == "ok" and state.last_error is None
    unhandled = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert unhandled == [], [r.getMessage() for r in unhandled[:5]]

    # The real feeds are read (all but the one that is an error page, not a feed), and matching ran over them.
    real = [p for p in summary.polls if by_name[p.feed].parent.name == "real-feeds"]
    unread = {by_name[p.feed].name for p in real if p.status != "ok"}
    assert unread <= {"7ef13a42fa7e177a"}, unread
    assert sum(p.new_items for p in real) > (5000 if len(real) > 100 else 50)
    assert summary.delivery.failed == 0

    if LINUX:
        assert 0 < peak_rss_mb() < PEAK_MB
        assert workers and all(w < PEAK_MB for w in workers), workers
