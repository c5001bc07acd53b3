"""The application commands: ``/rule …`` and ``/feed …`` groups and the top-level commands, with the names,
options and descriptions of ``bot.commands.catalogue``. Each callback only hands its options to the
matching ``bot.commands`` function through the ``Bridge``; admin commands carry a check (in code, whatever
``default_member_permissions`` says) and answer ephemerally (``extras={"private": True}``)."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.commands import admin, answers
from bot.commands.catalogue import info
from bot.deliver.discord.slash.bridge import Bridge, option_names
from bot.markup import one_line
from bot.match import fold


def _describe(path: str) -> dict[str, str]:
    return {o.name: o.description for o in info(path).options}


def _desc(path: str) -> str:
    return info(path).description


class ChannelId(app_commands.Transformer[Any]):
    """A text channel option, handed on as its id (``resolved`` data is not needed)."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return [discord.ChannelType.text, discord.ChannelType.news]

    async def transform(self, interaction: Interaction, value: Any, /) -> str:
        return str(getattr(value, "id", value))


class RoleId(app_commands.Transformer[Any]):
    """A role option, handed on as its id."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.role

    async def transform(self, interaction: Interaction, value: Any, /) -> str:
        return str(getattr(value, "id", value))


SEVERITY_CHOICES = [app_commands.Choice(name=s, value=s) for s in ("low", "normal", "high", "critical")]

PRIVATE = {"private": True}
Choices = list[app_commands.Choice[str]]
Interaction = discord.Interaction[Any]


def build(bridge: Bridge) -> list[app_commands.Command[Any, ..., Any] | app_commands.Group]:
    """Every command, bound to ``bridge``."""

    # -- autocomplete -----------------------------------------------------------------------------
    def matching(names: list[str], current: str) -> Choices:
        wanted = fold(one_line(current))
        starts = [n for n in names if fold(n).startswith(wanted)]
        inside = [n for n in names if wanted in fold(n) and n not in starts]
        return option_names(starts + inside)

    async def rule_names(interaction: Interaction, current: str) -> Choices:
        return matching([r.name for r in bridge.services.rules().config.rules], current)

    async def paused_rule_names(interaction: Interaction, current: str) -> Choices:
        rules = bridge.services.rules().config.rules
        return matching([r.name for r in rules if not r.enabled or r.paused_until is not None], current)

    async def feed_names(interaction: Interaction, current: str) -> Choices:
        return matching([f.name for f in bridge.services.rules().config.feeds], current)

    # -- everyone ---------------------------------------------------------------------------------
    @app_commands.command(name="search", description=_desc("search"))
    @app_commands.describe(**_describe("search"))
    @app_commands.autocomplete(rule=rule_names)
    @app_commands.guild_only()
    async def search(
        interaction: Interaction,
        query: app_commands.Range[str, 1, 200],
        rule: str | None = None,
        days: app_commands.Range[int, 1, 3650] | None = None,
    ) -> None:
        await bridge.run(interaction, answers.search, query, rule, days)

    @app_commands.command(name="latest", description=_desc("latest"))
    @app_commands.describe(**_describe("latest"))
    @app_commands.autocomplete(rule=rule_names)
    @app_commands.guild_only()
    async def latest(
        interaction: Interaction,
        rule: str | None = None,
        count: app_commands.Range[int, 1, 50] | None = None,
    ) -> None:
        await bridge.run(interaction, answers.latest, rule, count)

    @app_commands.command(name="why", description=_desc("why"))
    @app_commands.describe(**_describe("why"))
    @app_commands.guild_only()
    async def why(interaction: Interaction, link: app_commands.Range[str, 1, 2000]) -> None:
        await bridge.run(interaction, answers.why, link)

    @app_commands.command(name="trend", description=_desc("trend"))
    @app_commands.describe(**_describe("trend"))
    @app_commands.guild_only()
    async def trend(
        interaction: Interaction,
        keyword: app_commands.Range[str, 1, 100],
        days: app_commands.Range[int, 1, 365] | None = None,
    ) -> None:
        await bridge.run(interaction, answers.trend, keyword, days)

    @app_commands.command(name="status", description=_desc("status"))
    @app_commands.guild_only()
    async def status(interaction: Interaction) -> None:
        await bridge.run(interaction, answers.status)

    @app_commands.command(name="help", description=_desc("help"))
    @app_commands.guild_only()
    async def help_(interaction: Interaction) -> None:
        await bridge.run(interaction, answers.help_command)

    # -- /rule ------------------------------------------------------------------------------------
    rule = app_commands.Group(
        name="rule", description="Keyword rules: list, show, test; admins add and pause", guild_only=True
    )

    @rule.command(name="list", description=_desc("rule list"))
    async def rule_list(interaction: Interaction) -> None:
        await bridge.run(interaction, answers.rule_list)

    @rule.command(name="show", description=_desc("rule show"))
    @app_commands.describe(**_describe("rule show"))
    @app_commands.autocomplete(name=rule_names)
    async def rule_show(interaction: Interaction, name: str) -> None:
        await bridge.run(interaction, answers.rule_show, name)

    @rule.command(name="test", description=_desc("rule test"))
    @app_commands.describe(**_describe("rule test"))
    async def rule_test(interaction: Interaction, text: app_commands.Range[str, 1, 1500]) -> None:
        await bridge.run(interaction, answers.rule_test, text)

    @rule.command(name="add", description=_desc("rule add"), extras=PRIVATE)
    @app_commands.describe(**_describe("rule add"))
    @app_commands.choices(severity=SEVERITY_CHOICES)
    @app_commands.check(bridge.admin_check)
    async def rule_add(
        interaction: Interaction,
        name: app_commands.Range[str, 1, 64],
        keywords: app_commands.Range[str, 1, 4000],
        all: str | None = None,
        exclude: str | None = None,
        channel: app_commands.Transform[str, ChannelId] | None = None,
        severity: str | None = None,
        mention: app_commands.Transform[str, RoleId] | None = None,
    ) -> None:
        await bridge.run(
            interaction, admin.rule_add, name, keywords, all, exclude, channel, severity, mention
        )

    @rule.command(name="remove", description=_desc("rule remove"), extras=PRIVATE)
    @app_commands.describe(**_describe("rule remove"))
    @app_commands.autocomplete(name=rule_names)
    @app_commands.check(bridge.admin_check)
    async def rule_remove(interaction: Interaction, name: str) -> None:
        await bridge.run(interaction, admin.rule_remove, name)

    @rule.command(name="pause", description=_desc("rule pause"), extras=PRIVATE)
    @app_commands.describe(**_describe("rule pause"))
    @app_commands.autocomplete(name=rule_names)
    @app_commands.check(bridge.admin_check)
    async def rule_pause(interaction: Interaction, name: str, duration: str | None = None) -> None:
        await bridge.run(interaction, admin.rule_pause, name, duration)

    @rule.command(name="resume", description=_desc("rule resume"), extras=PRIVATE)
    @app_commands.describe(**_describe("rule resume"))
    @app_commands.autocomplete(name=paused_rule_names)
    @app_commands.check(bridge.admin_check)
    async def rule_resume(interaction: Interaction, name: str) -> None:
        await bridge.run(interaction, admin.rule_resume, name)

    # -- /feed ------------------------------------------------------------------------------------
    feed = app_commands.Group(
        name="feed", description="News feeds: list with health; admins add and remove", guild_only=True
    )

    @feed.command(name="list", description=_desc("feed list"))
    async def feed_list(interaction: Interaction) -> None:
        await bridge.run(interaction, answers.feed_list)

    @feed.command(name="add", description=_desc("feed add"), extras=PRIVATE)
    @app_commands.describe(**_describe("feed add"))
    @app_commands.check(bridge.admin_check)
    async def feed_add(
        interaction: Interaction,
        name: app_commands.Range[str, 1, 64],
        url: app_commands.Range[str, 1, 2000],
        interval: str | None = None,
        tags: str | None = None,
    ) -> None:
        await bridge.run(interaction, admin.feed_add, name, url, interval, tags)

    @feed.command(name="remove", description=_desc("feed remove"), extras=PRIVATE)
    @app_commands.describe(**_describe("feed remove"))
    @app_commands.autocomplete(name=feed_names)
    @app_commands.check(bridge.admin_check)
    async def feed_remove(interaction: Interaction, name: str) -> None:
        await bridge.run(interaction, admin.feed_remove, name)

    # -- /audit -----------------------------------------------------------------------------------
    @app_commands.command(name="audit", description=_desc("audit"), extras=PRIVATE)
    @app_commands.describe(**_describe("audit"))
    @app_commands.check(bridge.admin_check)
    @app_commands.guild_only()
    async def audit(interaction: Interaction, count: app_commands.Range[int, 1, 50] | None = None) -> None:
        await bridge.run(interaction, admin.audit, count)

    if bridge.admin_role is None:
        # Hidden from members without Manage Server in Discord's client. Not relied on: the check above
        # refuses them anyway. (With an admin role configured the command stays visible, so role holders
        # without Manage Server can use it.)
        audit.default_permissions = discord.Permissions(manage_guild=True)

    return [search, latest, why, trend, status, help_, rule, feed, audit]
