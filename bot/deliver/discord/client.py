"""The discord.py client: fewest intents, endpoints from settings, a permission check on ready.

``apply_endpoints`` is the one place where ``DISCORD_API_BASE`` / ``DISCORD_GATEWAY_URL`` reach discord.py:

* REST — every request (bot *and* webhook) is built from ``discord.http.Route.BASE``;
* gateway — a plain ``discord.Client`` never asks ``GET /gateway/bot``: it connects to
  ``DiscordWebSocket.DEFAULT_GATEWAY`` (also used after an invalidated session), and after READY it resumes
  at READY's ``resume_gateway_url``. An explicitly configured gateway is therefore also *pinned*: the client
  overwrites the resume URL with it, so a proxy is never bypassed on a resume. When only the REST base is
  changed, the gateway URL is asked of that server (``GET /gateway/bot``) at login, as Discord intends.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.deliver.discord.checks import ChannelUse

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"

#: Permissions the bot needs in every alert channel (name as Discord's UI shows it → discord.py flag).
REQUIRED_PERMISSIONS: dict[str, str] = {
    "View Channel": "view_channel",
    "Send Messages": "send_messages",
    "Embed Links": "embed_links",
}
#: Bits for the invite URL: View Channel, Send Messages, Embed Links, Read Message History.
INVITE_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 16)

_WEBHOOK_SECRET = re.compile(r"(/webhooks/\d+/)[\w.\-]+", re.ASCII)
_INTERACTION_SECRET = re.compile(r"(/interactions/\d+/)[\w.\-]+", re.ASCII)


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with webhook/interaction tokens in URLs and the given secrets replaced by ``***``."""
    text = _WEBHOOK_SECRET.sub(r"\1***", text)
    text = _INTERACTION_SECRET.sub(r"\1***", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class RedactSecrets(logging.Filter):
    """Rewrites discord.py's log records so webhook URLs and the token never reach a log."""

    def __init__(self, token: str | None = None) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logged as is
            return True
        cleaned = redact(message, self.token)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


class QuietReconnects(logging.Filter):
    """discord.py logs every gateway reconnect attempt as ERROR with a full traceback ("Attempting a
    reconnect in 2.86s"): during an outage that is a screenful per try. Keeps one WARNING line naming the
    cause instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not (isinstance(record.msg, str) and record.msg.startswith("Attempting a reconnect in")):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logged as is
            return True
        cause = ""
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            cause = f" after {type(exc).__name__}: {exc}".rstrip(": ")
        attempt = message[:1].lower() + message[1:]  # "attempting a reconnect in 2.86s"
        record.msg = redact(f"Discord gateway connection lost{cause}; {attempt}")[:300]
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True


_REDACTED_LOGGERS = (
    "discord.http",
    "discord.client",
    "discord.gateway",
    "discord.state",
    "discord.webhook.async_",
    "discord.webhook.sync",
    "discord.interactions",
    "discord.app_commands.tree",
)


def install_log_redaction(token: str | None = None) -> None:
    """Adds a ``RedactSecrets`` filter to discord.py's loggers (once per logger; a given token is kept),
    and ``QuietReconnects`` to ``discord.client``."""
    for name in _REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        existing = next((f for f in logger.filters if isinstance(f, RedactSecrets)), None)
        if existing is None:
            logger.addFilter(RedactSecrets(token))
        elif token:
            existing.token = token
    client_log = logging.getLogger("discord.client")
    if not any(isinstance(f, QuietReconnects) for f in client_log.filters):
        client_log.addFilter(QuietReconnects())


@dataclass(frozen=True, slots=True)
class Endpoints:
    api_base: str
    gateway: str | None  # pinned gateway, or None (discord.py's default / discovered)
    discover_gateway: bool


def apply_endpoints(api_base: str | None = None, gateway_url: str | None = None) -> Endpoints:
    """Points discord.py at ``api_base`` (REST) and ``gateway_url`` (websocket). Process-wide; call once
    at start-up, before the client is created. ``None`` means Discord's own."""
    base = (api_base or DEFAULT_API_BASE).strip().rstrip("/")
    Route.BASE = base
    gateway = (gateway_url or "").strip() or None
    if gateway == DEFAULT_GATEWAY_URL:
        gateway = None
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway or DEFAULT_GATEWAY_URL)
    discover = gateway is None and base != DEFAULT_API_BASE
    log.info(
        "discord endpoints: REST %s, gateway %s",
        base,
        gateway or ("asked of the REST server" if discover else DEFAULT_GATEWAY_URL),
    )
    return Endpoints(api_base=base, gateway=gateway, discover_gateway=discover)


