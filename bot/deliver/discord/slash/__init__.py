"""Slash commands on Discord: ``install`` puts Newshound's application commands on a client.

* Commands are defined in ``commands`` (names and options from ``bot.commands.catalogue``) and answered
  by ``bot.commands`` through the ``Bridge`` (``bridge``).
* One error handler (``Bridge.on_error``, installed as ``CommandTree.on_error``) answers every failure
  with one ephemeral sentence and logs the unexpected.
* Page buttons are ``DynamicItem`` s whose custom id carries the saved pager and the page
  (``nh:pg:<pager>:<page>``), so they work after a restart too.
* The commands are synced **globally** (``PUT /applications/<id>/commands``) once per start, from
  ``setup_hook`` — before the gateway connects. Global commands show in every server the bot is in.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bot.commands import Services
from bot.deliver.discord.client import NewshoundClient, redact
from bot.deliver.discord.slash.bridge import Bridge
from bot.deliver.discord.slash.buttons import BRIDGES, PageButton, page_view
from bot.deliver.discord.slash.commands import build

__all__ = ["Bridge", "SlashCommands", "install"]

log = logging.getLogger(__name__)


class SlashCommands:
    """The installed commands: ``tree`` (discord.py's ``CommandTree``) and ``bridge``."""

    def __init__(self, client: discord.Client, bridge: Bridge) -> None:
        self.client = client
        self.bridge = bridge
        self.tree: app_commands.CommandTree[Any] = app_commands.CommandTree(client)
        self.tree.on_error = bridge.on_error  # type: ignore[method-assign]
        for command in build(bridge):
            self.tree.add_command(command)
        self.synced: list[app_commands.AppCommand] = []
        BRIDGES[client] = bridge
        client.add_dynamic_items(PageButton)
        bridge.make_view = page_view

    async def sync(self) -> None:
        """Registers the commands with Discord (global). A failure is logged; the bot keeps running."""
        try:
            self.synced = await self.tree.sync()
        except discord.HTTPException as exc:
            log.error("could not register slash commands with Discord: %s", redact(str(exc))[:300])
        else:
            log.info("slash commands registered: %s", ", ".join(sorted(c.name for c in self.synced)))


def install(
    client: NewshoundClient, services: Services, *, admin_role: str | None = None, sync: bool = True
) -> SlashCommands:
    """Puts the commands on ``client``; with ``sync``, registers them with Discord when it logs in."""
    slash = SlashCommands(client, Bridge(services, admin_role=admin_role, client=client))
    if sync:
        client.on_setup(slash.sync)
    return slash
