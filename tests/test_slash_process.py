"""``newshound run`` as a user runs it — a real process — with slash commands against the fake Discord:
the commands are registered at start-up, an admin adds a rule from Discord, and the rule fires on the next
poll without a restart."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

from tests.conftest import ADMIN, ALERTS, write_rules
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_host import FeedHost, rss
from tests.fakes.slash_rig import SUB, items, now
from tests.test_cli import NEWSHOUND, env_for


async def until(predicate: Callable[[], bool], within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - the condition is in the fake: poll it
            await asyncio.sleep(0.02)


async def test_run_registers_commands_and_a_rule_added_from_discord_fires_without_a_restart(
    fake_discord: FakeDiscord, feed_host: FeedHost, tmp_path: Path
) -> None:
    feed_host.set("/wire.xml", rss(items(2), title="Levant Wire"))
    write_rules(
        tmp_path / "keywords.yaml",
        f"""
        # The desk's rules.
        version: 1
        defaults:
          channel: "{ALERTS}"   # everything goes here
          interval: 1s
        feeds:
          - name: wire
            url: {feed_host.url("/wire.xml")}
        rules:
          - name: bases
            keywords: [Tartus]
        """,
    )
    env = env_for(
        tmp_path,
        DISCORD_TOKEN=fake_discord.token,
        DISCORD_API_BASE=fake_discord.api_base,
        DISCORD_GATEWAY_URL=fake_discord.gateway_url,
        NEWSHOUND_ADMIN_CHANNEL=ADMIN,
    )
    proc = await asyncio.create_subprocess_exec(
        NEWSHOUND,
        "run",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await until(lambda: bool(fake_discord.commands.get(None)) and bool(fake_discord.connected_sessions))
        assert {c["name"] for c in fake_discord.commands[None]} >= {"rule", "feed", "search", "why", "audit"}
        await until(lambda: len(fake_discord.channel_messages(ALERTS)) >= 2)  # the wire's Tartus items

        # The owner (Manage Server) adds a rule from Discord.
        payload = fake_discord.command_interaction(
            "rule",
            [
                {
                    "name": "add",
                    "type": SUB,
                    "options": [
                        {"name": "name", "type": 3, "value": "ships"},
                        {"name": "keywords", "type": 3, "value": "corvette"},
                    ],
                }
            ],
            channel_id=ALERTS,
        )
        interaction = await fake_discord.send_interaction(payload)
        await until(lambda: any("edit_original" not in f for f in interaction.followups))
        assert interaction.callback["type"] == 5 and interaction.callback["data"]["flags"] == 64
        assert interaction.followups[-1]["embeds"][0]["title"] == "Rule ships added"
        assert "  - name: ships\n    keywords: [corvette]\n" in (tmp_path / "keywords.yaml").read_text()

        # A poll already under way when the rule was added judges what it fetches by the rules it started
        # with; two more fetches of the feed mean every later poll started after the edit.
        seen = feed_host.hits("/wire.xml")
        await until(lambda: feed_host.hits("/wire.xml") >= seen + 2)
        # The next poll (interval 1s) alerts through the new rule.
        feed_host.set(
            "/wire.xml",
            rss(
                [
                    {"title": "A corvette sails south", "link": "https://n.example/c", "published": now()},
                    *items(2),
                ],
                title="Levant Wire",
            ),
        )
        await until(
            lambda: any(
                m["type"] == 0 and "corvette" in m["embeds"][0].get("title", "")
                for m in fake_discord.channel_messages(ALERTS)
            )
        )
        assert any(
            "ran /rule add on ships" in m["embeds"][0].get("description", "").replace("\\", "")
            for m in fake_discord.channel_messages(ADMIN)
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()[-3000:]
