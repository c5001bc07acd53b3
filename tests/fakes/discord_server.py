"""A Discord-compatible fake: REST + a minimal gateway, on 127.0.0.1, for tests and manual runs.

It behaves like Discord where discord.py cares:

* every JSON answer carries ``Content-Type: application/json`` exactly (discord.py parses nothing else);
* 429s carry a ``Via`` header (without it discord.py assumes a Cloudflare ban), ``retry_after`` in the
  body, and ``X-RateLimit-Reset-After`` whenever ``X-RateLimit-Remaining`` is sent;
* errors are ``{"code": …, "message": …}`` dicts, with ``errors`` for Invalid Form Body (50035);
* ``POST /channels/{id}/messages`` honours ``nonce`` + ``enforce_nonce``: the same nonce from the same author
  in the same channel within ``nonce_window`` seconds returns the original message instead of a new one;
* permissions are computed like Discord does (roles, @everyone, overwrites): no View Channel → 403 50001
  Missing Access, no Send Messages → 403 50013 Missing Permissions; without Embed Links embeds are dropped;
* payloads are validated against Discord's limits (content 2,000; embed title 256, description 4,096,
  field name 256 / value 1,024, footer 2,048, author name 256, 25 fields, 6,000 in total; nonce 25;
  allowed_mentions shape; webhook username rules) and answered 400 like Discord when violated;
* which mentions would *ping* is worked out from content + allowed_mentions (as Discord does) and stored on
  the message (``mention_everyone``, ``mentions``, ``mention_roles``).

Everything is recorded (``requests``, ``messages``, ``identifies``, ``callbacks``…) for assertions, and faults
can be injected per channel/webhook or globally (``fail``, ``rate_limit``, ``hang``, ``outage``).

In tests use the ``fake_discord`` fixture (``tests/conftest.py``). Standalone::

    python -m tests.fakes.discord_server --port 8765 --channel 234567890123456789 --token fake-token

prints the ``DISCORD_API_BASE`` / ``DISCORD_GATEWAY_URL`` to use and serves until interrupted; faults can
then be injected over HTTP (``POST /_fake/fault``, ``POST /_fake/outage``, ``POST /_fake/recover``) and
records read back (``GET /_fake/messages``, ``GET /_fake/requests``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from aiohttp import BodyPartReader, WSMsgType, web

DISCORD_EPOCH_MS = 1420070400000

# Permission bits (https://discord.com/developers/docs/topics/permissions)
CREATE_INSTANT_INVITE = 1 << 0
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1
#: What @everyone may do in a fresh Discord server (roughly).
DEFAULT_EVERYONE = (
    CREATE_INSTANT_INVITE
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | SEND_MESSAGES_IN_THREADS
)

# Gateway opcodes
OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_RESUME, OP_RECONNECT = 0, 1, 2, 6, 7
OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = 9, 10, 11
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)  # members, presences, message content

MENTION_RE = re.compile(r"<@(!?|&)(\d{15,21})>")
EVERYONE_RE = re.compile(r"@(everyone|here)\b")


def snowflake_at(ms: float, counter: int) -> int:
    return (int(ms) - DISCORD_EPOCH_MS) << 22 | (counter & 0xFFF)


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


def is_http_url(value: object) -> bool:
    if not isinstance(value, str) or len(value) > 2048:
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class FakeError(Exception):
    """An answer the fake gives instead of the happy path."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        self.body = body

    def response(self) -> web.Response:
        body: dict[str, Any] = self.body or {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return json_response(body, status=self.status, headers=self.headers)


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # Exactly "application/json": discord.py compares the header verbatim (no charset suffix).
    resp = web.Response(
        body=json.dumps(data).encode(), status=status, headers=headers or {}, content_type="application/json"
    )
    resp.headers["Content-Type"] = "application/json"
    return resp


def form_error(path: list[str | int], code: str, message: str) -> FakeError:
    """A 50035 Invalid Form Body error for one field, shaped like Discord's."""
    errors: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(path):
        errors = {str(part): errors}
    return FakeError(400, 50035, "Invalid Form Body", errors=errors)


# ---------------------------------------------------------------------------------------------- world


@dataclass
class FakeRole:
    id: int
    name: str
    permissions: int = 0
    position: int = 1
    mentionable: bool = True
    managed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }


@dataclass
class FakeChannel:
    id: int
    guild_id: int
    name: str
    type: int = 0  # GUILD_TEXT
    position: int = 0
    overwrites: list[dict[str, Any]] = field(default_factory=list)
    topic: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": self.overwrites,
            "topic": self.topic,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "parent_id": None,
            "flags": 0,
        }


@dataclass
class FakeUser:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class FakeGuild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, FakeRole] = field(default_factory=dict)
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    members: dict[int, list[int]] = field(default_factory=dict)  # user id → role ids

    @property
    def everyone(self) -> FakeRole:
        return self.roles[self.id]


@dataclass
class FakeWebhook:
    id: int
    token: str
    channel_id: int
    guild_id: int
    name: str = "Newshound hook"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": 1,
            "guild_id": str(self.guild_id),
            "channel_id": str(self.channel_id),
            "name": self.name,
            "avatar": None,
            "token": self.token,
            "application_id": None,
        }


@dataclass
class Fault:
    """One injected misbehaviour. ``times=None`` lasts until cleared."""

    kind: Literal["status", "ratelimit", "hang", "hang_after", "reset"]
    status: int = 500
    code: int = 0
    message: str = ""
    retry_after: float = 1.0
    is_global: bool = False
    times: int | None = 1
    method: str | None = None  # only requests with this method (None = any)


