"""README.md's "Slash commands" table lists every registered command with every option, and who may use it."""

from __future__ import annotations

import re
from pathlib import Path

import discord
from discord import app_commands

from bot.commands import Services
from bot.commands.catalogue import CATALOGUE
from bot.deliver.discord.slash import SlashCommands
from bot.deliver.discord.slash.bridge import Bridge
from bot.pipeline import Ruleset
from bot.rules.model import Config
from bot.store import StoreThread

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def section() -> str:
    return README.split("## Slash commands", 1)[1].split("\n## ", 1)[0]


def rows() -> dict[str, str]:
    return {m.group(1): m.group(0) for m in re.finditer(r"^\| `/([a-z ]+)` \|.*$", section(), re.M)}


def registered(tmp_path: Path) -> dict[str, list[str]]:
    """Every command as the tree registers it: ``{"rule add": [option names]}``."""

    async def apply(_config: Config) -> None:
        return None

    def rules() -> Ruleset:
        raise AssertionError("building the commands does not read the rules")

    services = Services(StoreThread(tmp_path / "unused.db"), rules, apply, tmp_path / "keywords.yaml")
    slash = SlashCommands(discord.Client(intents=discord.Intents.none()), Bridge(services))
    return {
        c.qualified_name: [p.name for p in c.parameters]
        for c in slash.tree.walk_commands()
        if isinstance(c, app_commands.Command)
    }


def test_every_registered_command_and_option_is_in_the_readme(tmp_path: Path) -> None:
    table = rows()
    commands = registered(tmp_path)
    assert set(commands) == set(table), "README's slash-command table and the registered commands differ"
    for path, options in commands.items():
        for option in options:
            assert f"`{option}`" in table[path], f"/{path} option {option!r} is missing from README.md"


def test_the_readme_says_who_may_use_each_command_as_the_catalogue_does() -> None:
    table = rows()
    for c in CATALOGUE:
        who = table[c.path].split("|")[3].strip()
        assert who == ("admins" if c.admin else "everyone"), c.path


def test_descriptions_fit_discord_limits() -> None:
    for c in CATALOGUE:
        assert 1 <= len(c.description) <= 100, c.path
        for o in c.options:
            assert 1 <= len(o.description) <= 100 and re.fullmatch(r"[a-z_]{1,32}", o.name), (c.path, o.name)
