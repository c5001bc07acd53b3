"""The fake Discord answers like Discord where discord.py cares (so the other tests mean something)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import aiohttp
import discord
import pytest

from tests.conftest import ALERTS, OTHER
from tests.fakes.discord_server import SEND_MESSAGES, FakeDiscord, validate_message

ROOT = Path(__file__).resolve().parent.parent


async def post(
    fake: FakeDiscord, path: str, body: object, token: str | None = None
) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as session:
        resp = await session.post(
            f"{fake.api_base}{path}", json=body, headers={"Authorization": f"Bot {token or fake.token}"}
        )
        await resp.read()
        return resp


async def test_json_answers_have_the_exact_content_type(fake_discord: FakeDiscord) -> None:
    resp = await post(fake_discord, f"/channels/{ALERTS}/messages", {"content": "hi"})
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.headers["X-RateLimit-Remaining"] and resp.headers["X-RateLimit-Reset-After"]


async def test_errors_are_dicts_and_429_has_via_and_retry_after(fake_discord: FakeDiscord) -> None:
    fake_discord.rate_limit(channel=ALERTS, retry_after=2.5)
    resp = await post(fake_discord, f"/channels/{ALERTS}/messages", {"content": "hi"})
    assert resp.status == 429
    assert resp.headers["Via"]
    assert resp.headers["X-RateLimit-Remaining"] == "0"
    assert float(resp.headers["X-RateLimit-Reset-After"]) == 2.5
    body = json.loads(await resp.text())
    assert body["retry_after"] == 2.5 and body["global"] is False
    resp = await post(fake_discord, "/channels/999999999999999999/messages", {"content": "hi"})
    assert resp.status == 404
    assert json.loads(await resp.text()) == {"code": 10003, "message": "Unknown Channel"}
    resp = await post(fake_discord, f"/channels/{ALERTS}/messages", {"content": "hi"}, token="wrong")
    assert resp.status == 401


async def test_limits_are_enforced_like_discord(fake_discord: FakeDiscord) -> None:
    too_long = {"content": "x" * 2001}
    resp = await post(fake_discord, f"/channels/{ALERTS}/messages", too_long)
    body = json.loads(await resp.text())
    assert resp.status == 400 and body["code"] == 50035 and "content" in body["errors"]
    cases = [
        {"embeds": [{"title": "t" * 257}]},
        {"embeds": [{"description": "d" * 4097}]},
        {"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]},
        {"embeds": [{"fields": [{"name": "n" * 257, "value": "v"}]}]},
        {"embeds": [{"fields": [{"name": "n", "value": "v" * 1025}]}]},
        {"embeds": [{"footer": {"text": "f" * 2049}}]},
        {"embeds": [{"author": {"name": "a" * 257}}]},
        {"embeds": [{"description": "d" * 4000, "footer": {"text": "f" * 2001}}]},
        {"embeds": [{"title": "t", "url": "javascript:alert(1)"}]},
        {"content": "x", "allowed_mentions": {"parse": ["roles"], "roles": ["1"]}},
        {"content": "x", "allowed_mentions": {"parse": ["admins"]}},
        {"content": "x", "nonce": "n" * 26},
        {"content": ""},
    ]
    for case in cases:
        resp = await post(fake_discord, f"/channels/{ALERTS}/messages", case)
        assert resp.status == 400, case
    assert fake_discord.channel_messages(ALERTS) == []
    assert len(fake_discord.rejected) == len(cases) + 1


async def test_enforced_nonce_returns_the_original_message(fake_discord: FakeDiscord) -> None:
    first = await post(
        fake_discord, f"/channels/{ALERTS}/messages", {"content": "a", "nonce": "n1", "enforce_nonce": True}
    )
    again = await post(
        fake_discord, f"/channels/{ALERTS}/messages", {"content": "b", "nonce": "n1", "enforce_nonce": True}
    )
    other = await post(
        fake_discord, f"/channels/{OTHER}/messages", {"content": "c", "nonce": "n1", "enforce_nonce": True}
    )
    loose = await post(fake_discord, f"/channels/{ALERTS}/messages", {"content": "d", "nonce": "n1"})
    assert json.loads(await first.text())["id"] == json.loads(await again.text())["id"]
    assert [m["content"] for m in fake_discord.channel_messages(ALERTS)] == ["a", "d"]
    assert [m["content"] for m in fake_discord.channel_messages(OTHER)] == ["c"]
    assert other.status == loose.status == 200


async def test_pings_follow_allowed_mentions_and_permissions(fake_discord: FakeDiscord) -> None:
    role = fake_discord.add_role(400000000000000001, name="analysts")
    fake_discord.add_role(400000000000000002, name="other")
    content = "@everyone <@&400000000000000001> <@&400000000000000002> <@123456789012345678>"
    await post(fake_discord, f"/channels/{ALERTS}/messages", {"content": content})
    await post(
        fake_discord,
        f"/channels/{ALERTS}/messages",
        {"content": content, "allowed_mentions": {"parse": [], "roles": [str(role.id)]}},
    )
    loose, strict = fake_discord.channel_messages(ALERTS)
    # Without allowed_mentions Discord parses everything (the bot lacks Mention Everyone, though).
    assert loose["mention_roles"] == ["400000000000000001", "400000000000000002"]
    assert [u["id"] for u in loose["mentions"]] == ["123456789012345678"]
    assert loose["mention_everyone"] is False
    assert strict["mention_roles"] == ["400000000000000001"]
    assert strict["mentions"] == [] and strict["mention_everyone"] is False


async def test_permissions_give_missing_access_and_missing_permissions(fake_discord: FakeDiscord) -> None:
    fake_discord.set_bot_overwrite(OTHER, deny=SEND_MESSAGES)
    hidden = fake_discord.add_channel(300000000000000005, bot_deny=1 << 10)
    resp = await post(fake_discord, f"/channels/{OTHER}/messages", {"content": "x"})
    assert resp.status == 403 and json.loads(await resp.text())["code"] == 50013
    resp = await post(fake_discord, f"/channels/{hidden.id}/messages", {"content": "x"})
    assert resp.status == 403 and json.loads(await resp.text())["code"] == 50001


async def test_discord_py_sees_the_fakes_errors_as_discord_errors(
    discord_client: discord.Client, fake_discord: FakeDiscord
) -> None:
    channel = discord_client.get_partial_messageable(int(ALERTS))
    fake_discord.fail(channel=ALERTS, status=403, code=50001, message="Missing Access")
    with pytest.raises(discord.Forbidden) as forbidden:
        await channel.send("x")
    assert forbidden.value.code == 50001
    with pytest.raises(discord.HTTPException) as bad:
        await channel.send("x" * 2001)
    assert bad.value.status == 400 and bad.value.code == 50035
    fake_discord.rate_limit(channel=ALERTS, retry_after=0.05)
    message = await channel.send("after a short 429")
    assert fake_discord.channel_messages(ALERTS)[-1]["id"] == str(message.id)


async def test_refused_outage_and_recovery_keep_the_port(fake_discord: FakeDiscord) -> None:
    port = fake_discord.port
    await fake_discord.outage("refuse")
    with pytest.raises(aiohttp.ClientConnectionError):
        await post(fake_discord, f"/channels/{ALERTS}/messages", {"content": "x"})
    await fake_discord.recover()
    resp = await post(fake_discord, f"/channels/{ALERTS}/messages", {"content": "x"})
    assert resp.status == 200 and fake_discord.port == port


def test_validate_message_accepts_a_plain_embed() -> None:
    validate_message(
        {"content": "", "embeds": [{"title": "t", "description": "d", "url": "https://x.example"}]}
    )


async def test_runs_standalone_and_takes_faults_over_http(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.discord_server",
        "--channel",
        ALERTS,
        "--webhook-channel",
        OTHER,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        lines = [(await asyncio.wait_for(proc.stdout.readline(), 20)).decode().strip() for _ in range(4)]
        env = dict(line.split("=", 1) for line in lines[:3])
        assert env["DISCORD_API_BASE"].startswith("http://127.0.0.1:")
        assert env["DISCORD_GATEWAY_URL"].startswith("ws://127.0.0.1:")
        assert lines[3].startswith(f"WEBHOOK {OTHER} http://127.0.0.1:")
        base = env["DISCORD_API_BASE"].rsplit("/api/", 1)[0]
        async with aiohttp.ClientSession() as session:
            r = await session.post(f"{base}/_fake/fault", json={"channel": ALERTS, "status": 503})
            assert r.status == 200
            headers = {"Authorization": f"Bot {env['DISCORD_TOKEN']}"}
            url = f"{env['DISCORD_API_BASE']}/channels/{ALERTS}/messages"
            assert (await session.post(url, json={"content": "x"}, headers=headers)).status == 503
            assert (await session.post(url, json={"content": "x"}, headers=headers)).status == 200
            messages = await (await session.get(f"{base}/_fake/messages")).json()
            assert [m["content"] for m in messages[ALERTS]] == ["x"]
    finally:
        proc.terminate()
        await proc.wait()
