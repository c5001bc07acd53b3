"""A running Newshound with slash commands, against the fake Discord: the real ``App`` (store, rules, poller,
delivery worker) and the real Discord runtime (discord.py client, sinks) with the commands installed — the
same wiring as ``newshound run``. Interactions are sent as INTERACTION_CREATE over the fake gateway, as a
Discord client would make Discord send them, and the bot's answers are read back from the fake."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import App
from bot.config import Settings
from bot.deliver.discord.runtime import DiscordRuntime
from bot.deliver.discord.slash import SlashCommands, install
from tests.conftest import ADMIN, ALERTS, OTHER, make_settings, write_rules
from tests.fakes.discord_server import FakeDiscord, FakeInteraction
from tests.fakes.feed_host import FeedHost, rss

# -- the Syria desk: a keywords.yaml with comments, a wire feed, a broken feed, members ------------

ADMIN_USER = 500000000000000001
MEMBER = 500000000000000002
OTHER_MEMBER = 500000000000000003
ADMIN_ROLE = 400000000000000010

KEYWORDS = f"""
# Newshound rules for the Syria desk.
version: 1

defaults:
  channel: "{ALERTS}"   # the desk's channel
  interval: 10m

feeds:
  # The wire we pay for.
  - name: levant-wire
    url: {{wire}}
    tags: [syria]

  - name: broken
    url: {{broken}}

rules:
  # Both bases, every spelling.
  - name: bases
    description: Russia's bases at Tartus and Khmeimim
    keywords: [Tartus, Tartous, Khmeimim]
    exclude: [festival]     # the summer festival is noise
    severity: high

  - name: ports
    keywords: [Latakia, Baniyas]
    channel: "{OTHER}"
"""


def now() -> datetime:
    return datetime.now(UTC)


def items(n: int, word: str = "Tartus", age: int = 10) -> list[dict[str, object]]:
    return [
        {
            "title": f"Report {i}: ships seen at {word}",
            "link": f"https://news.example/{word.lower()}/{i}",
            "guid": f"urn:{word}:{i}",
            "description": f"Day {i} of observations near {word}.",
            "published": now() - timedelta(minutes=age + i),
        }
        for i in range(n)
    ]


@contextlib.asynccontextmanager
async def desk_rig(
    fake: FakeDiscord, feed_host: FeedHost, tmp_path: Path, *, start: dict[str, Any] | None = None, **env: Any
) -> AsyncIterator[SlashRig]:
    """The desk, running: alice (admin role), bob and carol (plain members), 14 items on the wire.
    ``start``: keyword arguments for ``start_rig``; ``env``: settings."""
    fake.add_role(ADMIN_ROLE, name="newshound-admins")
    fake.add_member(ADMIN_USER, name="alice", roles=[ADMIN_ROLE])
    fake.add_member(MEMBER, name="bob")
    fake.add_member(OTHER_MEMBER, name="carol")
    feed_host.set("/wire.xml", rss(items(12) + items(2, "festival Tartus", age=100), title="Levant Wire"))
    feed_host.set("/broken.xml", "<html>gone</html>", status=503)
    write_rules(
        tmp_path / "keywords.yaml",
        KEYWORDS.format(wire=feed_host.url("/wire.xml"), broken=feed_host.url("/broken.xml")),
    )
    values: dict[str, Any] = {
        "DISCORD_TOKEN": fake.token,
        "DISCORD_API_BASE": fake.api_base,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        "NEWSHOUND_ADMIN_CHANNEL": ADMIN,
        "NEWSHOUND_ADMIN_ROLE": str(ADMIN_ROLE),
    }
    values.update(env)
    settings = make_settings(tmp_path, **{k: v for k, v in values.items() if v is not None})
    rig = await start_rig(fake, settings, **(start or {}))
    try:
        yield rig
    finally:
        await stop_rig(rig)


#: Option types (https://discord.com/developers/docs/interactions/application-commands)
SUB, STRING, INTEGER, CHANNEL, ROLE = 1, 3, 4, 7, 8
TYPES: dict[str, int] = {
    "days": INTEGER,
    "count": INTEGER,
    "channel": CHANNEL,
    "mention": ROLE,
}


def options(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": k, "type": TYPES.get(k, STRING), "value": v} for k, v in values.items() if v is not None]


@dataclass
class Answer:
    """What the bot answered one interaction: the callback and, after a deferral, the edited original."""

    interaction: FakeInteraction
    requests: list[Any] = field(default_factory=list)

    @property
    def type(self) -> int:
        return int(self.interaction.callback["type"])

    @property
    def deferred(self) -> bool:
        return self.type == 5

    @property
    def data(self) -> dict[str, Any]:
        """The message the user sees (the callback's, or the deferred one's final edit)."""
        if self.deferred:
            edits = [f["edit_original"] for f in self.interaction.followups if "edit_original" in f]
            plain = [f for f in self.interaction.followups if "edit_original" not in f and "edit" not in f]
            assert edits or plain, "the deferred interaction was never completed"
            return edits[-1] if edits else plain[-1]
        return dict(self.interaction.callback.get("data") or {})

    @property
    def ephemeral(self) -> bool:
        flags = (
            self.interaction.callback.get("data", {}).get("flags", 0)
            if self.deferred
            else self.data.get("flags", 0)
        )
        return bool(int(flags or 0) & 64)

    @property
    def text(self) -> str:
        """Content + every embed's text, for assertions."""
        d = self.data
        parts = [d.get("content") or ""]
        for e in d.get("embeds") or []:
            parts += [e.get("title", ""), e.get("description", "")]
            parts += [f"{f['name']}: {f['value']}" for f in e.get("fields", [])]
            parts.append((e.get("footer") or {}).get("text", ""))
        return "\n".join(p for p in parts if p)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [c for row in self.data.get("components") or [] for c in row.get("components", [])]

    @property
    def files(self) -> list[tuple[str, bytes]]:
        """Files uploaded with the answer (with the callback, or with the deferred edit)."""
        out = list(self.interaction.callback.get("files", []))
        for rec in self.requests:
            out += rec.files
        return out


