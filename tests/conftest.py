from __future__ import annotations

import io
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.app import App
from bot.config import Settings
from bot.deliver.console import ConsoleSink
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.feed_host import FeedHost

if TYPE_CHECKING:
    from bot.deliver.discord.client import NewshoundClient
    from bot.store import Store

CHANNEL = "123456789012345678"
OTHER_CHANNEL = "234567890123456789"


@pytest.fixture
async def feed_host() -> AsyncIterator[FeedHost]:
    host = FeedHost()
    await host.start()
    try:
        yield host
    finally:
        await host.stop()


def make_settings(tmp_path: Path, **env: Any) -> Settings:
    values = {
        "NEWSHOUND_DATABASE": str(tmp_path / "newshound.db"),
        "NEWSHOUND_KEYWORDS": str(tmp_path / "keywords.yaml"),
        "NEWSHOUND_ALLOW_PRIVATE_FEEDS": "1",
    }
    values.update({k: str(v) for k, v in env.items()})
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


def write_rules(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


class Captured(ConsoleSink):
    """The real console sink, writing to a buffer the test can read."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        super().__init__(self.buffer)
        self.admin: list[str] = []

    @property
    def text(self) -> str:
        return self.buffer.getvalue()

    async def notify_admin(self, text: str) -> None:
        self.admin.append(text)


@pytest.fixture
def make_app(settings: Settings) -> Callable[..., App]:
    apps: list[App] = []

    def factory(**kw: Any) -> App:
        kw.setdefault("sink", Captured())
        app = App(kw.pop("settings", settings), **kw)
        apps.append(app)
        return app

    return factory


# -- Discord ------------------------------------------------------------------------------------------
# The fake Discord (tests/fakes/discord_server.py) and a real discord.py client connected to it.

ALERTS = "300000000000000001"  # a channel the bot may post in
OTHER = "300000000000000002"  # another one
ADMIN = "300000000000000009"  # NEWSHOUND_ADMIN_CHANNEL


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A started fake Discord with channels ALERTS, OTHER and ADMIN. discord.py's global endpoints are
    restored afterwards."""
    import discord.gateway
    import discord.http

    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    fake = FakeDiscord()
    for cid, name in ((ALERTS, "alerts"), (OTHER, "other"), (ADMIN, "newshound-admin")):
        fake.add_channel(cid, name=name)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
        discord.http.Route.BASE = base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


@pytest.fixture
async def discord_client(fake_discord: FakeDiscord) -> AsyncIterator[NewshoundClient]:
    """A real ``NewshoundClient`` logged in and READY against ``fake_discord``."""
    client = await start_client(fake_discord)
    try:
        yield client
    finally:
        await stop_client(client)


_CONNECTIONS: dict[int, Any] = {}


async def start_client(fake: FakeDiscord, **kw: Any) -> NewshoundClient:
    """Applies the fake's endpoints, logs in, connects, and waits for READY (+ the channel check)."""
    import asyncio

    from bot.deliver.discord.client import NewshoundClient, apply_endpoints

    kw.setdefault("guild_ready_timeout", 0.05)
    kw.setdefault("reidentify_delay", 0.0)
    client = NewshoundClient(endpoints=apply_endpoints(fake.api_base, fake.gateway_url), **kw)
    await client.login(fake.token)
    _CONNECTIONS[id(client)] = asyncio.create_task(client.connect())
    async with asyncio.timeout(10):
        await client.checked.wait()
    return client


async def stop_client(client: NewshoundClient) -> None:
    import asyncio
    import contextlib

    await client.close()
    task = _CONNECTIONS.pop(id(client), None)
    if task is not None:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def fts_consistent(store: Store) -> None:
    """FTS5's own check that the search index agrees with the items table, row by row (raises if not)."""
    store.db.execute("INSERT INTO items_fts (items_fts, rank) VALUES ('integrity-check', 1)")
