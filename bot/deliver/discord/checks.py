"""Which channels the configuration sends to, and why — pure data for the on-ready permission check."""

from __future__ import annotations

from dataclasses import dataclass

from bot.rules.model import Config


@dataclass(frozen=True, slots=True)
class ChannelUse:
    channel: str
    label: str  # who uses it, in words: "rule 'bases'", "defaults.channel", "NEWSHOUND_ADMIN_CHANNEL"


def channel_uses(config: Config | None, admin_channel: str | None = None) -> list[ChannelUse]:
    """Every channel named in ``config`` (each rule's channel, else ``defaults.channel`` — unless the rule
    delivers through a webhook — and ``defaults.channel`` itself) plus the admin channel."""
    uses: list[ChannelUse] = []
    if config is not None:
        if config.defaults.channel:
            uses.append(ChannelUse(config.defaults.channel, "defaults.channel"))
        for rule in config.rules:
            if rule.webhook:
                continue
            channel = config.channel_for(rule)
            if channel:
                uses.append(ChannelUse(channel, f"rule '{rule.name}'"))
    if admin_channel:
        uses.append(ChannelUse(admin_channel, "NEWSHOUND_ADMIN_CHANNEL"))
    return uses
