"""End to end, as a user runs it: ``newshound once`` / ``newshound run`` as a separate process, with
DISCORD_TOKEN / DISCORD_API_BASE / DISCORD_GATEWAY_URL pointing at the fake Discord and feeds on a local
server. Alerts must land once each, in the right channels, pinging only the rules' roles — also across an
outage, a rejected token and a ``kill -9`` between a send and its record."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN, ALERTS, OTHER
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_host import FeedHost, rss

ROLE = "400000000000000001"
NOW = datetime.now(UTC)
BASES = [
    "Russia reinforces Tartus naval base",
    "@everyone Tartus port expands <@&400000000000000002>",
    "Tartus: new pier",
]
PORTS = ["Latakia container traffic doubles", "Latakia strike reported"]
HOOKED = ["Hmeimim air base sees heavy traffic"]


def items() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for n, title in enumerate(BASES + PORTS + HOOKED + ["Weather in Paris"]):
        out.append(
            {
                "title": title,
                "link": f"https://news.example/{n}",
                "guid": f"urn:e2e:{n}",
                "description": f"{title}. Reported on Monday. @here <@123456789012345678>",
                "published": NOW - timedelta(minutes=30 + n),
                "source": "Wire Service",
            }
        )
    return out


def setup(tmp_path: Path, fake: FakeDiscord, feeds: FeedHost) -> dict[str, str]:
    fake.add_role(ROLE, name="analysts")
    hook = fake.add_webhook(OTHER)
    feeds.set("/levant.xml", rss(items(), title="Levant Wire"))
    (tmp_path / "keywords.yaml").write_text(
        "\n".join(
            [
                "version: 1",
                "defaults:",
                f'  channel: "{ALERTS}"',
                "  interval: 5m",
                "  backfill: 24h",
                "feeds:",
                "  - name: levant-wire",
                f"    url: {feeds.url('/levant.xml')}",
                "rules:",
                "  - name: bases",
                "    keywords: [Tartus]",
                "    severity: high",
                f'    mention: ["{ROLE}"]',
                "  - name: ports",
                "    keywords: [Latakia]",
                f'    channel: "{OTHER}"',
                "  - name: hooked",
                "    keywords: [Hmeimim]",
                f"    webhook: {hook}",
                "",
            ]
        ),
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "NEWSHOUND_"))}
    env.update(fake.env())
    env.update(
        {
            "NEWSHOUND_DATABASE": str(tmp_path / "newshound.db"),
            "NEWSHOUND_KEYWORDS": str(tmp_path / "keywords.yaml"),
            "NEWSHOUND_ALLOW_PRIVATE_FEEDS": "1",
            "NEWSHOUND_ADMIN_CHANNEL": ADMIN,
            "NEWSHOUND_RETRY_MIN": "0.1",
            "NEWSHOUND_RETRY_MAX": "0.5",
            "NEWSHOUND_SEND_TIMEOUT": "1",
            "NEWSHOUND_LOG_LEVEL": "DEBUG",
        }
    )
    return env


async def newshound(tmp_path: Path, env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    """Starts ``python -m bot ARGS`` in its own process group; its stderr goes to a file (a killed
    process's helpers may keep a pipe open forever)."""
    log = _open_log(tmp_path / f"newshound-{args[0]}.log")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    LOGS[proc.pid] = (log, tmp_path / f"newshound-{args[0]}.log")
    return proc


LOGS: dict[int, tuple[Any, Path]] = {}


def _open_log(path: Path) -> Any:
    return path.open("ab")  # closed by finish()


async def finish(proc: asyncio.subprocess.Process, within: float = 60.0) -> tuple[int, str]:
    """Waits for the process; returns its exit code and what it logged."""
    try:
        async with asyncio.timeout(within):
            await proc.wait()
    finally:
        kill_group(proc)
    log, path = LOGS.pop(proc.pid)
    log.close()
    assert proc.returncode is not None
    return proc.returncode, path.read_text("utf-8", "replace")


def kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL to whatever is left of the process group (the parse pool's helpers, after a kill -9)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def check_everything_landed_once(fake: FakeDiscord) -> None:
    alerts = fake.channel_messages(ALERTS)
    other = fake.channel_messages(OTHER)
    assert len(alerts) == len(BASES), [m["embeds"][0]["title"] for m in alerts]
    assert len({m["embeds"][0]["url"] for m in alerts}) == len(BASES)
    assert len(other) == len(PORTS) + len(HOOKED), [m["embeds"][0]["title"] for m in other]
    assert len({m["embeds"][0]["url"] for m in other}) == len(other)
    assert sum(1 for m in other if m.get("webhook_id")) == len(HOOKED)
    for m in alerts:
        assert m["content"] == f"<@&{ROLE}>"
        assert m["mention_roles"] == [ROLE] and m["mentions"] == [] and m["mention_everyone"] is False
    for m in other:
        assert m["mention_roles"] == [] and m["mentions"] == [] and m["mention_everyone"] is False
    assert fake.rejected == []  # Discord never had to answer 400


async def test_once_delivers_each_alert_once_in_the_right_channel(
    tmp_path: Path, fake_discord: FakeDiscord, feed_host: FeedHost
) -> None:
    env = setup(tmp_path, fake_discord, feed_host)
    code, err = await finish(await newshound(tmp_path, env, "once"))
    assert code == 0, err
    check_everything_landed_once(fake_discord)
    assert fake_discord.identifies and fake_discord.identifies[0]["intents"] == 1
    assert fake_discord.channel_messages(ADMIN) == []  # every channel is usable: nothing to report
    # Secrets never reach the log, even at DEBUG.
    hook_token = next(iter(fake_discord.webhooks.values())).token
    assert fake_discord.token not in err and hook_token not in err
    # A second run finds nothing new.
    code, err = await finish(await newshound(tmp_path, env, "once"))
    assert code == 0, err
    check_everything_landed_once(fake_discord)


async def test_once_with_a_rejected_token_exits_2(
    tmp_path: Path, fake_discord: FakeDiscord, feed_host: FeedHost
) -> None:
    env = setup(tmp_path, fake_discord, feed_host)
    env["DISCORD_TOKEN"] = "not-the-token"
    code, err = await finish(await newshound(tmp_path, env, "once"))
    assert code == 2
    assert "DISCORD_TOKEN was rejected" in err and "not-the-token" not in err
    assert fake_discord.all_messages() == []


async def test_run_exits_2_when_the_token_is_reset_while_it_runs(
    tmp_path: Path, fake_discord: FakeDiscord, feed_host: FeedHost
) -> None:
    env = setup(tmp_path, fake_discord, feed_host)
    proc = await newshound(tmp_path, env, "run")
    try:
        await fake_discord.wait_for_gateway(1, within=30)
        await fake_discord.revoke_token()  # Discord closes the gateway with 4004
    finally:
        code, err = await finish(proc, within=30)
    assert code == 2, err
    assert "newshound: DISCORD_TOKEN was rejected by Discord" in err and "4004" in err
    assert fake_discord.token not in err and env["DISCORD_TOKEN"] not in err


async def test_run_through_an_outage_and_kill_9_loses_and_duplicates_nothing(
    tmp_path: Path, fake_discord: FakeDiscord, feed_host: FeedHost, caplog: pytest.LogCaptureFixture
) -> None:
    env = setup(tmp_path, fake_discord, feed_host)
    # Discord is down when the bot starts: it polls anyway, alerts wait in the outbox.
    await fake_discord.outage("refuse")
    proc = await newshound(tmp_path, env, "run")
    try:
        await asyncio.sleep(1.5)
        assert fake_discord.all_messages() == []
        # Discord comes back, but the first channel message's answer is lost, and the bot is killed
        # right after Discord created it — before it could record it.
        await fake_discord.recover()
        fake_discord.hang(channel=ALERTS, after_create=True)
        await fake_discord.wait_for_messages(1, channel=ALERTS, within=30)
        proc.send_signal(signal.SIGKILL)  # kill -9 of the bot's own process only, as a user would
    finally:
        if proc.returncode is None:
            proc.kill()
        code, _ = await finish(proc)
    # Killed by the signal. (Rarely, in a full run, asyncio's child watcher finds the status already
    # collected and reports 255 with a warning naming the pid: the status is lost, not the bot's.)
    lost = f"Unknown child process pid {proc.pid}, will report returncode 255"
    assert code == -signal.SIGKILL or (code == 255 and lost in caplog.text), code
    fake_discord.release()
    # Restart: everything is delivered, nothing twice; SIGTERM stops it cleanly.
    proc = await newshound(tmp_path, env, "run")
    try:
        await fake_discord.wait_for_messages(len(BASES), channel=ALERTS, within=30)
        await fake_discord.wait_for_messages(len(PORTS) + len(HOOKED), channel=OTHER, within=30)
        await asyncio.sleep(0.5)  # anything duplicated would land now
    finally:
        proc.send_signal(signal.SIGTERM)
        code, err = await finish(proc, within=15)
    assert code == 0, err
    check_everything_landed_once(fake_discord)


async def test_once_while_discord_is_down_keeps_alerts_for_the_next_run(
    tmp_path: Path, fake_discord: FakeDiscord, feed_host: FeedHost
) -> None:
    env = setup(tmp_path, fake_discord, feed_host)
    await fake_discord.outage("refuse")
    code, err = await finish(await newshound(tmp_path, env, "once"))
    assert code == 0, err
    assert "Discord is unreachable; alerts wait in the outbox" in err
    await fake_discord.recover()
    code, err = await finish(await newshound(tmp_path, env, "once"))
    assert code == 0, err
    check_everything_landed_once(fake_discord)


async def test_without_a_token_webhooks_still_deliver_and_channel_alerts_print(
    tmp_path: Path, fake_discord: FakeDiscord, feed_host: FeedHost
) -> None:
    env = setup(tmp_path, fake_discord, feed_host)
    del env["DISCORD_TOKEN"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "once",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        async with asyncio.timeout(60):
            out, err = await proc.communicate()
    finally:
        kill_group(proc)
    assert proc.returncode == 0, err.decode()
    (hooked,) = fake_discord.channel_messages(OTHER)
    assert hooked["webhook_id"] and hooked["embeds"][0]["title"] == HOOKED[0]
    assert fake_discord.channel_messages(ALERTS) == []
    printed = out.decode()
    assert all(title in printed for title in BASES[:1] + PORTS)
    assert not any(r.headers.get("Authorization") for r in fake_discord.requests)
