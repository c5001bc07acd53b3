"""Slash commands on Discord: ``install`` puts Newshound's application commands on a client.

* Commands are defined in ``commands`` (names and options from ``bot.commands.catalogue``) and answered
  by ``bot.commands`` through the ``Bridge`` (``bridge``).
* One error handler (``Bridge.on_error``, installed as ``CommandTree.on_error``) answers every failure
  with one ephemeral sentence and logs the unexpected.
* Page buttons are ``DynamicItem`` s whose custom id carries the saved pager and the page
  (``nh:pg:<pager>:<page>``), so they work after a restart too.
* The commands are synced **globally** (``PUT /applications/<id>/commands``) once per login, from
  ``setup_hook`` — before the gateway connects. Global commands show in every server the bot is in. A
  sync that fails for now (rate limited, 5xx, network) never fails the login: it is retried in the
  background.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import discord
from discord import app_commands

from bot.commands import Services
from bot.deliver.discord.client import NewshoundClient, redact
from bot.deliver.discord.slash.bridge import Bridge
from bot.deliver.discord.slash.buttons import BRIDGES, PageButton, page_view
from bot.deliver.discord.slash.commands import build

__all__ = ["Bridge", "SlashCommands", "install"]

log = logging.getLogger(__name__)

SYNC_RETRY_MIN = 10.0
SYNC_RETRY_MAX = 600.0


class SlashCommands:
    """The installed commands: ``tree`` (discord.py's ``CommandTree``) and ``bridge``."""

    def __init__(self, client: discord.Client, bridge: Bridge, *, retry_min: float = SYNC_RETRY_MIN) -> None:
        self.client = client
        self.bridge = bridge
        self.retry_min = retry_min
        self._delay = retry_min
        self._retry: asyncio.Task[None] | None = None
        self.tree: app_commands.CommandTree[Any] = app_commands.CommandTree(client)
        self.tree.on_error = bridge.on_error  # type: ignore[method-assign]
        for command in build(bridge):
            self.tree.add_command(command)
        self.synced: list[app_commands.AppCommand] = []
        BRIDGES[client] = bridge
        client.add_dynamic_items(PageButton)
        bridge.make_view = page_view

    async def sync(self) -> None:
        """Registers the commands with Discord (global), from ``setup_hook``. Never raises: the login must
        not fail over it. A temporary failure (rate limited, 5xx, network) is logged once, as a warning,
        and retried in the background — after Discord's ``retry_after``, else with backoff from
        ``retry_min`` doubling to ``SYNC_RETRY_MAX``. A refusal (4xx) is logged as an error."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        delay = await self._try_sync(retrying=False)
        if delay is not None:
            task = asyncio.create_task(self._sync_later(delay), name="slash-commands-sync")
            self._retry = task
            if isinstance(self.client, NewshoundClient):
                self.client.keep(task)  # cancelled when the client closes

    async def _sync_later(self, delay: float) -> None:
        while True:
            await asyncio.sleep(delay)
            if self.client.is_closed() or self.client.user is None:
                return  # logged out: the next login registers them again
            next_delay = await self._try_sync(retrying=True)
            if next_delay is None:
                return
            delay = next_delay

    async def _try_sync(self, *, retrying: bool) -> float | None:
        """One try; None when done (registered, or refused for good), else how long to wait."""
        try:
            self.synced = await self.tree.sync()
        except discord.RateLimited as exc:
            wait, problem = max(1.0, exc.retry_after), f"rate limited for {exc.retry_after:.0f} s"
        except discord.HTTPException as exc:
            if 400 <= exc.status < 500 and exc.status not in (408, 429):
                log.error("could not register slash commands with Discord: %s", redact(str(exc))[:300])
                return None
            wait, problem = self._backoff(retrying), redact(str(exc))[:300]
        except (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError, RuntimeError) as exc:
            wait, problem = self._backoff(retrying), redact(f"{type(exc).__name__}: {exc}")[:300]
        else:
            self._delay = self.retry_min
            log.info("slash commands registered: %s", ", ".join(sorted(c.name for c in self.synced)))
            return None
        log.log(
            logging.INFO if retrying else logging.WARNING,
            "could not register slash commands with Discord (%s); trying again in %.0f s",
            problem,
            wait,
        )
        return wait

    def _backoff(self, retrying: bool) -> float:
        self._delay = min(self._delay * 2, SYNC_RETRY_MAX) if retrying else self.retry_min
        return self._delay


def install(
    client: NewshoundClient,
    services: Services,
    *,
    admin_role: str | None = None,
    sync: bool = True,
    sync_retry: float = SYNC_RETRY_MIN,
) -> SlashCommands:
    """Puts the commands on ``client``; with ``sync``, registers them with Discord when it logs in (a
    failure is retried in the background, first after ``sync_retry`` seconds unless Discord says)."""
    bridge = Bridge(services, admin_role=admin_role, client=client)
    slash = SlashCommands(client, bridge, retry_min=sync_retry)
    if sync:
        client.on_setup(slash.sync)
    return slash
