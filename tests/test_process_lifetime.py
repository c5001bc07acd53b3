"""The parse pool's processes die with the bot: after ``kill -9`` of ``newshound run`` its forkserver, parse
workers and resource tracker must not live on (re-parented to init, holding the dead bot's stdout and
stderr open)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import write_rules
from tests.fakes.feed_host import FeedHost, rss
from tests.test_cli import NEWSHOUND, NOW, env_for

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")


def descendants(pid: int) -> dict[int, str]:
    """Every descendant of ``pid`` with its command line."""
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{p}/task"):
                with contextlib.suppress(OSError, ValueError):
                    kids = [int(k) for k in Path(f"/proc/{p}/task/{task}/children").read_text().split()]
                    for k in kids:
                        with contextlib.suppress(OSError):
                            found[k] = Path(f"/proc/{k}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                    todo.extend(kids)
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper has died)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


async def test_kill_9_of_run_takes_the_parse_pool_with_it(feed_host: FeedHost, tmp_path: Path) -> None:
    feed_host.set(
        "/wire.xml", rss([{"title": "Ships", "link": "https://e.org/1", "guid": "1", "published": NOW}])
    )
    write_rules(
        tmp_path / "keywords.yaml",
        f"""
        version: 1
        defaults:
          channel: "123456789012345678"
          interval: 1s
        feeds:
          - name: wire
            url: {feed_host.url("/wire.xml")}
        rules:
          - name: ships
            keywords: [Ships]
        """,
    )
    # Popen, not asyncio's subprocess: its wait() would also wait for the pipes the orphans hold open.
    proc = subprocess.Popen(  # noqa: ASYNC220
        [NEWSHOUND, "run"],
        env=env_for(tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    pool: dict[int, str] = {}
    try:
        async with asyncio.timeout(30):
            while True:  # the first poll starts the forkserver and its workers
                pool = descendants(proc.pid)
                forkservers = [p for p, cmd in pool.items() if "multiprocessing.forkserver" in cmd]
                if forkservers and descendants(forkservers[0]):
                    break
                await asyncio.sleep(0.05)
        pool = descendants(proc.pid)  # forkserver, workers, resource tracker
        assert len(pool) >= 3, pool
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 5
    while any(alive(p) for p in pool) and time.monotonic() < deadline:  # noqa: ASYNC110 - /proc: poll it
        await asyncio.sleep(0.05)
    survivors = [cmd for p, cmd in pool.items() if alive(p)]
    for p in pool:  # leave nothing behind, whatever the outcome
        with contextlib.suppress(OSError):
            os.kill(p, signal.SIGKILL)
    assert not survivors
    assert proc.stdout is not None and proc.stderr is not None
    for pipe in (proc.stdout, proc.stderr):  # nobody holds the dead bot's output open any more
        os.set_blocking(pipe.fileno(), False)
        while (data := pipe.read()) != b"":  # b"": end of file; None: open, nothing to read
            assert data is not None, "the dead bot's output is still held open"
