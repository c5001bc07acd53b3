"""One process's Discord side: endpoints applied, the client logged in and connected (with retries), and
the sink the delivery worker uses (bot for channels, webhooks for webhook targets)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

import discord

from bot.deliver import Sink
from bot.deliver.discord.checks import ChannelUse
from bot.deliver.discord.client import (
    ChannelProblem,
    NewshoundClient,
    apply_endpoints,
    install_log_redaction,
    redact,
)
from bot.deliver.discord.sink import AdminChannelUnavailable, DiscordDelivery, DiscordSink, WebhookSink
from bot.store import NoticeDraft

log = logging.getLogger(__name__)

LOGIN_RETRY_MAX = 60.0
#: The longest wait before connecting again after the gateway ended for good (a close code discord.py does
#: not resume). Discord allows 1,000 identifies a day and resets the token beyond: a close that keeps coming
#: back is retried hourly at most, not every minute.
GATEWAY_RETRY_MAX = 3600.0
REJECTED = "DISCORD_TOKEN was rejected by Discord (401 Unauthorized)"
REVOKED = "DISCORD_TOKEN was rejected by Discord (gateway closed with 4004: authentication failed)"
CLOSE_TIMEOUT = 3.0


class DiscordRuntime:
    """Build it, ``await start()`` (returns at once; login and the gateway run in the background), hand
    ``sink`` to the worker, ``await close()`` at the end. Without a token only webhooks are served and
    channel alerts go to ``fallback``."""

    def __init__(
        self,
        *,
        token: str | None,
        api_base: str | None = None,
        gateway_url: str | None = None,
        admin_channel: str | None = None,
        send_timeout: float = 60.0,
        channel_uses: Callable[[], Iterable[ChannelUse]] | None = None,
        fallback: Sink | None = None,
        guild_ready_timeout: float = 1.0,
        reidentify_delay: float = 5.0,
    ) -> None:
        install_log_redaction(token)
        self.token = token
        self.endpoints = apply_endpoints(api_base, gateway_url)
        self.client: NewshoundClient | None = None
        self.channels: DiscordSink | None = None
        if token:
            self.client = NewshoundClient(
                endpoints=self.endpoints,
                channel_uses=channel_uses,
                report=self._report,
                guild_ready_timeout=guild_ready_timeout,
                reidentify_delay=reidentify_delay,
            )
            self.channels = DiscordSink(self.client, admin_channel=admin_channel, timeout=send_timeout)
        self.webhooks = WebhookSink(
            timeout=send_timeout,
            client=self.client,
            admin=self.channels.notify_admin if self.channels is not None else None,
        )
        self.sink = DiscordDelivery(channels=self.channels, webhooks=self.webhooks, fallback=fallback)
        self.login_done = asyncio.Event()  # set when logged in, or when login failed for good
        self.login_error: str | None = None  # set when Discord rejected the token
        self.rejected = asyncio.Event()  # set with login_error: at start-up, or a 4004 close later
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._queue_notice: Callable[[NoticeDraft], Awaitable[None]] | None = None

    def on_ready(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Runs ``hook`` after every READY / RESUMED (the gateway is back)."""
        if self.client is not None:
            self.client.on_every_ready(hook)

    async def recheck_channels(self) -> None:
        """Checks the channels again (after the rules changed); new problems are reported once."""
        if self.client is not None and self.client.is_ready():
            await self.client.check_channels()

    def queue_notices_with(self, queue: Callable[[NoticeDraft], Awaitable[None]]) -> None:
        """Channel-check notices go through ``queue`` (the store's notices outbox: kept until the admin
        channel takes them, and retried) instead of being posted once."""
        self._queue_notice = queue

    async def _report(self, problem: ChannelProblem) -> None:
        text = f"Newshound {problem.describe()}."
        if self._queue_notice is not None:
            assert self.client is not None
            seen = self.client.reported.get(problem.key, 0.0)
            # One notice per occurrence of a problem: the same key again (a new READY, a reload) is a
            # no-op; a problem fixed and back later is a new occurrence, with a new key.
            key = f"channel:{problem.channel}:{','.join(problem.missing) or 'not visible'}:{seen:.3f}"
            await self._queue_notice(NoticeDraft(key=key, kind="channel", text=text))
        elif self.channels is not None:
            try:
                await self.channels.notify_admin(text)
            except AdminChannelUnavailable as exc:
                log.warning("could not post to the admin channel: %s", exc)

    async def start(self) -> None:
        if self.client is None:
            self.login_done.set()
            return
        self._task = asyncio.create_task(self._run(), name="discord")

    def _reject(self, error: str) -> None:
        """Discord refused the token: ``run`` stops (exit 2) and nothing waits for a login any more."""
        assert self.channels is not None
        self.login_error = error
        log.error("%s", error)
        self.login_done.set()
        self.rejected.set()
        self.channels.logged_in.set()

    async def _run(self) -> None:
        """Logs in and connects; when the gateway ends for good (discord.py closes the client on the close
        codes it cannot resume: 4010–4014), logs in and connects afresh, with backoff. A 4004 close
        (authentication failed: the token was reset or revoked) is a rejected token, as at start-up."""
        assert self.client is not None
        delay = 1.0
        while not self._closing:
            if not await self._log_in():
                return
            started = time.monotonic()
            try:
                await self.client.connect(reconnect=True)
            except asyncio.CancelledError:
                raise
            except discord.ConnectionClosed as exc:
                if exc.code == 4004:
                    await self._reset_http()  # sends report "not connected" instead of a closed session
                    self._reject(REVOKED)
                    return
                reason = f"the gateway closed with code {exc.code}"
            except Exception as exc:  # e.g. disallowed intents (4014), or the gateway not found
                reason = redact(str(exc))[:300]
            else:
                reason = "the client was closed"
            if self._closing:
                return
            if time.monotonic() - started > LOGIN_RETRY_MAX:
                delay = 1.0  # it was up for a while: this is a new trouble, not the same one again
            log.error("Discord connection ended (%s); logging in again in %.0f s", reason, delay)
            await self._reset_http()
            await asyncio.sleep(delay)
            delay = min(delay * 2, GATEWAY_RETRY_MAX)

    async def _log_in(self) -> bool:
        """Logs in, retrying with backoff while Discord is unreachable or failing; False when Discord
        rejected the token."""
        assert self.client is not None and self.token
        delay = 1.0
        while True:
            try:
                await self.client.login(self.token)
                break
            except discord.LoginFailure:
                await self._reset_http()
                self._reject(REJECTED)
                return False
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Discord unreachable or failing: keep trying, polling goes on
                log.warning(
                    "cannot log in to Discord (%s); retrying in %.0f s", redact(str(exc))[:200], delay
                )
                await self._reset_http()
                await asyncio.sleep(delay)
                delay = min(delay * 2, LOGIN_RETRY_MAX)
        log.info("logged in to Discord as %s", self.client.user)
        self.login_done.set()
        if self.channels is not None:
            self.channels.logged_in.set()
        return True

    async def _reset_http(self) -> None:
        """After a failed login, or a gateway that ended for good: closes what is left of the HTTP
        session and forgets the logged-in user, so sends wait for the next login instead of going
        through a closed session (see ``NewshoundClient.reopen``)."""
        assert self.client is not None
        try:
            await self.client.reopen()
        except Exception:  # never stop trying to log in over a cleanup problem
            log.debug("resetting the Discord client failed", exc_info=True)

    async def wait_logged_in(self, within: float) -> bool:
        """True once logged in (False on a rejected token or after ``within`` seconds)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self.login_done.wait()
        return self.client is not None and self.client.user is not None and self.login_error is None

    def stop_waiting_for_login(self) -> None:
        """Channel sends stop waiting for a login (they report "not connected" at once)."""
        if self.channels is not None:
            self.channels.logged_in.set()

    async def wait_ready(self, within: float) -> bool:
        """True once the gateway is READY and the channel check has run."""
        if self.client is None:
            return False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self.client.checked.wait()
                return True
        return False

    async def close(self) -> None:
        """Disconnects (bounded: a gateway that no longer answers must not hold up a SIGTERM)."""
        self._closing = True
        if self._task is not None:  # first, so it does not log in again while the client closes
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.client is not None:
            self.client.forget_cancelled_close()  # a close cut short (by the cancel above) is done again
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await self.client.close()
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # this close itself is being cancelled
            except Exception:
                log.debug("closing the Discord client failed", exc_info=True)
        await self.sink.close()
