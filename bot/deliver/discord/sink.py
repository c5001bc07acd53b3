"""Sinks that deliver alerts to Discord: a bot posting in channels, and webhooks.

Both go through discord.py's real HTTP code — channel messages built by ``handle_message_parameters`` (what
``Messageable.send`` uses; it adds ``enforce_nonce``) and sent by ``HTTPClient.request`` with a timeout per
HTTP attempt; webhooks by ``Webhook.send`` — and never raise for delivery problems: every outcome becomes a
``DeliveryResult``.

* 5xx, timeouts, connection errors → ``retry`` (the worker backs off);
* 429 → discord.py waits inside ``send`` as told (each channel is its own bucket, and the worker runs each
  target in its own task, so one channel's wait never holds up another); a wait longer than the client's
  ``max_ratelimit_timeout`` comes back as ``retry`` with Discord's ``retry_after`` — for webhooks too,
  whose discord.py code has no such limit: ``WebhookSink`` watches the answers and cuts the wait short;
* 403 / 404 / other 4xx → ``failed`` with the reason (the worker tells the admin channel once).

Exactly once: a channel message carries a nonce derived from the outbox row (``nonce_for``) and discord.py
sends ``enforce_nonce``, so Discord answers a resend within its nonce window with the original message.
An alert that was attempted before (``OutboxAlert.sending_at``: a crash or a timeout may have left it
delivered but unrecorded) is first looked for in the channel's recent history — our own message with the
same nonce, or the same headline and link — and, if found, recorded as sent instead of being sent again.
Webhooks have no nonce; the same history check is made through the bot when there is one (see
docs/discord.md for what that guarantees).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import discord
from discord.http import Route, handle_message_parameters

from bot.deliver import DeliveryResult, OutboxAlert, Sink, Target
from bot.deliver.discord.client import install_log_redaction, redact
from bot.deliver.discord.render import (
    Rendered,
    render_alert,
    render_digest,
    render_notice,
    webhook_username,
)
from bot.markup import safe_url

log = logging.getLogger(__name__)

DISCORD_HOSTS = frozenset(
    {"discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com", "www.discord.com"}
)
_WEBHOOK_URL = re.compile(r"/webhooks/(\d{15,21})/([\w.\-]+)", re.ASCII)
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
#: How far back (before the first attempt) the history check looks, for clock skew.
HISTORY_MARGIN = 120.0
HISTORY_PAGES = 5


def _base36(n: int) -> str:
    n = abs(int(n))
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _B36[r] + out
        if n == 0:
            return out


def nonce_for(item: OutboxAlert) -> str:
    """A nonce (≤ 25 chars) fixed for this outbox row: its id plus its creation time in ms, so a resend
    of the same alert has the same nonce and a new database (ids starting over) does not collide."""
    return f"nh{_base36(item.id)}.{_base36(int(item.created_at * 1000))}"[:25]


def digest_nonce(items: Sequence[OutboxAlert]) -> str:
    """Fixed for a given list of alerts (first and last id, the first's creation time)."""
    first, last = items[0], items[-1]
    return f"nd{_base36(first.id)}.{_base36(last.id)}.{_base36(int(first.created_at * 1000) % 36**6)}"[:25]


def parse_webhook(url: str) -> tuple[int, str] | None:
    """``(id, token)`` of a webhook URL (any host: requests go to ``DISCORD_API_BASE``), or None."""
    m = _WEBHOOK_URL.search(url or "")
    return (int(m.group(1)), m.group(2)) if m else None


def describe(exc: discord.HTTPException) -> str:
    """``403 Forbidden: Missing Access (code 50001)`` — one line, no secrets."""
    reason = getattr(exc.response, "reason", "") or ""
    text = " ".join((exc.text or "").split())
    head = f"{exc.status} {reason}".strip()
    detail = f": {text}" if text else ""
    code = f" (code {exc.code})" if exc.code else ""
    return redact(f"{head}{detail}{code}")[:400]


def classify(exc: BaseException) -> DeliveryResult:
    """What a failed send means for the alert."""
    if isinstance(exc, discord.RateLimited):
        return DeliveryResult.retry(f"rate limited for {exc.retry_after:.1f} s", after=exc.retry_after)
    if isinstance(exc, discord.HTTPException):
        text = describe(exc)
        if exc.status == 429:  # 429 without Via: Cloudflare, not Discord — back off for a while
            return DeliveryResult.retry(text, after=60.0)
        if exc.status >= 500 or exc.status in (408, 425):
            return DeliveryResult.retry(text)
        if exc.status == 401 and exc.code == 50027:  # Invalid Webhook Token: the URL is wrong, for good
            return DeliveryResult.failed(f"{text} — the webhook URL's token is wrong; copy the URL again")
        if exc.status == 401:
            return DeliveryResult.retry(f"{text} — check DISCORD_TOKEN", after=300.0)
        return DeliveryResult.failed(text)
    if isinstance(exc, TimeoutError):
        return DeliveryResult.retry("Discord did not answer in time")
    if isinstance(exc, aiohttp.ClientError | OSError | discord.GatewayNotFound | discord.ConnectionClosed):
        return DeliveryResult.retry(redact(f"cannot reach Discord: {type(exc).__name__}: {exc}")[:300])
    if isinstance(exc, RuntimeError) and "closed" in str(exc).lower():
        # aiohttp's "Session is closed": discord.py closed the client (a gateway close it cannot resume)
        # and the bot is logging in again.
        return DeliveryResult.retry("not connected to Discord (the session was closed; reconnecting)")
    raise exc


def allowed_mentions(rendered: Rendered) -> discord.AllowedMentions:
    """Exactly the rule's roles; never @everyone/@here, users or the replied user."""
    return discord.AllowedMentions(
        everyone=False,
        users=False,
        roles=[discord.Object(r) for r in rendered.roles],
        replied_user=False,
    )


def _matches(message: dict[str, Any], rendered: Rendered, nonce: str | None) -> bool:
    if nonce is not None and str(message.get("nonce") or "") == nonce:
        return True
    embeds = message.get("embeds") or []
    if not embeds:
        return False
    first = embeds[0]
    want = rendered.embed
    if (first.get("title") or "") != (want.get("title") or ""):
        return False
    if want.get("url"):
        return bool(first.get("url") == want.get("url"))
    return (first.get("description") or "")[:200] == (want.get("description") or "")[:200]


#: What stops a request for now (RuntimeError: a closed session while the bot reconnects).
_FOR_NOW = (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError, RuntimeError)


async def find_posted(
    client: discord.Client,
    channel_id: int,
    *,
    since: float,
    rendered: Rendered,
    nonce: str | None,
    author_id: int | None = None,
    webhook_id: int | None = None,
    within: float = 30.0,
) -> str | None:
    """The id of a message already in ``channel_id`` (posted at or after ``since``, by us / by the webhook)
    that is this alert, or None. Needs Read Message History: a refusal (403, 404) means "not found", but
    a check that could not be made for now (a closed session while the bot reconnects, a network error, a
    5xx, a timeout) raises ``HistoryUnavailable`` — resending then could post the alert twice."""
    after = discord.utils.time_snowflake(datetime.fromtimestamp(max(0.0, since - HISTORY_MARGIN), UTC))
    try:
        async with asyncio.timeout(within):
            for _ in range(HISTORY_PAGES):
                raw: Any = await client.http.logs_from(channel_id, 100, after=after)
                page: list[dict[str, Any]] = list(raw)
                for message in page:
                    if webhook_id is not None and str(message.get("webhook_id") or "") != str(webhook_id):
                        continue
                    if webhook_id is None and str((message.get("author") or {}).get("id")) != str(author_id):
                        continue
                    if _matches(message, rendered, nonce):
                        return str(message["id"])
                if len(page) < 100:
                    return None
                after = max(int(m["id"]) for m in page)
    except (discord.Forbidden, discord.NotFound, KeyError, ValueError) as exc:
        log.info("history check in channel %s skipped: %s", channel_id, redact(str(exc))[:200])
    except _FOR_NOW as exc:
        raise HistoryUnavailable.of(exc) from exc
    return None


class HistoryUnavailable(Exception):
    """The channel's history could not be read for now, so whether an earlier attempt arrived is unknown."""

    @classmethod
    def of(cls, exc: BaseException) -> HistoryUnavailable:
        return cls(redact(str(exc))[:200] or type(exc).__name__)

    def retry(self) -> DeliveryResult:
        """Try again later, looking first (resending now could post the alert twice)."""
        return DeliveryResult.retry(f"could not check whether the earlier attempt arrived: {self}")


class AdminChannelUnavailable(Exception):
    """An admin notice could not be posted for now (Discord unreachable, rate limited)."""


class DiscordSink:
    """Posts alerts as the bot in channels (``Target.channel``)."""

    name = "discord"

    def __init__(
        self,
        client: discord.Client,
        *,
        admin_channel: str | None = None,
        timeout: float = 60.0,
        ready_timeout: float | None = None,
    ) -> None:
        install_log_redaction(client.http.token)
        self.client = client
        self.admin_channel = admin_channel
        self.timeout = timeout
        self.ready_timeout = timeout if ready_timeout is None else ready_timeout
        self.logged_in = asyncio.Event()

    @property
    def overall_timeout(self) -> float:
        """A safety net over one whole send: discord.py may wait out rate limits (up to the client's
        ``max_ratelimit_timeout``) and retry a 5xx five times, each attempt bounded by ``timeout``."""
        limit = getattr(self.client.http, "max_ratelimit_timeout", None) or 30.0
        return 5 * (self.timeout + 9.0) + 2 * limit

    def _bot_id(self) -> int | None:
        return self.client.user.id if self.client.user is not None else None

    async def _wait_logged_in(self) -> bool:
        if self.client.user is not None:
            return True
        try:
            async with asyncio.timeout(self.ready_timeout):
                await self.logged_in.wait()
        except TimeoutError:
            return False
        return self.client.user is not None

    async def post(
        self, channel_id: int, rendered: Rendered, *, nonce: str | None, since: float | None = None
    ) -> DeliveryResult:
        """Sends ``rendered`` to ``channel_id``. ``since``: a previous attempt started then — look for it
        in the channel first."""
        if not await self._wait_logged_in() or self.client.is_closed():
            return DeliveryResult.retry("not connected to Discord yet")
        if since is not None:
            try:
                found = await find_posted(
                    self.client,
                    channel_id,
                    since=since,
                    rendered=rendered,
                    nonce=nonce,
                    author_id=self._bot_id(),
                    within=2 * self.timeout,
                )
            except HistoryUnavailable as exc:
                return exc.retry()
            if found is not None:
                log.info(
                    "alert already in channel %s as message %s (sent before a restart)", channel_id, found
                )
                return DeliveryResult.sent(found)
        # Messageable.send's own path (handle_message_parameters adds ``enforce_nonce``), through
        # HTTPClient.request, with a timeout per HTTP attempt: discord.py's rate-limit sleeps are not cut
        # short, a server that never answers is.
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
        params = handle_message_parameters(
            content=rendered.content or None,
            embed=discord.Embed.from_dict(rendered.embed),
            nonce=nonce,
            allowed_mentions=allowed_mentions(rendered),
            previous_allowed_mentions=self.client.allowed_mentions,
        )
        try:
            async with asyncio.timeout(self.overall_timeout):
                with params:
                    data = await self.client.http.request(
                        route, json=params.payload, timeout=aiohttp.ClientTimeout(total=self.timeout)
                    )
        except (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError, RuntimeError) as exc:
            return classify(exc)
        message_id = data.get("id") if isinstance(data, dict) else None
        if not message_id:
            return DeliveryResult.retry("Discord answered without a message id")
        return DeliveryResult.sent(str(message_id))

    async def send(self, item: OutboxAlert) -> DeliveryResult:
        channel = item.target.channel
        if not channel or not channel.isdigit():
            return DeliveryResult.failed(f"not a Discord channel id: {channel!r}")
        return await self.post(
            int(channel), render_alert(item.alert), nonce=nonce_for(item), since=item.sending_at
        )

    def collapses(self, target: Target) -> bool:
        return True

    async def send_digest(self, items: Sequence[OutboxAlert]) -> tuple[DeliveryResult, int]:
        rendered = render_digest([i.alert for i in items])
        taken = list(items[: rendered.alerts])
        channel = items[0].target.channel
        if not channel or not channel.isdigit():
            return DeliveryResult.failed(f"not a Discord channel id: {channel!r}"), len(taken)
        since = min((i.sending_at for i in taken if i.sending_at is not None), default=None)
        result = await self.post(int(channel), rendered, nonce=digest_nonce(taken), since=since)
        return result, len(taken)

    async def notify_admin(self, text: str) -> None:
        """Posts ``text`` to the admin channel. Raises ``AdminChannelUnavailable`` when Discord could not
        be reached (the caller may retry); a permanent refusal (no access, unknown channel) is logged."""
        if not self.admin_channel or not self.admin_channel.isdigit():
            log.warning("admin notice (no NEWSHOUND_ADMIN_CHANNEL): %s", text)
            return
        result = await self.post(int(self.admin_channel), render_notice(text), nonce=None)
        if result.status == "retry":
            raise AdminChannelUnavailable(result.error or "Discord unreachable")
        if result.status == "failed":
            log.warning("the admin channel refuses notices (%s): %s", result.error, text)


@dataclass(slots=True)
class _RateLimitWatch:
    """One webhook send: notes a 429 whose wait is longer than ``limit``, and cancels the send (which
    discord.py's webhook code would otherwise sleep through, however long Discord asked it to wait)."""

    limit: float
    send: asyncio.Task[Any] | None = None
    retry_after: float | None = None


_WATCH: contextvars.ContextVar[_RateLimitWatch | None] = contextvars.ContextVar("webhook_watch", default=None)


async def _on_webhook_answer(
    _session: aiohttp.ClientSession, _ctx: Any, params: aiohttp.TraceRequestEndParams
) -> None:
    """aiohttp trace hook of the webhook session: runs in the send's own task, so it sees its watch."""
    watch = _WATCH.get()
    response = params.response
    if watch is None or response.status != 429 or not response.headers.get("Via"):
        return  # a 429 without Via is Cloudflare's: discord.py raises it at once
    retry_after: float | None = None
    with contextlib.suppress(Exception):  # the body is cached: discord.py reads the same bytes next
        body = json.loads(await response.read())
        retry_after = float(body["retry_after"])
    if retry_after is None:
        header = response.headers.get("X-RateLimit-Reset-After") or response.headers.get("Retry-After")
        with contextlib.suppress(TypeError, ValueError):
            retry_after = float(header or "")
    if retry_after is not None and retry_after > watch.limit and watch.send is not None:
        watch.retry_after = retry_after
        watch.send.cancel()


class WebhookSink:
    """Posts alerts through webhook URLs (``Target.webhook``), with the feed's username and avatar.

    Needs no bot token: requests go to ``DISCORD_API_BASE`` + ``/webhooks/<id>/<token>`` over its own
    HTTP session. With a ``client`` (a logged-in bot that can read the webhook's channel), an alert that
    was attempted before is first looked for in the channel's history."""

    name = "webhook"

    def __init__(
        self,
        *,
        timeout: float = 60.0,
        client: discord.Client | None = None,
        admin: Callable[[str], Awaitable[None]] | None = None,
        max_wait: float = 30.0,
    ) -> None:
        install_log_redaction()  # discord.py logs webhook URLs (with their token) at DEBUG
        self.timeout = timeout
        #: A 429 asking to wait longer than this comes back as a retry at Discord's time (as for channels).
        self.max_wait = max_wait
        self.client = client
        self.admin = admin
        self._session: aiohttp.ClientSession | None = None
        self._channels: dict[int, int] = {}
        self._warned: set[str] = set()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # Each HTTP attempt is bounded (discord.py's webhook code retries 5xx and waits out 429s
            # between attempts, outside this timeout).
            trace = aiohttp.TraceConfig()
            trace.on_request_end.append(_on_webhook_answer)
            self._session = aiohttp.ClientSession(
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                trace_configs=[trace],
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def _webhook_channel(self, hook: discord.Webhook) -> int | None:
        if hook.id in self._channels:
            return self._channels[hook.id]
        try:
            full = await hook.fetch(prefer_auth=False)
        except (discord.Forbidden, discord.NotFound):
            return None  # the send will say what is wrong with the webhook
        except _FOR_NOW as exc:
            raise HistoryUnavailable.of(exc) from exc
        if full.channel_id is not None:
            self._channels[hook.id] = full.channel_id
        return full.channel_id

    def _warn_other_host(self, target: Target) -> None:
        """Webhook requests go to DISCORD_API_BASE (so a proxy is never bypassed); say so once when a
        webhook URL names some other server."""
        host = urlsplit(target.webhook or "").hostname or ""
        api = urlsplit(Route.BASE).hostname or ""
        if host and host != api and host not in DISCORD_HOSTS and target.key not in self._warned:
            self._warned.add(target.key)
            log.warning(
                "%s: the webhook URL names %s; it is sent to DISCORD_API_BASE (%s)", target.key, host, api
            )

    async def post(
        self, target: Target, rendered: Rendered, *, since: float | None = None, nonce: str | None = None
    ) -> DeliveryResult:
        parsed = parse_webhook(target.webhook or "")
        if parsed is None:
            return DeliveryResult.failed("not a Discord webhook URL")
        hook = discord.Webhook.partial(parsed[0], parsed[1], session=self._http())
        self._warn_other_host(target)
        if since is not None and self.client is not None:
            # An earlier attempt may have arrived: look for it through the bot first (with no bot at all,
            # there is no way to look, and the alert is sent again — docs/discord.md says so).
            if self.client.user is None or self.client.is_closed():
                return DeliveryResult.retry("not connected to Discord: will look for the earlier attempt")
            try:
                channel_id = await self._webhook_channel(hook)
                found = (
                    None
                    if channel_id is None
                    else await find_posted(
                        self.client,
                        channel_id,
                        since=since,
                        rendered=rendered,
                        nonce=nonce,
                        webhook_id=hook.id,
                        within=2 * self.timeout,
                    )
                )
            except HistoryUnavailable as exc:
                return exc.retry()
            if found is not None:
                log.info("alert already posted by %s as message %s", target.key, found)
                return DeliveryResult.sent(found)
        username = webhook_username(target.username)
        avatar = safe_url(target.avatar)
        send = hook.send(
            content=rendered.content,
            embed=discord.Embed.from_dict(rendered.embed),
            username=username or discord.utils.MISSING,
            avatar_url=avatar or discord.utils.MISSING,
            allowed_mentions=allowed_mentions(rendered),
            wait=True,
        )
        try:
            async with asyncio.timeout(5 * (self.timeout + 9.0) + 2 * self.max_wait):
                message = await self._watched(send)
        except (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            return classify(exc)
        return DeliveryResult.sent(str(message.id))

    async def _watched(self, send: Coroutine[Any, Any, discord.WebhookMessage]) -> discord.WebhookMessage:
        """Runs a webhook ``send`` in a task of its own, under a ``_RateLimitWatch``: discord.py's webhook
        code sleeps through every 429 (no ``max_ratelimit_timeout`` there), so a long one cancels the
        send — nothing was posted — and raises ``RateLimited`` with Discord's ``retry_after``."""
        watch = _RateLimitWatch(limit=self.max_wait)
        reset = _WATCH.set(watch)
        try:
            task = asyncio.create_task(send)  # copies the context: the trace hook finds ``watch``
        finally:
            _WATCH.reset(reset)
        watch.send = task
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if watch.retry_after is None or (current is not None and current.cancelling()):
                raise
            raise discord.RateLimited(watch.retry_after) from None

    async def send(self, item: OutboxAlert) -> DeliveryResult:
        return await self.post(item.target, render_alert(item.alert), since=item.sending_at)

    def collapses(self, target: Target) -> bool:
        return True

    async def send_digest(self, items: Sequence[OutboxAlert]) -> tuple[DeliveryResult, int]:
        rendered = render_digest([i.alert for i in items])
        taken = list(items[: rendered.alerts])
        since = min((i.sending_at for i in taken if i.sending_at is not None), default=None)
        return await self.post(items[0].target, rendered, since=since), len(taken)

    async def notify_admin(self, text: str) -> None:
        if self.admin is not None:
            await self.admin(text)
        else:
            log.warning("admin notice: %s", text)


class DiscordDelivery:
    """The sink the worker sees: webhook targets go to ``webhooks``, channel targets to ``channels`` (the
    bot), or — with no bot token — to ``fallback`` (the console)."""

    name = "discord"

    def __init__(
        self,
        *,
        channels: DiscordSink | None,
        webhooks: WebhookSink,
        fallback: Sink | None = None,
    ) -> None:
        self.channels = channels
        self.webhooks = webhooks
        self.fallback = fallback
        if channels is None:
            self.name = "webhooks + console" if fallback is not None else "webhooks"

    async def send(self, item: OutboxAlert) -> DeliveryResult:
        if item.target.webhook:
            return await self.webhooks.send(item)
        if self.channels is not None:
            return await self.channels.send(item)
        if self.fallback is not None:
            return await self.fallback.send(item)
        return DeliveryResult.failed("no DISCORD_TOKEN: cannot post in a channel")

    def collapses(self, target: Target) -> bool:
        """Webhooks and (with a token) channels do; channel alerts printed in the terminal do not."""
        return bool(target.webhook) or self.channels is not None

    async def send_digest(self, items: Sequence[OutboxAlert]) -> tuple[DeliveryResult, int]:
        if items[0].target.webhook:
            return await self.webhooks.send_digest(items)
        if self.channels is not None:
            return await self.channels.send_digest(items)
        # The console has no floods to collapse: one at a time.
        return await self.send(items[0]), 1

    async def notify_admin(self, text: str) -> None:
        if self.channels is not None:
            await self.channels.notify_admin(text)
        elif self.fallback is not None:
            await self.fallback.notify_admin(text)
        else:
            log.warning("admin notice: %s", text)

    async def close(self) -> None:
        await self.webhooks.close()
