"""Every slash command, its options and who may use it — the one list ``/help``, the Discord layer's
descriptions and README.md's "Slash commands" section are checked against."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Option:
    name: str
    description: str
    required: bool = False


@dataclass(frozen=True, slots=True)
class CommandInfo:
    path: str  # "search", "rule add"
    description: str  # at most 100 characters (Discord's limit)
    options: tuple[Option, ...] = ()
    admin: bool = False
    example: str = ""

    @property
    def usage(self) -> str:
        parts = [f"/{self.path}"]
        for o in self.options:
            parts.append(f"{o.name}:<{o.name}>" if o.required else f"[{o.name}]")
        return " ".join(parts)

    def option(self, name: str) -> Option:
        return next(o for o in self.options if o.name == name)


def _o(name: str, description: str, required: bool = False) -> Option:
    return Option(name, description, required)


RULE_NAME = _o("name", "The rule's name", True)
FEED_NAME = _o("name", "The feed's name", True)

CATALOGUE: tuple[CommandInfo, ...] = (
    CommandInfo(
        "search",
        "Search stored news items (every word must appear), newest first",
        (
            _o("query", "Words to look for; word* matches a prefix", True),
            _o("rule", "Only items this rule matched"),
            _o("days", "Only items from the last N days"),
        ),
        example="/search query:Tartus days:7",
    ),
    CommandInfo(
        "latest",
        "The most recent alerts",
        (_o("rule", "Only alerts of this rule"), _o("count", "How many (1–50, default 10)")),
        example="/latest rule:bases count:5",
    ),
    CommandInfo("rule list", "Every rule: what it looks for and where it posts", example="/rule list"),
    CommandInfo(
        "rule show", "One rule in full, with its last alert", (RULE_NAME,), example="/rule show name:bases"
    ),
    CommandInfo(
        "rule test",
        "Which rules would fire on some text, with the matched words marked and why",
        (_o("text", "A headline or paragraph to test", True),),
        example="/rule test text:Russian ships leave Tartus",
    ),
    CommandInfo(
        "feed list", "Every feed with its health, last fetch and last new item", example="/feed list"
    ),
    CommandInfo(
        "why",
        "Why an item did or did not alert: when seen, rules, where it went, delivery",
        (_o("link", "The item's link or guid", True),),
        example="/why link:https://example.org/news/1",
    ),
    CommandInfo(
        "trend",
        "A chart of daily items holding a keyword",
        (
            _o("keyword", "The word or phrase to count", True),
            _o("days", "Period in days (1–365, default 30)"),
        ),
        example="/trend keyword:Tartus days:30",
    ),
    CommandInfo("status", "Version, uptime, feed health, alerts today, outbox, last poll", example="/status"),
    CommandInfo("help", "The commands and where to read more", example="/help"),
    # -- admins -------------------------------------------------------------------------------------
    CommandInfo(
        "rule add",
        "Add a keyword rule to keywords.yaml (admins)",
        (
            _o("name", "A new, unique rule name", True),
            _o("keywords", "Comma-separated; any of them fires the rule", True),
            _o("all", "Comma-separated; every one must appear too"),
            _o("exclude", "Comma-separated; none may appear"),
            _o("channel", "Where alerts go (default: defaults.channel)"),
            _o("severity", "low, normal, high or critical"),
            _o("mention", "A role to ping with each alert"),
        ),
        admin=True,
        example="/rule add name:ports keywords:Tartus, Latakia exclude:festival severity:high",
    ),
    CommandInfo(
        "rule remove", "Remove a rule (admins)", (RULE_NAME,), admin=True, example="/rule remove name:ports"
    ),
    CommandInfo(
        "rule pause",
        "Stop a rule firing, for a while or until resumed (admins)",
        (RULE_NAME, _o("duration", "How long, e.g. 2h or 3d (default: until /rule resume)")),
        admin=True,
        example="/rule pause name:bases duration:12h",
    ),
    CommandInfo(
        "rule resume",
        "Let a paused rule fire again (admins)",
        (RULE_NAME,),
        admin=True,
        example="/rule resume name:bases",
    ),
    CommandInfo(
        "feed add",
        "Fetch a feed once and, if it is one, add it to keywords.yaml (admins)",
        (
            _o("name", "A new, unique feed name", True),
            _o("url", "The feed's http(s) URL (or a page that advertises one)", True),
            _o("interval", "How often to poll: 5m, 1h… or auto"),
            _o("tags", "Comma-separated labels rules can select"),
        ),
        admin=True,
        example="/feed add name:reuters-world url:https://example.org/world/rss interval:10m",
    ),
    CommandInfo(
        "feed remove",
        "Stop polling a feed (admins)",
        (FEED_NAME,),
        admin=True,
        example="/feed remove name:bbc-world",
    ),
    CommandInfo(
        "audit",
        "Recent changes made with slash commands: who, when, before → after (admins)",
        (_o("count", "How many (1–50, default 10)"),),
        admin=True,
        example="/audit count:20",
    ),
)

BY_PATH: dict[str, CommandInfo] = {c.path: c for c in CATALOGUE}


def info(path: str) -> CommandInfo:
    return BY_PATH[path]


def example(path: str) -> str:
    return BY_PATH[path].example