def minimal_intents() -> discord.Intents:
    """Guilds only: enough to know channels, roles and our own member (for permission checks). No message
    content, members or presences (privileged), no message events."""
    intents = discord.Intents.none()
    intents.guilds = True
    return intents


@dataclass(frozen=True, slots=True)
class ChannelProblem:
    """A channel named in the rules that the bot cannot use."""

    channel: str
    uses: tuple[str, ...]  # "rule 'bases'", "defaults.channel", "NEWSHOUND_ADMIN_CHANNEL"
    missing: tuple[str, ...]  # permission names; empty when the channel is not visible at all
    name: str = ""

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        return (self.channel, self.missing)

    def describe(self) -> str:
        where = f"#{self.name} ({self.channel})" if self.name else f"channel {self.channel}"
        users = ", ".join(self.uses)
        if not self.missing:
            return (
                f"cannot see {where}, used by {users}: the channel does not exist or the bot is not in its "
                f"server / lacks View Channel there"
            )
        return f"cannot post in {where}, used by {users}: missing permission {', '.join(self.missing)}"


class NewshoundClient(discord.Client):
    """A ``discord.Client`` with the fewest intents, safe defaults (no mentions unless given per message),
    start-up hooks run from ``setup_hook`` and a channel-permission report on every READY."""

    def __init__(
        self,
        *,
        endpoints: Endpoints | None = None,
        channel_uses: Callable[[], Iterable[ChannelUse]] | None = None,
        report: Callable[[ChannelProblem], Awaitable[None]] | None = None,
        max_ratelimit_timeout: float = 30.0,
        guild_ready_timeout: float = 2.0,
        reidentify_delay: float = 5.0,
        **options: Any,
    ) -> None:
        # Newshound never joins voice: don't warn at every start that voice libraries are missing.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        super().__init__(
            intents=minimal_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            max_ratelimit_timeout=max_ratelimit_timeout,
            chunk_guilds_at_startup=False,
            guild_ready_timeout=guild_ready_timeout,
            **options,
        )
        self.reidentify_delay = reidentify_delay
        self.endpoints = endpoints or Endpoints(Route.BASE, None, False)
        self.channel_uses = channel_uses or (lambda: ())
        self.report = report
        #: Problems reported, with when each was first seen; one no longer found is forgotten, so if it
        #: comes back it is reported again.
        self.reported: dict[tuple[str, tuple[str, ...]], float] = {}
        self.problems: list[ChannelProblem] = []
        self.checked = asyncio.Event()
        self._setup_hooks: list[Callable[[], Awaitable[None]]] = []
        self._ready_hooks: list[Callable[[], Awaitable[None]]] = []
        self._background: set[asyncio.Task[Any]] = set()

    def on_setup(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Runs ``hook`` inside ``setup_hook`` (the loop is running; the gateway is not connected yet)."""
        self._setup_hooks.append(hook)

    def on_every_ready(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Runs ``hook`` after every READY and RESUMED (after the channel check)."""
        self._ready_hooks.append(hook)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # discord.py waits 5 s before identifying again (Discord limits new sessions); keep that, but let
        # tests make it shorter.
        if not initial:
            await asyncio.sleep(self.reidentify_delay)

    async def setup_hook(self) -> None:
        if self.endpoints.discover_gateway:
            try:
                _, url, _ = await self.http.get_bot_gateway()
            except discord.DiscordException as exc:
                log.warning("could not ask %s for its gateway (%s); using Discord's", Route.BASE, exc)
            else:
                DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
                log.info("gateway from %s: %s", Route.BASE, url)
        for hook in self._setup_hooks:
            try:
                await hook()
            except Exception:  # a start-up extra (e.g. registering slash commands) never fails the login
                log.exception("start-up hook failed")

    def keep(self, task: asyncio.Task[Any]) -> None:
        """Holds a background task of this client until it ends; ``close`` cancels it."""
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await super().close()

    async def reopen(self) -> None:
        """Makes the client ready for another ``login`` after a failed one, or after discord.py closed it
        (a fatal gateway close such as 4010–4014). Closes what is left, forgets the user (so nothing sends
        through a closed session meanwhile: ``user`` is None until the next login), and binds a fresh
        HTTP session and connector at the next login. Views and dynamic items (page buttons) are kept.

        discord.py's own ``clear`` would drop them, and does not rebind the event loop that ``close``
        unset; this does what ``clear`` and ``login`` do for a new client, minus that."""
        await self.close()
        self._closing_task = None
        self._connection.clear(views=False)
        self.http.clear()
        # Closing the session closed its connector too; static_login makes a new one when it is unset.
        self.http.connector = discord.utils.MISSING
        await self._async_setup_hook()  # the running loop, and a new "ready" event

    def forget_cancelled_close(self) -> None:
        """discord.py keeps the task of a ``close`` and awaits it again on the next ``close``: one that was
        cancelled (a SIGTERM during ``reopen``) would make every later ``close`` raise CancelledError."""
        if self._closing_task is not None and self._closing_task.cancelled():
            self._closing_task = None

    def dispatch(self, event: str, /, *args: Any, **kwargs: Any) -> None:
        if event == "connect" and self.endpoints.gateway and self.ws is not None:
            # READY just set the resume URL to Discord's; keep resuming through the configured gateway.
            self.ws.gateway = yarl.URL(self.endpoints.gateway)
        super().dispatch(event, *args, **kwargs)

    async def on_ready(self) -> None:
        user = self.user
        log.info(
            "connected to Discord as %s (%s), %d server(s)", user, user.id if user else "?", len(self.guilds)
        )
        await self.check_channels()
        await self._run_ready_hooks()

    async def on_resumed(self) -> None:
        log.info("Discord gateway session resumed")
        await self._run_ready_hooks()

    async def _run_ready_hooks(self) -> None:
        for hook in self._ready_hooks:
            try:
                await hook()
            except Exception:
                log.exception("ready hook failed")

    def channel_problems(self, uses: Iterable[ChannelUse]) -> list[ChannelProblem]:
        """Every channel in ``uses`` the bot cannot see or post in (needs the guild cache: after READY)."""
        by_channel: dict[str, list[str]] = {}
        for use in uses:
            by_channel.setdefault(use.channel, []).append(use.label)
        problems = []
        for channel_id, labels in by_channel.items():
            labels = list(dict.fromkeys(labels))
            channel = self.get_channel(int(channel_id)) if channel_id.isdigit() else None
            if not isinstance(channel, discord.abc.GuildChannel | discord.Thread):
                problems.append(ChannelProblem(channel_id, tuple(labels), ()))
                continue
            me = channel.guild.me
            if me is None:
                problems.append(ChannelProblem(channel_id, tuple(labels), (), channel.name))
                continue
            perms = channel.permissions_for(me)
            needed = dict(REQUIRED_PERMISSIONS)
            if isinstance(channel, discord.Thread):
                needed["Send Messages in Threads"] = "send_messages_in_threads"
                needed.pop("Send Messages")
            if not perms.view_channel:
                problems.append(ChannelProblem(channel_id, tuple(labels), ("View Channel",), channel.name))
                continue
            missing = tuple(name for name, flag in needed.items() if not getattr(perms, flag))
            if missing:
                problems.append(ChannelProblem(channel_id, tuple(labels), missing, channel.name))
        return problems

    async def check_channels(self) -> list[ChannelProblem]:
        """Checks every channel the rules name; reports each new problem once (log + ``report``)."""
        try:
            problems = self.channel_problems(self.channel_uses())
        except Exception:  # nothing is known: what was reported stays reported (and is not said again)
            log.exception("channel permission check failed")
            self.checked.set()
            return self.problems
        self.problems = problems
        current = {p.key for p in problems}
        for gone in [key for key in self.reported if key not in current]:
            del self.reported[gone]  # fixed (or no longer used by a rule)
        fresh = [p for p in problems if p.key not in self.reported]
        for problem in fresh:
            self.reported[problem.key] = time.time()
            log.warning("Discord: %s", problem.describe())
        if self.report is not None:
            for problem in fresh:
                try:
                    await self.report(problem)
                except Exception:
                    log.exception("could not report a channel problem")
        if not problems:
            log.info("Discord: every alert channel is usable")
        self.checked.set()
        return problems