@dataclass
class Recorded:
    """One HTTP request as the fake saw it, and how it answered."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    status: int = 0
    scope: str = ""
    at: float = 0.0
    files: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class FakeInteraction:
    """An interaction sent to the bot; what the bot answered is recorded on it."""

    id: int
    token: str
    payload: dict[str, Any]
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    followups: list[dict[str, Any]] = field(default_factory=list)
    original: dict[str, Any] | None = None
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    followed_up: asyncio.Event = field(default_factory=asyncio.Event)  # set on each follow-up / edit

    @property
    def callback(self) -> dict[str, Any]:
        assert self.callbacks, "the bot did not answer the interaction"
        return self.callbacks[0]


@dataclass
class GatewaySession:
    id: str
    ws: web.WebSocketResponse | None
    intents: int = 0
    seq: int = 0
    identified: asyncio.Event = field(default_factory=asyncio.Event)
    resumed: int = 0


# ---------------------------------------------------------------------------------------------- server


class FakeDiscord:
    """The fake server: ``await start()``, point discord.py at ``api_base`` / ``gateway_url``, ``stop()``."""

    def __init__(
        self,
        *,
        token: str = "fake-token",
        bot_id: int = 100000000000000001,
        bot_name: str = "Newshound",
        guild_id: int = 200000000000000001,
        bot_permissions: int = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | READ_MESSAGE_HISTORY,
        everyone_permissions: int = DEFAULT_EVERYONE,
        privileged_intents: int = 0,
        heartbeat_interval_ms: int = 41250,
        nonce_window: float = 300.0,
        bucket_limit: int = 1000,
        bucket_window: float = 1.0,
    ) -> None:
        self.token = token
        self.bot = FakeUser(bot_id, bot_name, bot=True)
        self.application_id = bot_id
        self.privileged_intents = privileged_intents
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.nonce_window = nonce_window
        self.bucket_limit = bucket_limit
        self.bucket_window = bucket_window
        self.host = "127.0.0.1"
        self.port = 0
        #: What READY names as ``resume_gateway_url`` (default: this server's gateway). Set it elsewhere to
        #: check that a configured gateway stays pinned.
        self.resume_gateway_url: str | None = None

        self.users: dict[int, FakeUser] = {bot_id: self.bot}
        self.guilds: dict[int, FakeGuild] = {}
        self.webhooks: dict[int, FakeWebhook] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}

        # records
        self.requests: list[Recorded] = []
        self.messages: dict[int, list[dict[str, Any]]] = {}
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.rejected: list[Recorded] = []  # requests answered 4xx because of their payload

        self._faults: dict[str, list[Fault]] = {}
        self._outage: Literal["refuse", "hang", "5xx"] | None = None
        self._nonces: dict[tuple[int, int, str], tuple[float, dict[str, Any]]] = {}
        self._buckets: dict[str, tuple[float, int]] = {}
        self._ids = itertools.count(1)
        self._released = asyncio.Event()
        self._sessions: dict[str, GatewaySession] = {}
        self._message_event = asyncio.Event()
        self._gateway_event = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

        guild = self.add_guild(guild_id, bot_permissions=bot_permissions)
        guild.everyone.permissions = everyone_permissions

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self, port: int = 0) -> FakeDiscord:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.host, port, reuse_address=True)
        await self._site.start()
        server = self._site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self._released.set()
        for session in list(self._sessions.values()):
            if session.ws is not None and not session.ws.closed:
                await session.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """The value for ``DISCORD_API_BASE``."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """The value for ``DISCORD_GATEWAY_URL``."""
        return f"ws://{self.host}:{self.port}/gateway"

    def env(self) -> dict[str, str]:
        """Environment variables that point a Newshound process at this fake."""
        return {
            "DISCORD_TOKEN": self.token,
            "DISCORD_API_BASE": self.api_base,
            "DISCORD_GATEWAY_URL": self.gateway_url,
        }

    # -- world building ----------------------------------------------------------------------------

    def next_id(self) -> int:
        return snowflake_at(time.time() * 1000, next(self._ids))

    @property
    def guild(self) -> FakeGuild:
        """The first (default) guild."""
        return next(iter(self.guilds.values()))

    def add_guild(
        self, guild_id: int | None = None, *, name: str = "Newshound Test", bot_permissions: int = 0
    ) -> FakeGuild:
        gid = guild_id or self.next_id()
        owner = FakeUser(gid + 7, "owner")
        self.users[owner.id] = owner
        guild = FakeGuild(gid, name, owner_id=owner.id)
        guild.roles[gid] = FakeRole(gid, "@everyone", DEFAULT_EVERYONE, position=0, mentionable=False)
        bot_role = FakeRole(gid + 1, self.bot.username, bot_permissions, position=1, managed=True)
        guild.roles[bot_role.id] = bot_role
        guild.members[self.bot.id] = [bot_role.id]
        guild.members[owner.id] = []
        self.guilds[gid] = guild
        return guild

    def add_channel(
        self,
        channel_id: int | str | None = None,
        *,
        name: str | None = None,
        guild: FakeGuild | None = None,
        bot_allow: int = 0,
        bot_deny: int = 0,
    ) -> FakeChannel:
        """A text channel; ``bot_allow`` / ``bot_deny`` become a member overwrite for the bot."""
        g = guild or self.guild
        cid = int(channel_id) if channel_id is not None else self.next_id()
        overwrites: list[dict[str, Any]] = []
        if bot_allow or bot_deny:
            overwrites.append(
                {"id": str(self.bot.id), "type": 1, "allow": str(bot_allow), "deny": str(bot_deny)}
            )
        channel = FakeChannel(cid, g.id, name or f"channel-{len(g.channels) + 1}", overwrites=overwrites)
        channel.position = len(g.channels)
        g.channels[cid] = channel
        self.messages.setdefault(cid, [])
        return channel

    def remove_channel(self, channel_id: int | str) -> None:
        for g in self.guilds.values():
            g.channels.pop(int(channel_id), None)

    def set_bot_overwrite(self, channel_id: int | str, *, allow: int = 0, deny: int = 0) -> None:
        channel = self.channel(channel_id)
        assert channel is not None
        channel.overwrites = [o for o in channel.overwrites if o["id"] != str(self.bot.id)]
        channel.overwrites.append({"id": str(self.bot.id), "type": 1, "allow": str(allow), "deny": str(deny)})

    def add_role(
        self,
        role_id: int | str | None = None,
        *,
        name: str = "role",
        permissions: int = 0,
        guild: FakeGuild | None = None,
    ) -> FakeRole:
        g = guild or self.guild
        rid = int(role_id) if role_id is not None else self.next_id()
        role = FakeRole(rid, name, permissions, position=len(g.roles))
        g.roles[rid] = role
        return role

    def add_member(
        self,
        user_id: int | str | None = None,
        *,
        name: str = "member",
        roles: Iterable[int | str] = (),
        guild: FakeGuild | None = None,
    ) -> FakeUser:
        g = guild or self.guild
        uid = int(user_id) if user_id is not None else self.next_id()
        user = self.users.get(uid) or FakeUser(uid, name)
        self.users[uid] = user
        g.members[uid] = [int(r) for r in roles]
        return user

    def add_webhook(self, channel_id: int | str, *, webhook_id: int | None = None, name: str = "hook") -> str:
        """Creates a webhook on ``channel_id``; returns its URL (as Discord shows it, on this host)."""
        channel = self.channel(channel_id)
        assert channel is not None, "add the channel first"
        hook = FakeWebhook(
            webhook_id or self.next_id(), secrets.token_urlsafe(48), channel.id, channel.guild_id, name
        )
        self.webhooks[hook.id] = hook
        return f"{self.base_url}/api/webhooks/{hook.id}/{hook.token}"

    def channel(self, channel_id: int | str) -> FakeChannel | None:
        cid = int(channel_id)
        for g in self.guilds.values():
            if cid in g.channels:
                return g.channels[cid]
        return None

    def permissions(self, channel: FakeChannel, user_id: int) -> int:
        """Discord's permission algorithm: base from roles, then @everyone/role/member overwrites."""
        g = self.guilds[channel.guild_id]
        if user_id == g.owner_id:
            return ALL_PERMISSIONS
        role_ids = g.members.get(user_id)
        if role_ids is None:
            return 0
        perms = g.everyone.permissions
        for rid in role_ids:
            if rid in g.roles:
                perms |= g.roles[rid].permissions
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        by_id = {int(o["id"]): o for o in channel.overwrites}
        if g.id in by_id:
            perms = (perms & ~int(by_id[g.id]["deny"])) | int(by_id[g.id]["allow"])
        allow = deny = 0
        for rid in role_ids:
            if rid in by_id and by_id[rid]["type"] == 0:
                allow |= int(by_id[rid]["allow"])
                deny |= int(by_id[rid]["deny"])
        perms = (perms & ~deny) | allow
        member = by_id.get(user_id)
        if member is not None and member["type"] == 1:
            perms = (perms & ~int(member["deny"])) | int(member["allow"])
        if not perms & VIEW_CHANNEL:
            return 0
        return perms

    # -- faults ------------------------------------------------------------------------------------

    @staticmethod
    def _scope(channel: int | str | None, webhook: int | str | None, path: str | None = None) -> str:
        if channel is not None:
            return f"channel:{int(channel)}"
        if webhook is not None:
            return f"webhook:{int(webhook)}"
        if path is not None:
            return f"path:{path}"
        return "*"

    def inject(
        self,
        fault: Fault,
        *,
        channel: int | str | None = None,
        webhook: int | str | None = None,
        path: str | None = None,
    ) -> Fault:
        """Adds ``fault`` for one channel, one webhook, one other API path (as after ``/api/v10``, e.g.
        ``/oauth2/applications/@me``), or (none given) every REST request."""
        self._faults.setdefault(self._scope(channel, webhook, path), []).append(fault)
        return fault

    def fail(
        self,
        *,
        channel: int | str | None = None,
        webhook: int | str | None = None,
        status: int = 503,
        code: int = 0,
        message: str | None = None,
        times: int | None = 1,
        method: str | None = "POST",
        path: str | None = None,
    ) -> Fault:
        """Answer ``status`` (e.g. 500/503, or 403 with code 50001/50013, 404 with 10003)."""
        default = {403: "Missing Permissions", 404: "Unknown Channel", 400: "Bad Request"}.get(status)
        text = message or default or f"{status}: Server Error"
        return self.inject(
            Fault("status", status=status, code=code, message=text, times=times, method=method),
            channel=channel,
            webhook=webhook,
            path=path,
        )

    def rate_limit(
        self,
        *,
        channel: int | str | None = None,
        webhook: int | str | None = None,
        retry_after: float = 0.5,
        times: int | None = 1,
        is_global: bool = False,
        method: str = "POST",
        path: str | None = None,
    ) -> Fault:
        """Answer 429 with ``retry_after`` (seconds) the next ``times`` requests with ``method``."""
        return self.inject(
            Fault("ratelimit", retry_after=retry_after, times=times, is_global=is_global, method=method),
            channel=channel,
            webhook=webhook,
            path=path,
        )

    def hang(
        self,
        *,
        channel: int | str | None = None,
        webhook: int | str | None = None,
        times: int | None = 1,
        after_create: bool = False,
    ) -> Fault:
        """Never answer (until ``release()`` or stop). ``after_create``: the message IS created first, so
        only the answer is lost — what a timeout looks like when Discord did its part."""
        return self.inject(
            Fault("hang_after" if after_create else "hang", times=times, method="POST"),
            channel=channel,
            webhook=webhook,
        )

    def release(self) -> None:
        """Lets every hanging request go (they then fail with a 503)."""
        self._released.set()
        self._released = asyncio.Event()

    def clear_faults(self) -> None:
        self._faults.clear()

    async def outage(self, mode: Literal["refuse", "hang", "5xx"] = "refuse") -> None:
        """Discord goes away: ``refuse`` closes the port and every connection (gateway included), ``hang``
        accepts and never answers, ``5xx`` answers 503 to everything (and refuses gateway connections)."""
        self._outage = mode
        if mode in ("refuse", "5xx"):
            await self.drop_gateway(code=None)
        if mode == "refuse":
            if self._site is not None:
                await self._site.stop()
                self._site = None
            if self._runner is not None and self._runner.server is not None:
                for conn in list(self._runner.server.connections):
                    conn.force_close()
                    if conn.transport is not None:
                        conn.transport.abort()

    async def recover(self) -> None:
        """Ends an outage (and every injected fault)."""
        mode, self._outage = self._outage, None
        self.clear_faults()
        self.release()
        if mode == "refuse" and self._runner is not None and self._site is None:
            for _ in range(50):
                try:
                    self._site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
                    await self._site.start()
                    break
                except OSError:
                    await asyncio.sleep(0.05)

    def _take_fault(self, scope: str, method: str) -> Fault | None:
        for key in (scope, "*"):
            faults = self._faults.get(key)
            if not faults:
                continue
            for fault in faults:
                if fault.method is not None and fault.method != method:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        faults.remove(fault)
                return fault
        return None

    def _rate_limited(self, retry_after: float, *, is_global: bool, scope: str) -> FakeError:
        headers = {"Via": "1.1 google", "Retry-After": str(max(1, round(retry_after)))}
        if is_global:
            headers["X-RateLimit-Global"] = "true"
            headers["X-RateLimit-Scope"] = "global"
        else:
            headers.update(
                {
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                    "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                    "X-RateLimit-Bucket": self._bucket_hash(scope),
                    "X-RateLimit-Scope": "user",
                }
            )
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": is_global,
            "code": 0,
        }
        return FakeError(429, 0, body["message"], headers=headers, body=body)  # type: ignore[arg-type]

    @staticmethod
    def _bucket_hash(scope: str) -> str:
        kind = scope.split(":", 1)[0]
        return {"channel": "c0ffee01", "webhook": "c0ffee02"}.get(kind, "c0ffee00")

    def _bucket_headers(self, scope: str) -> dict[str, str]:
        """A per-scope bucket of ``bucket_limit`` requests per ``bucket_window`` seconds; over it → 429."""
        now = time.monotonic()
        start, used = self._buckets.get(scope, (now, 0))
        if now - start >= self.bucket_window:
            start, used = now, 0
        used += 1
        self._buckets[scope] = (start, used)
        reset_after = max(0.001, self.bucket_window - (now - start))
        if used > self.bucket_limit:
            raise self._rate_limited(reset_after, is_global=False, scope=scope)
        return {
            "X-RateLimit-Limit": str(self.bucket_limit),
            "X-RateLimit-Remaining": str(max(0, self.bucket_limit - used)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self._bucket_hash(scope),
        }

    # -- records -----------------------------------------------------------------------------------

    def channel_messages(self, channel_id: int | str) -> list[dict[str, Any]]:
        return self.messages.get(int(channel_id), [])

    def all_messages(self) -> list[dict[str, Any]]:
        return [m for msgs in self.messages.values() for m in msgs]

    def requests_to(self, method: str, path_prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    async def wait_for_messages(
        self, count: int, *, channel: int | str | None = None, within: float = 10.0
    ) -> None:
        """Waits until ``count`` messages exist (in ``channel``, or overall)."""

        def have() -> int:
            return len(self.channel_messages(channel)) if channel is not None else len(self.all_messages())

        async with asyncio.timeout(within):
            while have() < count:
                self._message_event.clear()
                await self._message_event.wait()

    # -- HTTP dispatch -----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        if path.startswith("/_fake/"):
            return await self._control(request, path[len("/_fake") :])
        if path == "/gateway" and request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._gateway(request)
        m = re.match(r"^/api(?:/v(\d+))?(/.*)$", path)
        if not m:
            return json_response({"code": 0, "message": "404: Not Found"}, status=404)
        route = m.group(2)
        body, files = await self._read_body(request)
        rec = Recorded(
            method=request.method,
            path=route,
            query=dict(request.query),
            headers=dict(request.headers),
            json=body,
            at=time.monotonic(),
            files=files,
        )
        self.requests.append(rec)
        try:
            if self._outage == "hang":
                await self._released.wait()
                raise FakeError(503, 0, "503: Service Unavailable")
            if self._outage == "5xx":
                raise FakeError(503, 0, "503: Service Unavailable")
            resp = await self._route(request, route, body, rec)
        except FakeError as err:
            rec.status = err.status
            if err.status in (400, 413):
                self.rejected.append(rec)
            return err.response()
        rec.status = resp.status
        return resp

    async def _read_body(self, request: web.Request) -> tuple[Any, list[tuple[str, bytes]]]:
        if not request.can_read_body:
            return None, []
        ctype = request.content_type
        if ctype == "multipart/form-data":
            payload: Any = None
            files: list[tuple[str, bytes]] = []
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue  # a nested multipart: Discord sends none
                if part.name == "payload_json":
                    payload = json.loads(await part.text())
                else:
                    files.append((part.filename or part.name or "", bytes(await part.read())))
            return payload, files
        raw = await request.read()
        if not raw:
            return None, []
        try:
            return json.loads(raw), []
        except ValueError:
            return raw.decode("utf-8", "replace"), []

    def _check_auth(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bot {self.token}":
            raise FakeError(401, 0, "401: Unauthorized")

    async def _apply_faults(self, scope: str, method: str) -> Fault | None:
        fault = self._take_fault(scope, method)
        if fault is None:
            return None
        if fault.kind == "status":
            raise FakeError(fault.status, fault.code, fault.message)
        if fault.kind == "ratelimit":
            raise self._rate_limited(fault.retry_after, is_global=fault.is_global, scope=scope)
        if fault.kind == "hang":
            await self._released.wait()
            raise FakeError(503, 0, "503: Service Unavailable")
        return fault  # hang_after: the caller does the work first

    async def _route(self, request: web.Request, route: str, body: Any, rec: Recorded) -> web.Response:
        method = request.method
        parts = [p for p in route.split("/") if p]

        # Webhooks and interaction callbacks authenticate with their token, not the bot token.
        if parts[:1] == ["webhooks"] and len(parts) >= 3:
            rec.scope = f"webhook:{parts[1]}"
            return await self._webhook_route(request, parts, body, rec)
        if parts[:1] == ["interactions"] and len(parts) == 4 and parts[3] == "callback":
            return await self._interaction_callback(int(parts[1]), parts[2], body, rec)

        self._check_auth(request)
        if parts[:1] != ["channels"]:
            await self._apply_faults(f"path:{route}", method)
        if route == "/gateway" or route == "/gateway/bot":
            data: dict[str, Any] = {"url": self.gateway_url}
            if route == "/gateway/bot":
                data.update(
                    shards=1,
                    session_start_limit={
                        "total": 1000,
                        "remaining": 999,
                        "reset_after": 0,
                        "max_concurrency": 1,
                    },
                )
            return json_response(data)
        if route == "/users/@me":
            return json_response(self._bot_user_json())
        if route == "/applications/@me" or route == "/oauth2/applications/@me":
            return json_response(self._application_json())

        if parts[:1] == ["channels"] and len(parts) >= 2:
            channel_id = int(parts[1])
            rec.scope = f"channel:{channel_id}"
            return await self._channel_route(method, channel_id, parts[2:], body, request, rec)
        if parts[:1] == ["guilds"] and len(parts) >= 2:
            return self._guild_route(method, int(parts[1]), parts[2:])
        if parts[:1] == ["applications"] and len(parts) >= 3:
            return self._commands_route(method, parts, body)
        if parts[:1] == ["users"] and len(parts) == 2:
            user = self.users.get(int(parts[1])) if parts[1].isdigit() else None
            if user is None:
                raise FakeError(404, 10013, "Unknown User")
            return json_response(user.to_json())
        raise FakeError(404, 0, "404: Not Found")

    def _bot_user_json(self) -> dict[str, Any]:
        data = self.bot.to_json()
        data.update(verified=True, mfa_enabled=False, email=None, locale="en-US")
        return data

    def _application_json(self) -> dict[str, Any]:
        owner = self.users[self.guild.owner_id]
        return {
            "id": str(self.application_id),
            "name": self.bot.username,
            "icon": None,
            "description": "Newshound (fake)",
            "summary": "",
            "type": None,
            "hook": True,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": owner.to_json(),
            "team": None,
            "flags": 0,
            "rpc_origins": [],
            "terms_of_service_url": None,
            "privacy_policy_url": None,
            "interactions_endpoint_url": None,
            "redirect_uris": [],
            "tags": [],
            "approximate_guild_count": len(self.guilds),
            "bot": self._bot_user_json(),
        }

    # -- channels ----------------------------------------------------------------------------------

    async def _channel_route(
        self, method: str, channel_id: int, rest: list[str], body: Any, request: web.Request, rec: Recorded
    ) -> web.Response:
        scope = f"channel:{channel_id}"
        fault = await self._apply_faults(scope, method)
        channel = self.channel(channel_id)
        if channel is None:
            raise FakeError(404, 10003, "Unknown Channel")
        perms = self.permissions(channel, self.bot.id)
        if not perms & VIEW_CHANNEL:
            raise FakeError(403, 50001, "Missing Access")
        if method == "GET" and not rest:
            return json_response(channel.to_json())
        if rest == ["messages"] and method == "POST":
            headers = self._bucket_headers(scope)
            if not perms & SEND_MESSAGES:
                raise FakeError(403, 50013, "Missing Permissions")
            message, _ = self._create_message(
                channel, body, author=self.bot, embeds_allowed=bool(perms & EMBED_LINKS)
            )
            if fault is not None:  # hang_after: created, but the answer never comes
                await self._released.wait()
                raise FakeError(503, 0, "503: Service Unavailable")
            return json_response(message, headers=headers)
        if rest == ["messages"] and method == "GET":
            if not perms & READ_MESSAGE_HISTORY:
                return json_response([])
            limit = min(100, int(request.query.get("limit", "50")))
            msgs = list(self.channel_messages(channel_id))
            if "after" in request.query:
                after = int(request.query["after"])
                msgs = [m for m in msgs if int(m["id"]) > after][:limit]
            else:
                if "before" in request.query:
                    before = int(request.query["before"])
                    msgs = [m for m in msgs if int(m["id"]) < before]
                msgs = msgs[-limit:]
            return json_response(list(reversed(msgs)))
        if len(rest) == 2 and rest[0] == "messages" and method == "GET":
            for m in self.channel_messages(channel_id):
                if m["id"] == rest[1]:
                    return json_response(m)
            raise FakeError(404, 10008, "Unknown Message")
        if rest == ["typing"] and method == "POST":
            return web.Response(status=204)
        raise FakeError(404, 0, "404: Not Found")

    def _guild_route(self, method: str, guild_id: int, rest: list[str]) -> web.Response:
        guild = self.guilds.get(guild_id)
        if guild is None:
            raise FakeError(404, 10004, "Unknown Guild")
        if method == "GET" and not rest:
            return json_response(self._guild_json(guild, full=False))
        if method == "GET" and rest == ["channels"]:
            return json_response([c.to_json() for c in guild.channels.values()])
        if method == "GET" and rest == ["roles"]:
            return json_response([r.to_json() for r in guild.roles.values()])
        if method == "GET" and len(rest) == 2 and rest[0] == "members":
            uid = int(rest[1])
            if uid not in guild.members:
                raise FakeError(404, 10007, "Unknown Member")
            return json_response(self._member_json(guild, uid))
        raise FakeError(404, 0, "404: Not Found")

    # -- messages ----------------------------------------------------------------------------------

    def _create_message(
        self,
        channel: FakeChannel,
        body: Any,
        *,
        author: FakeUser,
        embeds_allowed: bool = True,
        webhook: FakeWebhook | None = None,
        username: str | None = None,
        interaction: FakeInteraction | None = None,
    ) -> tuple[dict[str, Any], bool]:
        if not isinstance(body, dict):
            raise FakeError(400, 50109, "The request body contains invalid JSON.")
        validate_message(body, webhook=webhook is not None)
        nonce = body.get("nonce")
        key = (channel.id, author.id, str(nonce))
        now = time.monotonic()
        if nonce is not None and body.get("enforce_nonce") and webhook is None:
            seen = self._nonces.get(key)
            if seen is not None and now - seen[0] <= self.nonce_window:
                return seen[1], False
        embeds = body.get("embeds") or []
        if not embeds_allowed:
            embeds = []
        content = body.get("content") or ""
        if not content and not embeds and not body.get("attachments"):
            raise FakeError(400, 50006, "Cannot send an empty message")
        everyone, users, roles = self._pings(channel, content, body.get("allowed_mentions"), author, webhook)
        msg_id = self.next_id()
        author_json = author.to_json()
        if webhook is not None:
            author_json = {
                "id": str(webhook.id),
                "username": username or webhook.name,
                "avatar": None,
                "discriminator": "0000",
                "bot": True,
                "global_name": None,
            }
        message: dict[str, Any] = {
            "id": str(msg_id),
            "type": 0 if interaction is None else 20,
            "channel_id": str(channel.id),
            "guild_id": str(channel.guild_id),
            "author": author_json,
            "content": content,
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": everyone,
            "mentions": [self.users[u].to_json() if u in self.users else {"id": str(u)} for u in users],
            "mention_roles": [str(r) for r in roles],
            "mention_channels": [],
            "attachments": [],
            "embeds": [dict(e, type=e.get("type", "rich")) for e in embeds],
            "reactions": [],
            "pinned": False,
            "flags": int(body.get("flags", 0) or 0),
            "components": body.get("components") or [],
            "sticker_items": [],
        }
        if nonce is not None:
            message["nonce"] = str(nonce)
        if webhook is not None:
            message["webhook_id"] = str(webhook.id)
            if body.get("avatar_url"):
                message["avatar_url"] = body["avatar_url"]
        if interaction is not None:
            message["webhook_id"] = str(self.application_id)
            message["application_id"] = str(self.application_id)
            message["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.payload.get("type", 2),
                "user": interaction.payload.get("member", {}).get("user") or interaction.payload.get("user"),
                "authorizing_integration_owners": {},
            }
        if nonce is not None and body.get("enforce_nonce") and webhook is None:
            self._nonces[key] = (now, message)
        if not (interaction is not None and int(body.get("flags", 0) or 0) & 64):  # ephemeral: not in channel
            self.messages.setdefault(channel.id, []).append(message)
        self._message_event.set()
        return message, True

    def _pings(
        self,
        channel: FakeChannel,
        content: str,
        allowed: Any,
        author: FakeUser,
        webhook: FakeWebhook | None,
    ) -> tuple[bool, list[int], list[int]]:
        """Who the content would notify, as Discord decides it: parse the content, then filter through
        ``allowed_mentions`` (absent = parse everything; @everyone needs Mention Everyone for bots)."""
        guild = self.guilds[channel.guild_id]
        found_users = [int(m.group(2)) for m in MENTION_RE.finditer(content) if m.group(1) in ("", "!")]
        found_roles = [int(m.group(2)) for m in MENTION_RE.finditer(content) if m.group(1) == "&"]
        found_everyone = bool(EVERYONE_RE.search(content))
        if allowed is None:
            parse = {"everyone", "users", "roles"}
            allowed_users: set[int] | None = None
            allowed_roles: set[int] | None = None
        else:
            parse = set(allowed.get("parse", []))
            allowed_users = {int(u) for u in allowed.get("users", [])}
            allowed_roles = {int(r) for r in allowed.get("roles", [])}
        users = [
            u
            for u in dict.fromkeys(found_users)
            if "users" in parse or (allowed_users and u in allowed_users)
        ]
        roles = [
            r
            for r in dict.fromkeys(found_roles)
            if r in guild.roles and ("roles" in parse or (allowed_roles and r in allowed_roles))
        ]
        perms = ALL_PERMISSIONS if webhook is not None else self.permissions(channel, author.id)
        can_everyone = bool(perms & MENTION_EVERYONE)
        roles = [r for r in roles if guild.roles[r].mentionable or can_everyone]
        everyone = found_everyone and "everyone" in parse and can_everyone
        return everyone, users, roles

    # -- webhooks and interaction follow-ups -------------------------------------------------------

    def _interaction_by_token(self, token: str) -> FakeInteraction | None:
        return next((i for i in self.interactions.values() if i.token == token), None)

    async def _webhook_route(
        self, request: web.Request, parts: list[str], body: Any, rec: Recorded
    ) -> web.Response:
        method = request.method
        hook_id = int(parts[1]) if parts[1].isdigit() else 0
        token = parts[2]
        if hook_id == self.application_id:
            return self._followup_route(method, token, parts[3:], body)
        hook = self.webhooks.get(hook_id)
        fault = await self._apply_faults(f"webhook:{hook_id}", method)
        if hook is None:
            raise FakeError(404, 10015, "Unknown Webhook")
        if hook.token != token:
            raise FakeError(401, 50027, "Invalid Webhook Token")
        if method == "GET" and len(parts) == 3:
            return json_response(hook.to_json())
        if method == "POST" and len(parts) == 3:
            headers = self._bucket_headers(f"webhook:{hook_id}")
            channel = self.channel(hook.channel_id)
            if channel is None:
                raise FakeError(404, 10015, "Unknown Webhook")
            username = body.get("username") if isinstance(body, dict) else None
            message, _ = self._create_message(
                channel,
                body,
                author=self.bot,
                webhook=hook,
                username=username if isinstance(username, str) else None,
            )
            if fault is not None:
                await self._released.wait()
                raise FakeError(503, 0, "503: Service Unavailable")
            if request.query.get("wait") in ("1", "true", "True"):
                return json_response(message, headers=headers)
            return web.Response(status=204, headers=headers)
        if method == "GET" and len(parts) == 5 and parts[3] == "messages":
            for m in self.channel_messages(hook.channel_id):
                if m["id"] == parts[4] and m.get("webhook_id") == str(hook.id):
                    return json_response(m)
            raise FakeError(404, 10008, "Unknown Message")
        raise FakeError(404, 0, "404: Not Found")

    def _followup_route(self, method: str, token: str, rest: list[str], body: Any) -> web.Response:
        interaction = self._interaction_by_token(token)
        if interaction is None:
            raise FakeError(404, 10015, "Unknown Webhook")
        channel = self.channel(int(interaction.payload.get("channel_id", 0) or 0))
        if method == "POST" and not rest:
            if channel is None:
                raise FakeError(404, 10003, "Unknown Channel")
            message, _ = self._create_message(channel, body, author=self.bot, interaction=interaction)
            interaction.followups.append(body)
            interaction.followed_up.set()
            return json_response(message)
        if rest[:2] == ["messages", "@original"]:
            if method == "GET":
                if interaction.original is None:
                    raise FakeError(404, 10008, "Unknown Message")
                return json_response(interaction.original)
            if method == "PATCH":
                if not isinstance(body, dict):
                    raise FakeError(400, 50109, "The request body contains invalid JSON.")
                validate_message(body, webhook=True, edit=True)
                if interaction.original is None:
                    if channel is None:
                        raise FakeError(404, 10003, "Unknown Channel")
                    interaction.original, _ = self._create_message(
                        channel,
                        {**body, "content": body.get("content") or "\u200b"},
                        author=self.bot,
                        interaction=interaction,
                    )
                for key in ("content", "embeds", "components", "attachments", "flags"):
                    if key in body:
                        interaction.original[key] = body[key]
                interaction.original["edited_timestamp"] = iso_now()
                interaction.followups.append({"edit_original": body})
                interaction.followed_up.set()
                return json_response(interaction.original)
            if method == "DELETE":
                interaction.original = None
                return web.Response(status=204)
        if len(rest) == 2 and rest[0] == "messages" and method == "PATCH":
            for msg in self.all_messages():
                if msg["id"] == rest[1]:
                    msg.update(
                        {k: v for k, v in (body or {}).items() if k in ("content", "embeds", "components")}
                    )
                    interaction.followups.append({"edit": rest[1], **(body or {})})
                    interaction.followed_up.set()
                    return json_response(msg)
            raise FakeError(404, 10008, "Unknown Message")
        raise FakeError(404, 0, "404: Not Found")

    async def _interaction_callback(
        self, interaction_id: int, token: str, body: Any, rec: Recorded
    ) -> web.Response:
        interaction = self.interactions.get(interaction_id)
        if interaction is None or interaction.token != token:
            raise FakeError(404, 10062, "Unknown interaction")
        if interaction.callbacks:
            raise FakeError(400, 40060, "Interaction has already been acknowledged.")
        if not isinstance(body, dict) or "type" not in body:
            raise form_error(["type"], "BASE_TYPE_REQUIRED", "This field is required")
        kind = int(body["type"])
        data = body.get("data") or {}
        if kind in (4, 7):
            validate_message(data, webhook=True)
        record = dict(body)
        if rec.files:
            record["files"] = rec.files
        interaction.callbacks.append(record)
        interaction.answered.set()
        ephemeral = bool(int(data.get("flags", 0) or 0) & 64)
        answer: dict[str, Any] = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.payload.get("type", 2),
                "response_message_loading": kind == 5,
                "response_message_ephemeral": ephemeral,
            }
        }
        channel = self.channel(int(interaction.payload.get("channel_id", 0) or 0))
        if kind in (4, 5) and channel is not None:
            message_body = {
                **data,
                "content": data.get("content") or ("" if data.get("embeds") else "\u200b"),
            }
            if kind == 5:
                message_body = {"content": "\u200b", "flags": data.get("flags", 0)}
            if rec.files:
                message_body.setdefault("attachments", [{"id": str(i)} for i in range(len(rec.files))])
            message, _ = self._create_message(channel, message_body, author=self.bot, interaction=interaction)
            if rec.files:
                message["attachments"] = [
                    {
                        "id": str(self.next_id()),
                        "filename": name,
                        "size": len(content),
                        "url": f"{self.base_url}/files/{name}",
                    }
                    for name, content in rec.files
                ]
            interaction.original = message
            answer["interaction"]["response_message_id"] = message["id"]
            answer["resource"] = {"type": kind, "message": message}
        else:
            answer["resource"] = {"type": kind}
        return json_response(answer)

    # -- application commands ----------------------------------------------------------------------

    def _commands_route(self, method: str, parts: list[str], body: Any) -> web.Response:
        if parts[1] != str(self.application_id):
            raise FakeError(403, 50001, "Missing Access")
        guild: int | None = None
        rest = parts[2:]
        if rest[:1] == ["guilds"] and len(rest) >= 3:
            guild = int(rest[1])
            rest = rest[2:]
        if rest != ["commands"]:
            raise FakeError(404, 0, "404: Not Found")
        if method == "GET":
            return json_response(self.commands.get(guild, []))
        if method == "PUT":
            if not isinstance(body, list):
                raise FakeError(400, 50035, "Invalid Form Body")
            if len(body) > 100:
                raise form_error([], "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
            stored = []
            for index, cmd in enumerate(body):
                validate_command(cmd, [index])
                stored.append(
                    {
                        **cmd,
                        "id": str(self.next_id()),
                        "application_id": str(self.application_id),
                        "version": str(self.next_id()),
                        "guild_id": str(guild) if guild else None,
                        "default_member_permissions": cmd.get("default_member_permissions"),
                        "type": cmd.get("type", 1),
                    }
                )
            self.commands[guild] = stored
            return json_response(stored)
        raise FakeError(405, 0, "405: Method Not Allowed")

    # -- gateway -----------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        if self._outage is not None:
            raise web.HTTPServiceUnavailable()
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        session = GatewaySession(id=secrets.token_hex(16), ws=ws)
        await ws.send_json(
            {"op": OP_HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}, "s": None, "t": None}
        )
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                op = payload.get("op")
                if op == OP_HEARTBEAT:
                    await ws.send_json({"op": OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None})
                elif op == OP_IDENTIFY:
                    await self._identify(session, payload.get("d") or {})
                elif op == OP_RESUME:
                    await self._resume(session, payload.get("d") or {})
        finally:
            if session.ws is ws:
                session.ws = None
        return ws

    async def _identify(self, session: GatewaySession, data: dict[str, Any]) -> None:
        assert session.ws is not None
        self.identifies.append(data)
        if data.get("token") != self.token:
            await session.ws.close(code=4004, message=b"Authentication failed.")
            return
        intents = int(data.get("intents", 0))
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await session.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        session.intents = intents
        self._sessions[session.id] = session
        ready = {
            "v": 10,
            "user": self._bot_user_json(),
            "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds],
            "session_id": session.id,
            "resume_gateway_url": self.resume_gateway_url or self.gateway_url,
            "session_type": "normal",
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["fake-discord"],
        }
        await self._send_dispatch(session, "READY", ready)
        if intents & 1:  # GUILDS
            for guild in self.guilds.values():
                await self._send_dispatch(session, "GUILD_CREATE", self._guild_json(guild, full=True))
        session.identified.set()
        self._gateway_event.set()

    async def _resume(self, session: GatewaySession, data: dict[str, Any]) -> None:
        assert session.ws is not None
        self.resumes.append(data)
        old = self._sessions.get(str(data.get("session_id")))
        if old is None or data.get("token") != self.token:
            await session.ws.send_json({"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        old.ws = session.ws
        old.resumed += 1
        session.id = old.id
        await self._send_dispatch(old, "RESUMED", {"_trace": ["fake-discord"]})
        old.identified.set()
        self._gateway_event.set()

    async def _send_dispatch(self, session: GatewaySession, event: str, data: Any) -> None:
        if session.ws is None or session.ws.closed:
            return
        session.seq += 1
        await session.ws.send_json({"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data})

    @property
    def connected_sessions(self) -> list[GatewaySession]:
        return [s for s in self._sessions.values() if s.ws is not None and not s.ws.closed]

    async def wait_for_gateway(self, count: int = 1, *, within: float = 10.0) -> None:
        """Waits until ``count`` gateway sessions are connected and identified (or resumed)."""
        async with asyncio.timeout(within):
            while len([s for s in self.connected_sessions if s.identified.is_set()]) < count:
                self._gateway_event.clear()
                await self._gateway_event.wait()

    async def dispatch(self, event: str, data: Any) -> None:
        """Sends a DISPATCH (``t=event``) to every connected gateway session."""
        for session in self.connected_sessions:
            await self._send_dispatch(session, event, data)

    async def drop_gateway(self, code: int | None = 4000) -> None:
        """Closes every gateway connection: with ``code`` (4000 = unknown error, resumable), or abruptly."""
        for session in list(self._sessions.values()):
            ws = session.ws
            if ws is None or ws.closed:
                continue
            session.identified.clear()
            if code is None:
                req = getattr(ws, "_req", None)
                transport = req.transport if req is not None else None
                if transport is not None:
                    transport.abort()
                session.ws = None
            else:
                await ws.close(code=code)

    async def revoke_token(self, new_token: str = "reset-token") -> None:
        """The bot's token is reset (Developer Portal → Reset Token): the old one gets 401 from now on, and
        every gateway session it opened is closed with 4004 (Authentication failed)."""
        self.token = new_token
        sessions = list(self.connected_sessions)
        self._sessions.clear()
        for session in sessions:
            if session.ws is not None:
                session.identified.clear()
                await session.ws.close(code=4004, message=b"Authentication failed.")

    async def invalidate_sessions(self) -> None:
        """Forgets every session and drops the connections: the client's RESUME gets INVALID_SESSION and
        it identifies afresh (a new READY)."""
        sessions = list(self.connected_sessions)
        self._sessions.clear()
        for session in sessions:
            if session.ws is not None:
                await session.ws.close(code=4000)

    async def reconnect_request(self) -> None:
        """Sends op 7 RECONNECT to every session (discord.py then resumes)."""
        for session in self.connected_sessions:
            assert session.ws is not None
            session.identified.clear()
            await session.ws.send_json({"op": OP_RECONNECT, "d": None, "s": None, "t": None})

    # -- interactions ------------------------------------------------------------------------------

    def _member_json(self, guild: FakeGuild, user_id: int) -> dict[str, Any]:
        return {
            "user": self.users[user_id].to_json(),
            "roles": [str(r) for r in guild.members.get(user_id, [])],
            "joined_at": "2024-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "premium_since": None,
            "communication_disabled_until": None,
        }

    def _guild_json(self, guild: FakeGuild, *, full: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [r.to_json() for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "max_video_channel_users": 25,
        }
        if full:
            data.update(
                {
                    "joined_at": "2024-01-01T00:00:00+00:00",
                    "large": False,
                    "unavailable": False,
                    "member_count": len(guild.members),
                    "voice_states": [],
                    # Like Discord without the members intent: only the bot's own member.
                    "members": [self._member_json(guild, self.bot.id)],
                    "channels": [c.to_json() for c in guild.channels.values()],
                    "threads": [],
                    "presences": [],
                    "stage_instances": [],
                    "guild_scheduled_events": [],
                    "soundboard_sounds": [],
                }
            )
        return data

    def command_interaction(
        self,
        name: str,
        options: list[dict[str, Any]] | None = None,
        *,
        user_id: int | None = None,
        channel_id: int | str | None = None,
        guild: FakeGuild | None = None,
        permissions: int | None = None,
        kind: int = 2,
        command_type: int = 1,
    ) -> dict[str, Any]:
        """An INTERACTION_CREATE payload as Discord sends it for ``/name`` (``kind`` 2 = command,
        4 = autocomplete). ``options``: the raw option list (``[{"name":…, "type":3, "value":…}]``, or a
        subcommand ``{"name":…, "type":1, "options":[…]}``). ``user_id``: a member added with
        ``add_member`` (default: the guild owner). ``permissions``: the member's channel permissions
        (default: computed from roles)."""
        g = guild or self.guild
        uid = user_id if user_id is not None else g.owner_id
        channel = (
            self.channel(channel_id) if channel_id is not None else next(iter(g.channels.values()), None)
        )
        assert channel is not None, "add a channel first"
        perms = permissions if permissions is not None else self.permissions(channel, uid)
        registered = next(
            (c for c in self.commands.get(None, []) + self.commands.get(g.id, []) if c["name"] == name), None
        )
        member = self._member_json(g, uid)
        member["permissions"] = str(perms)
        return {
            "id": str(self.next_id()),
            "application_id": str(self.application_id),
            "type": kind,
            "token": secrets.token_urlsafe(64),
            "version": 1,
            "guild_id": str(g.id),
            "guild": {"id": str(g.id), "locale": "en-US", "features": []},
            "guild_locale": "en-US",
            "locale": "en-US",
            "channel_id": str(channel.id),
            "channel": channel.to_json(),
            "member": member,
            "app_permissions": str(self.permissions(channel, self.bot.id)),
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(g.id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
            "data": {
                "id": registered["id"] if registered else str(self.next_id()),
                "name": name,
                "type": command_type,
                "options": options or [],
                "guild_id": str(g.id),
            },
        }

    def component_interaction(
        self,
        custom_id: str,
        message: dict[str, Any],
        *,
        user_id: int | None = None,
        component_type: int = 2,
        values: list[str] | None = None,
    ) -> dict[str, Any]:
        """An INTERACTION_CREATE payload for a click on a button (``component_type`` 2) or a select
        (3, with ``values``) on ``message`` (a message dict from ``messages`` / an interaction's
        ``original``)."""
        payload = self.command_interaction("-", user_id=user_id, channel_id=message["channel_id"], kind=3)
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = values
        payload["data"] = data
        payload["message"] = message
        return payload

    async def send_interaction(self, payload: dict[str, Any]) -> FakeInteraction:
        """Sends ``payload`` (see ``command_interaction``) as INTERACTION_CREATE; the returned object
        collects the bot's callback and follow-ups (``await interaction.answered.wait()``)."""
        interaction = FakeInteraction(int(payload["id"]), payload["token"], payload)
        self.interactions[interaction.id] = interaction
        await self.dispatch("INTERACTION_CREATE", payload)
        return interaction

    # -- control API (standalone use) --------------------------------------------------------------

    async def _control(self, request: web.Request, path: str) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        if path == "/messages":
            return web.json_response({str(k): v for k, v in self.messages.items()})
        if path == "/requests":
            return web.json_response(
                [
                    {"method": r.method, "path": r.path, "status": r.status, "json": r.json, "scope": r.scope}
                    for r in self.requests
                ]
            )
        if path == "/fault":
            fault = Fault(
                kind=body.get("kind", "status"),
                status=int(body.get("status", 503)),
                code=int(body.get("code", 0)),
                message=body.get("message", "fault"),
                retry_after=float(body.get("retry_after", 1.0)),
                is_global=bool(body.get("global", False)),
                times=body.get("times", 1),
                method=body.get("method", "POST"),
            )
            self.inject(fault, channel=body.get("channel"), webhook=body.get("webhook"))
            return web.json_response({"ok": True})
        if path == "/outage":
            await self.outage(body.get("mode", "hang"))
            return web.json_response({"ok": True})
        if path == "/recover":
            await self.recover()
            return web.json_response({"ok": True})
        if path == "/channel":
            channel = self.add_channel(body.get("id"), name=body.get("name"))
            return web.json_response({"id": str(channel.id)})
        if path == "/webhook":
            return web.json_response({"url": self.add_webhook(body["channel"])})
        if path == "/drop-gateway":
            await self.drop_gateway(body.get("code", 4000))
            return web.json_response({"ok": True})
        return web.json_response({"error": "unknown control"}, status=404)


# ---------------------------------------------------------------------------------------------- validation

EMBED_TOTAL = 6000
WEBHOOK_NAME_FORBIDDEN = ("discord", "clyde")


def _text_len(value: Any) -> int:
    return len(value) if isinstance(value, str) else 0


def validate_embed(embed: Any, path: list[str | int]) -> int:
    """Raises a Discord-shaped 400 for an embed over a limit; returns its counted length."""
    if not isinstance(embed, dict):
        raise form_error(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
    limits: list[tuple[str, int]] = [("title", 256), ("description", 4096)]
    total = 0
    for key, limit in limits:
        value = embed.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise form_error([*path, key], "BASE_TYPE_STRING", "Must be a string.")
        if len(value) > limit:
            raise form_error([*path, key], "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
        total += len(value)
    for key in ("url",):
        if key in embed and embed[key] is not None and not is_http_url(embed[key]):
            raise form_error([*path, key], "URL_TYPE_INVALID_URL", "Not a well formed URL.")
    if "color" in embed and embed["color"] is not None:
        color = embed["color"]
        if not isinstance(color, int) or not 0 <= color <= 0xFFFFFF:
            raise form_error([*path, "color"], "NUMBER_TYPE_MAX", "int value should be <= 16777215.")
    if "timestamp" in embed and embed["timestamp"] is not None:
        try:
            datetime.fromisoformat(str(embed["timestamp"]))
        except ValueError:
            raise form_error([*path, "timestamp"], "DATE_TYPE_PARSE", "Could not parse timestamp.") from None
    for key, limit in (("footer", 2048), ("author", 256)):
        part = embed.get(key)
        if part is None:
            continue
        text_key = "text" if key == "footer" else "name"
        text = part.get(text_key) if isinstance(part, dict) else None
        if not isinstance(text, str) or not text:
            raise form_error([*path, key, text_key], "BASE_TYPE_REQUIRED", "This field is required")
        if len(text) > limit:
            raise form_error(
                [*path, key, text_key], "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."
            )
        total += len(text)
        for url_key in ("url", "icon_url"):
            if part.get(url_key) is not None and not is_http_url(part[url_key]):
                raise form_error([*path, key, url_key], "URL_TYPE_INVALID_URL", "Not a well formed URL.")
    for key in ("thumbnail", "image"):
        part = embed.get(key)
        if part is not None and (not isinstance(part, dict) or not is_http_url(part.get("url"))):
            raise form_error([*path, key, "url"], "URL_TYPE_INVALID_URL", "Not a well formed URL.")
    fields = embed.get("fields") or []
    if not isinstance(fields, list):
        raise form_error([*path, "fields"], "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
    if len(fields) > 25:
        raise form_error([*path, "fields"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    for i, f in enumerate(fields):
        for key, limit in (("name", 256), ("value", 1024)):
            value = f.get(key) if isinstance(f, dict) else None
            if not isinstance(value, str) or not value.strip():
                raise form_error([*path, "fields", i, key], "BASE_TYPE_REQUIRED", "This field is required")
            if len(value) > limit:
                raise form_error(
                    [*path, "fields", i, key], "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."
                )
            total += len(value)
    return total


def validate_message(body: dict[str, Any], *, webhook: bool = False, edit: bool = False) -> None:
    """Discord's checks on a message body (create or webhook execute)."""
    content = body.get("content")
    if content is not None and not isinstance(content, str):
        raise form_error(["content"], "BASE_TYPE_STRING", "Must be a string.")
    if _text_len(content) > 2000:
        raise form_error(["content"], "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    embeds = body.get("embeds")
    if embeds is not None:
        if not isinstance(embeds, list):
            raise form_error(["embeds"], "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        if len(embeds) > 10:
            raise form_error(["embeds"], "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        total = 0
        for i, embed in enumerate(embeds):
            total += validate_embed(embed, ["embeds", i])
            if total > EMBED_TOTAL:
                raise form_error(
                    ["embeds", i],
                    "MAX_EMBED_SIZE_EXCEEDED",
                    f"Embed size exceeds maximum size of {EMBED_TOTAL}",
                )
    nonce = body.get("nonce")
    if nonce is not None:
        if isinstance(nonce, str) and len(nonce) > 25:
            raise form_error(["nonce"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        if not isinstance(nonce, str | int):
            raise form_error(["nonce"], "BASE_TYPE_STRING", "Must be a string.")
    allowed = body.get("allowed_mentions")
    if allowed is not None:
        validate_allowed_mentions(allowed)
    if webhook:
        username = body.get("username")
        if username is not None:
            if not isinstance(username, str) or not 1 <= len(username) <= 80:
                raise form_error(["username"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 80 in length.")
            lowered = username.casefold()
            for word in WEBHOOK_NAME_FORBIDDEN:
                if word in lowered:
                    raise form_error(
                        ["username"], "USERNAME_INVALID_CONTAINS", f'Username cannot contain "{word}"'
                    )
            if lowered in ("everyone", "here"):
                raise form_error(["username"], "USERNAME_INVALID", "Username is invalid")
        avatar = body.get("avatar_url")
        if avatar is not None and not is_http_url(avatar):
            raise form_error(["avatar_url"], "URL_TYPE_INVALID_URL", "Not a well formed URL.")


def validate_allowed_mentions(allowed: Any) -> None:
    if not isinstance(allowed, dict):
        raise form_error(
            ["allowed_mentions"], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"
        )
    unknown = set(allowed) - {"parse", "roles", "users", "replied_user"}
    if unknown:
        raise form_error(["allowed_mentions", sorted(unknown)[0]], "UNKNOWN_FIELD", "Unknown field.")
    parse = allowed.get("parse", [])
    if not isinstance(parse, list) or any(p not in ("everyone", "users", "roles") for p in parse):
        raise form_error(
            ["allowed_mentions", "parse"],
            "BASE_TYPE_CHOICES",
            "Value must be one of ('roles', 'users', 'everyone').",
        )
    for key in ("roles", "users"):
        if key not in allowed:
            continue
        ids = allowed[key]
        if not isinstance(ids, list) or any(not str(i).isdigit() for i in ids):
            raise form_error(["allowed_mentions", key], "LIST_TYPE_CONVERT", "Must be a list of snowflakes.")
        if len(ids) > 100:
            raise form_error(
                ["allowed_mentions", key], "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."
            )
        if key in parse:
            raise form_error(
                ["allowed_mentions"],
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{key}"] and {key}: [ids...] are mutually exclusive.',
            )
    if "replied_user" in allowed and not isinstance(allowed["replied_user"], bool):
        raise form_error(
            ["allowed_mentions", "replied_user"], "BASE_TYPE_BOOLEAN", "Must be either true or false."
        )


def validate_command(cmd: Any, path: list[str | int]) -> None:
    if not isinstance(cmd, dict):
        raise form_error(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
    name = cmd.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[-_\w]{1,32}", name) or name != name.lower():
        raise form_error([*path, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    if cmd.get("type", 1) == 1:
        desc = cmd.get("description")
        if not isinstance(desc, str) or not 1 <= len(desc) <= 100:
            raise form_error(
                [*path, "description"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
    options = cmd.get("options") or []
    if len(options) > 25:
        raise form_error([*path, "options"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    for i, opt in enumerate(options):
        validate_command({**opt, "type": 1}, [*path, "options", i])


# ---------------------------------------------------------------------------------------------- pytest + CLI


@contextlib.asynccontextmanager
async def running_fake(**kwargs: Any) -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(**kwargs)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def main(argv: list[str] | None = None, *, ready: Callable[[FakeDiscord], None] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A Discord-compatible fake server on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="fake-token")
    parser.add_argument("--channel", action="append", default=[], help="text channel id (repeatable)")
    parser.add_argument(
        "--webhook-channel", action="append", default=[], help="create a webhook on this channel"
    )
    args = parser.parse_args(argv)

    async def serve() -> None:
        fake = FakeDiscord(token=args.token)
        for cid in args.channel:
            fake.add_channel(cid)
        await fake.start(args.port)
        print(f"DISCORD_API_BASE={fake.api_base}", flush=True)
        print(f"DISCORD_GATEWAY_URL={fake.gateway_url}", flush=True)
        print(f"DISCORD_TOKEN={fake.token}", flush=True)
        for cid in args.webhook_channel:
            if fake.channel(cid) is None:
                fake.add_channel(cid)
            print(f"WEBHOOK {cid} {fake.add_webhook(cid)}", flush=True)
        if ready is not None:
            ready(fake)
        try:
            await asyncio.Event().wait()
        finally:
            await fake.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
