"""keywords.yaml as typed, validated, immutable data. Built only by ``bot.rules.load``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

SEVERITIES: tuple[str, ...] = ("low", "normal", "high", "critical")
DEFAULT_FIELDS: tuple[str, ...] = ("title", "summary", "content")


@dataclass(frozen=True, slots=True)
class Defaults:
    channel: str | None = None
    interval: float | None = None  # seconds; None means adaptive (`auto`, the default)
    backfill: float = 24 * 3600.0
    max_age: float = 7 * 24 * 3600.0
    webhook: str | None = None

    def silent(
        self, published: datetime | None, *, first_poll: bool, now: datetime
    ) -> Literal["backfill", "too_old"] | None:
        """Why a new item published at ``published`` is recorded without alerting whatever the rules say
        (steps 1 and 2 of the decision order, ``bot.pipeline``), or None when the rules decide."""
        age = (now - published).total_seconds() if published is not None else None
        if first_poll and (age is None or age > self.backfill):
            return "backfill"
        if age is not None and age > self.max_age:
            return "too_old"
        return None


@dataclass(frozen=True, slots=True)
class Feed:
    name: str
    url: str
    interval: float | None = None  # seconds; None = use defaults.interval
    interval_auto: bool = False  # `interval: auto` written on the feed itself
    tags: tuple[str, ...] = ()
    webhook: str | None = None
    username: str | None = None
    avatar: str | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    keywords: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    regex: tuple[str, ...] = ()
    fields: tuple[str, ...] = DEFAULT_FIELDS
    feeds: tuple[str, ...] = ()  # feed names or "tag:NAME"; empty = every feed
    channel: str | None = None
    webhook: str | None = None
    mention: tuple[str, ...] = ()
    severity: str = "normal"
    enabled: bool = True
    paused_until: datetime | None = None
    description: str = ""
    line: int = 0

    def active(self, now: datetime) -> bool:
        if not self.enabled:
            return False
        return self.paused_until is None or now >= self.paused_until

    def watches(self, feed: Feed) -> bool:
        """True when this rule applies to items of ``feed``."""
        if not self.feeds:
            return True
        for ref in self.feeds:
            if ref.startswith("tag:"):
                if ref[4:] in feed.tags:
                    return True
            elif ref == feed.name:
                return True
        return False


@dataclass(frozen=True, slots=True)
class Config:
    """A whole keywords.yaml that passed validation."""

    path: str
    version: int = 1
    defaults: Defaults = field(default_factory=Defaults)
    feeds: tuple[Feed, ...] = ()
    rules: tuple[Rule, ...] = ()

    def feed(self, name: str) -> Feed | None:
        return next((f for f in self.feeds if f.name == name), None)

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    def interval_for(self, feed: Feed) -> float | None:
        """The feed's fixed polling interval in seconds, or None when polling is adaptive."""
        if feed.interval_auto:
            return None
        return feed.interval if feed.interval is not None else self.defaults.interval

    def channel_for(self, rule: Rule) -> str | None:
        return rule.channel or self.defaults.channel

    def webhook_for(self, rule: Rule, feed: Feed) -> str | None:
        """A rule's webhook wins over its feed's, which wins over the default's — unless the rule
        names a channel of its own, in which case the channel is used."""
        if rule.webhook:
            return rule.webhook
        if rule.channel:
            return None
        return feed.webhook or self.defaults.webhook
