"""What a command gets: the app's services, who is asking, and a way to say "this will take a moment"."""

from __future__ import annotations

import asyncio
import difflib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bot.commands.text import code
from bot.match import Matcher
from bot.probe import FeedDescription
from bot.rules.model import Config
from bot.store import StoreThread


class CommandError(Exception):
    """A problem the user can fix or should know about; its text is shown to them as is (ephemerally)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class BadArgument(CommandError):
    """One plain sentence saying what is wrong, plus an example of a good invocation."""

    def __init__(self, problem: str, example: str) -> None:
        problem = problem.strip()
        if not problem.endswith((".", "?", "!")):
            problem += "."
        super().__init__(f"{problem} For example: `{example}`")
        self.problem = problem
        self.example = example


class NotAllowed(CommandError):
    """The user may not run this command; nothing was changed."""


class Rules(Protocol):
    """The rules in force (``bot.pipeline.Ruleset`` fits)."""

    @property
    def config(self) -> Config: ...

    @property
    def matcher(self) -> Matcher: ...


async def _nothing(_text: str) -> None:
    return None


@dataclass(slots=True)
class Services:
    """The parts of the running bot commands use. Built by ``bot.app.App.command_services``."""

    store: StoreThread
    rules: Callable[[], Rules]
    apply_config: Callable[[Config], Awaitable[None]]
    keywords: Path
    probe_feed: Callable[[str], Awaitable[FeedDescription]] | None = None
    notify_admin: Callable[[str], Awaitable[None]] = _nothing
    clock: Callable[[], float] = time.time
    version: str = "0"
    started_at: float = field(default_factory=time.time)
    #: ``NEWSHOUND_RETENTION_DAYS``: items older than this keep only their headline (0: kept in full).
    retention_days: float = 0.0
    readme_url: str = "https://github.com/newshound/newshound#slash-commands"
    #: One edit of keywords.yaml at a time.
    edit_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who runs the command. ``is_admin`` is decided by the Discord layer (Manage Server or admin role)."""

    id: str
    name: str
    is_admin: bool = False
    guild_id: str | None = None

    @property
    def label(self) -> str:
        """For the audit log: ``name (id)``."""
        return f"{self.name} ({self.id})"


async def _no_defer() -> None:
    return None


@dataclass(slots=True)
class Context:
    services: Services
    actor: Actor
    #: Called before slow work (a fetch, a chart, a file write): the Discord layer defers the interaction.
    defer: Callable[[], Awaitable[None]] = _no_defer
    #: Why the bot could not post in a channel (``None`` when it can, or when this cannot be known).
    channel_problem: Callable[[str], str | None] = lambda _channel: None

    @property
    def config(self) -> Config:
        return self.services.rules().config

    def now(self) -> float:
        return self.services.clock()

    def require_admin(self, command: str) -> None:
        if not self.actor.is_admin:
            raise NotAllowed(
                f"Only admins (Manage Server permission or the Newshound admin role) can use `{command}`. "
                "Nothing was changed."
            )


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean `x`?)`` when a choice is close to ``word``, else ``""`` — to end a sentence with."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return f" (did you mean {code(close[0])}?)" if close else ""
