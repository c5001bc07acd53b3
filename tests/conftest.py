from __future__ import annotations

import io
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.config import Settings
from bot.deliver.console import ConsoleSink
from tests.fakes.feed_host import FeedHost

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