@dataclass
class SlashRig:
    fake: FakeDiscord
    settings: Settings
    app: App
    runtime: DiscordRuntime
    slash: SlashCommands
    closed: bool = False

    @property
    def keywords(self) -> Path:
        return self.settings.keywords

    async def ask(
        self,
        command: str,
        values: dict[str, Any] | None = None,
        *,
        user: int | None = None,
        kind: int = 2,
        focused: str | None = None,
        resolved: dict[str, Any] | None = None,
    ) -> Answer:
        """Sends ``/command`` (``"rule add"`` for a subcommand) with ``values`` as ``user`` and waits for
        the answer (and, when the bot defers, for the deferred message to be completed)."""
        names = command.split()
        opts = options(values or {})
        if focused is not None:
            for o in opts:
                if o["name"] == focused:
                    o["focused"] = True
        if len(names) == 2:
            opts = [{"name": names[1], "type": SUB, "options": opts}]
        payload = self.fake.command_interaction(names[0], opts, user_id=user, kind=kind)
        if resolved:
            payload["data"]["resolved"] = resolved
        return await self.send(payload)

    async def click(self, answer: Answer, label: str, *, user: int | None = None) -> Answer:
        """Clicks the button labelled ``label…`` on the message ``answer`` shows."""
        button = next(b for b in answer.buttons if b["label"].startswith(label))
        assert not button.get("disabled"), f"button {label!r} is disabled"
        base = self.fake.command_interaction("x", user_id=user)
        original = answer.interaction.original or {}
        message = dict(original)
        message.update(
            {k: v for k, v in answer.data.items() if k in ("content", "embeds", "components", "flags")}
        )
        message.setdefault("id", str(self.fake.next_id()))
        message.setdefault("channel_id", base["channel_id"])
        message.setdefault("author", self.fake.bot.to_json())
        message.setdefault("timestamp", "2026-01-01T00:00:00+00:00")
        message.setdefault("content", "")
        message.setdefault("attachments", [])
        message.setdefault("embeds", [])
        message.setdefault("mentions", [])
        message.setdefault("mention_roles", [])
        message.setdefault("pinned", False)
        message.setdefault("mention_everyone", False)
        message.setdefault("tts", False)
        message.setdefault("type", 20)
        payload = {
            **base,
            "type": 3,
            "token": secrets.token_urlsafe(64),
            "message": message,
            "data": {"custom_id": button["custom_id"], "component_type": 2},
        }
        return await self.send(payload)

    async def send(self, payload: dict[str, Any]) -> Answer:
        start = len(self.fake.requests)
        interaction = await self.fake.send_interaction(payload)
        async with asyncio.timeout(15):
            await interaction.answered.wait()
            if interaction.callback["type"] == 5:
                while not any("edit_original" in f or "edit" not in f for f in interaction.followups):
                    interaction.followed_up.clear()
                    await interaction.followed_up.wait()
        token = payload["token"]
        requests = [
            r for r in self.fake.requests[start:] if token in r.path and r.method in ("PATCH", "POST")
        ]
        return Answer(interaction, requests)

    async def poll(self) -> None:
        """One poll of every feed, then delivery of everything due (as the scheduler and worker do)."""
        await self.app.once()

    def audit(self) -> list[dict[str, Any]]:
        return self.app.store.run_sync(lambda s: s.recent_audit(50))


async def start_rig(
    fake: FakeDiscord,
    settings: Settings,
    *,
    before_start: Callable[[DiscordRuntime], None] | None = None,
    **install_kw: Any,
) -> SlashRig:
    runtime = DiscordRuntime(
        token=fake.token,
        api_base=fake.api_base,
        gateway_url=fake.gateway_url,
        admin_channel=settings.admin_channel,
        send_timeout=5.0,
        guild_ready_timeout=0.05,
        reidentify_delay=0.0,
    )
    app = App(settings, sink=runtime.sink)
    await app.start()
    assert runtime.client is not None
    slash = install(runtime.client, app.command_services(), admin_role=settings.admin_role, **install_kw)
    synced = len(fake.requests_to("PUT", "/applications/"))
    if before_start is not None:
        before_start(runtime)
    await runtime.start()
    assert await runtime.wait_ready(15), "the bot never got READY"
    async with asyncio.timeout(15):
        while install_kw.get("sync", True) and len(fake.requests_to("PUT", "/applications/")) == synced:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    return SlashRig(fake, settings, app, runtime, slash)


async def stop_rig(rig: SlashRig) -> None:
    if rig.closed:
        return
    rig.closed = True
    await rig.runtime.close()
    await rig.app.close()


def messages(fake: FakeDiscord, channel: str) -> list[dict[str, Any]]:
    return list(fake.channel_messages(channel))


def dump(answer: Answer) -> str:
    return json.dumps(answer.data, indent=1, ensure_ascii=False)


Predicate = Callable[[], bool]
