"""Hot reload: edits take effect without a restart; a broken edit is rejected and the old rules stay."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.match import Matcher
from bot.model import Entry
from bot.rules.load import RulesError
from bot.rules.reload import RulesWatcher
from tests.conftest import CHANNEL, write_rules
from tests.fakes.feed_host import FeedHost, rss
from tests.test_cli import NEWSHOUND, env_for, news

GOOD = f"""
version: 1
defaults:
  channel: "{CHANNEL}"
rules:
  - name: bases
    keywords: [Tartus]
"""


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fires(matcher: Matcher | None, text: str) -> bool:
    assert matcher is not None
    return any(o.fired for o in matcher.match(Entry(key="k", title=text)))


def test_an_edit_is_picked_up_and_a_broken_one_rejected_once(tmp_path: Path) -> None:
    path = write_rules(tmp_path / "keywords.yaml", GOOD)
    clock = Clock()
    watcher = RulesWatcher(path, Matcher, clock=clock)
    config, _ = watcher.load()
    assert config.rules[0].keywords == ("Tartus",)
    assert watcher.check() is None  # nothing changed

    write_rules(path, GOOD.replace("[Tartus]", "[Tartus, Latakia]"))
    result = watcher.check()
    assert result is not None and result.status == "reloaded"
    assert fires(result.compiled, "Latakia port") and fires(watcher.compiled, "Latakia port")
    assert "rules reloaded — 0 feed(s), 1 rule(s)" in result.message()

    write_rules(path, GOOD.replace("keywords: [Tartus]", "keywords: [Tartus\n    severity: urgent"))
    result = watcher.check()
    assert result is not None and result.status == "rejected"
    assert result.problems and str(result.problems[0]).startswith(f"{path}:")
    assert "the last good rules stay in force" in result.message()
    assert fires(watcher.compiled, "Latakia port")  # the last good rules
    clock.now += 60
    assert watcher.check() is None  # the same broken content is reported once

    write_rules(
        path, GOOD.replace("severity: normal", "").replace("[Tartus]", "[Tartus]\n    severity: urgent")
    )
    result = watcher.check()
    assert result is not None and result.status == "rejected"  # a different mistake is news again
    assert "severity must be one of" in result.message()

    write_rules(path, GOOD)
    result = watcher.check()
    assert result is not None and result.status == "reloaded"
    assert not fires(watcher.compiled, "Latakia port")

    # Broken, then put back as it was: nothing to reload, but the rejection reported is over — said once.
    write_rules(path, GOOD.replace("keywords: [Tartus]", "keywords: [Tartus"))
    result = watcher.check()
    assert result is not None and result.status == "rejected"
    write_rules(path, GOOD)
    clock.now += 60
    result = watcher.check()
    assert result is not None and result.status == "restored"
    assert result.message() == f"{path} is valid again: it holds the rules in force, which are unchanged"
    clock.now += 60
    assert watcher.check() is None


def test_a_missing_file_keeps_the_rules(tmp_path: Path) -> None:
    path = write_rules(tmp_path / "keywords.yaml", GOOD)
    watcher = RulesWatcher(path, Matcher)
    watcher.load()
    path.unlink()
    result = watcher.check()
    assert result is not None and result.status == "rejected"
    assert "file not found" in result.message()
    assert watcher.check() is None
    assert fires(watcher.compiled, "Tartus")


def test_an_edit_with_the_same_size_and_time_is_seen_on_recheck(tmp_path: Path) -> None:
    path = write_rules(tmp_path / "keywords.yaml", GOOD)
    clock = Clock()
    watcher = RulesWatcher(path, Matcher, recheck=5.0, clock=clock)
    watcher.load()
    assert watcher.check() is None
    st = path.stat()
    path.write_text(path.read_text().replace("Tartus", "Hmeimi"), encoding="utf-8")  # same length
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    clock.now += 1
    assert watcher.check() is None  # looks unchanged and was read a moment ago
    clock.now += 5
    result = watcher.check()
    assert result is not None and result.status == "reloaded"


def test_first_load_of_a_broken_file_raises(tmp_path: Path) -> None:
    path = write_rules(tmp_path / "keywords.yaml", "version: 3\n")
    with pytest.raises(RulesError):
        RulesWatcher(path, Matcher).load()


class Lines:
    """Collects a subprocess stream; ``until`` waits for some text to appear."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.text = ""
        self.changed = asyncio.Event()
        self.task = asyncio.create_task(self._read(stream))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(4096):
            self.text += chunk.decode()
            self.changed.set()

    async def until(self, check: Callable[[str], bool], limit: float = 20) -> None:
        async with asyncio.timeout(limit):
            while True:
                self.changed.clear()
                if check(self.text):
                    return
                await self.changed.wait()


async def test_running_bot_picks_up_edits_and_keeps_old_rules_on_a_broken_edit(
    feed_host: FeedHost, tmp_path: Path
) -> None:
    rules = tmp_path / "keywords.yaml"

    def write(keywords: str) -> None:
        write_rules(
            rules,
            f"""
            version: 1
            defaults:
              channel: "{CHANNEL}"
              interval: 1s
            feeds:
              - name: wire
                url: {feed_host.url("/f.xml")}
            rules:
              - name: bases
                keywords: {keywords}
            """,
        )

    items = [news(1, "Russian ships at Tartus")]
    feed_host.set("/f.xml", rss(items))
    write("[Tartus]")
    proc = await asyncio.create_subprocess_exec(
        NEWSHOUND,
        "run",
        env=env_for(tmp_path),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    out, err = Lines(proc.stdout), Lines(proc.stderr)
    try:
        await out.until(lambda t: "Russian ships at Tartus" in t)

        # An edit takes effect without a restart (the file is looked at every second).
        write("[Tartus, Latakia]")
        await err.until(lambda t: "rules reloaded" in t)
        items.insert(0, news(2, "Navy visits Latakia"))
        feed_host.set("/f.xml", rss(items))
        await out.until(lambda t: "Navy visits Latakia" in t)

        # A broken edit is rejected, reported with its line, and the last good rules stay.
        rules.write_text(rules.read_text().replace("[Tartus, Latakia]", "[Tartus, Latakia"), encoding="utf-8")
        await err.until(lambda t: "edit rejected" in t)
        assert f"{rules}:" in err.text
        items.insert(0, news(3, "Latakia and Tartus again"))
        feed_host.set("/f.xml", rss(items))
        await out.until(lambda t: "Latakia and Tartus again" in t)
        # Logged once, and sent once to the admin channel (the console sink prints it to stderr).
        assert err.text.count("ERROR   bot.rules.reload: keywords.yaml edit rejected") == 1
        assert err.text.count("[admin] keywords.yaml edit rejected") == 1
        # Mended back to the rules in force: nothing to reload, and the admin channel hears it is over.
        write("[Tartus, Latakia]")
        await err.until(lambda t: f"[admin] {rules} is valid again" in t)  # logged first, then sent
        await asyncio.sleep(1.5)  # the file is looked at every second: said once, not again
        assert err.text.count(f"[admin] {rules} is valid again") == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 15)
        await asyncio.gather(out.task, err.task)
    assert proc.returncode == 0, err.text
