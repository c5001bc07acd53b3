"""One process's Discord side: endpoints applied, the client logged in and connected (with retries), and
the sink the delivery worker uses (bot for channels, webhooks for webhook targets)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

import aiohttp
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
from bot.deliver.discord.sink import DiscordDelivery, DiscordSink, WebhookSink

log = logging.getLogger(__name__)

LOGIN_RETRY_MAX = 60.0


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
        self._task: asyncio.Task[None] | None = None

    def on_ready(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Runs ``hook`` after every READY / RESUMED (the gateway is back)."""
        if self.client is not None:
            self.client.on_every_ready(hook)

    async def _report(self, problem: ChannelProblem) -> None:
        if self.channels is not None:
            await self.channels.notify_admin(f"Newshound {problem.describe()}.")

    async def start(self) -> None:
        if self.client is None:
            self.login_done.set()
            return
        self._task = asyncio.create_task(self._run(), name="discord")

    async def _run(self) -> None:
        assert self.client is not None and self.channels is not None and self.token
        delay = 1.0
        while True:
            try:
                await self.client.login(self.token)
                break
            except discord.LoginFailure:
                self.login_error = "DISCORD_TOKEN was rejected by Discord (401 Unauthorized)"
                log.error("%s", self.login_error)
                await self.client.http.close()
                self.login_done.set()
                self.channels.logged_in.set()
                return
            except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.warning(
                    "cannot log in to Discord (%s); retrying in %.0f s", redact(str(exc))[:200], delay
                )
                await self.client.http.close()
                await asyncio.sleep(delay)
                delay = min(delay * 2, LOGIN_RETRY_MAX)
        log.info("logged in to Discord as %s", self.client.user)
        self.login_done.set()
        self.channels.logged_in.set()
        try:
            await self.client.connect(reconnect=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the gateway gave up (e.g. disallowed intents); REST delivery goes on
            log.error("Discord gateway connection ended: %s", redact(str(exc))[:300])

    async def wait_logged_in(self, within: float) -> bool:
        """True once logged in (False on a rejected token or after ``within`` seconds)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self.login_done.wait()
        return self.client is not None and self.client.user is not None and self.login_error is None

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
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.sink.close()
