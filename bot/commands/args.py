"""Argument checks shared by the commands. Each failure is one plain sentence plus an example.

Discord's client enforces option types and ranges, but a command must not trust that: anything that can
send an interaction can send any value, so every argument is checked again here.
"""

from __future__ import annotations

import re

from bot.commands.catalogue import example
from bot.commands.context import BadArgument, Context, did_you_mean
from bot.commands.text import code
from bot.rules.durations import DurationError, parse_duration
from bot.rules.load import NAME, SNOWFLAKE, term_problem
from bot.rules.model import Feed, Rule

_SPLIT = re.compile(r"[,\n]")


def text(value: str | None, *, option: str, command: str, limit: int = 500) -> str:
    """A required text option: stripped, non-empty, at most ``limit`` characters."""
    cleaned = " ".join((value or "").split())
    if not cleaned:
        raise BadArgument(f"`{option}` is empty", example(command))
    if len(cleaned) > limit:
        raise BadArgument(
            f"`{option}` is {len(cleaned)} characters long; the limit is {limit}", example(command)
        )
    return cleaned


def number(
    value: int | float | str | None, *, option: str, command: str, low: int, high: int, default: int
) -> int:
    """An optional whole number in ``low..high``."""
    if value is None or value == "":
        return default
    try:
        n = int(str(value).strip())
    except ValueError:
        raise BadArgument(
            f"`{option}` must be a whole number, not {str(value)[:40]!r}", example(command)
        ) from None
    if not low <= n <= high:
        raise BadArgument(f"`{option}` must be between {low} and {high}, not {n}", example(command))
    return n


def _named(kind: str, name: str | None, names: list[str], command: str) -> str:
    """``name`` cleaned, if it is one of ``names`` (the rules' or the feeds'); else one plain sentence
    saying so, with the closest spelling and where to see them."""
    cleaned = (name or "").strip()
    if cleaned in names:
        return cleaned
    if not cleaned:
        raise BadArgument(f"Give the name of a {kind} (`/{kind} list` shows them)", example(command))
    raise BadArgument(
        f"There is no {kind} named {code(cleaned, 64)}{did_you_mean(cleaned, names)}; "
        f"`/{kind} list` shows them",
        example(command),
    )


def rule(ctx: Context, name: str | None, *, command: str) -> Rule:
    """The rule in force called ``name``."""
    config = ctx.config
    found = config.rule(_named("rule", name, [r.name for r in config.rules], command))
    assert found is not None
    return found


def rule_filter(ctx: Context, name: str | None, *, command: str) -> str | None:
    """An optional rule option used as a filter: a rule in force (or None when not given)."""
    if name is None or not name.strip():
        return None
    return rule(ctx, name, command=command).name


def feed(ctx: Context, name: str | None, *, command: str) -> Feed:
    """The feed in keywords.yaml called ``name``."""
    config = ctx.config
    found = config.feed(_named("feed", name, [f.name for f in config.feeds], command))
    assert found is not None
    return found


def new_name(value: str | None, *, what: str, taken: list[str], command: str) -> str:
    """A name for a new rule or feed: 1–64 characters on one line, no leading ``:``, not taken."""
    cleaned = (value or "").strip()
    if not cleaned:
        raise BadArgument(f"Give the new {what} a name", example(command))
    if not NAME.fullmatch(cleaned) or "\n" in cleaned:
        raise BadArgument(
            f"A {what} name must be 1–64 characters on one line and must not start with ':'",
            example(command),
        )
    if cleaned in taken:
        raise BadArgument(
            f"A {what} named {code(cleaned, 64)} already exists; pick another name", example(command)
        )
    return cleaned


def term_list(value: str | None, *, option: str, command: str, required: bool) -> list[str]:
    """Comma-separated keywords: each checked like keywords.yaml checks them; duplicates dropped."""
    items = [" ".join(p.split()) for p in _SPLIT.split(value or "")]
    items = list(dict.fromkeys(p for p in items if p))
    if not items:
        if required:
            raise BadArgument(f"`{option}` needs at least one word, comma-separated", example(command))
        return []
    if len(items) > 200:
        raise BadArgument(
            f"`{option}` has {len(items)} entries; at most 200 can be added at once", example(command)
        )
    for item in items:
        problem = term_problem(item)
        if problem:
            raise BadArgument(f"In `{option}`, {problem}", example(command))
        if len(item) > 200:
            raise BadArgument(
                f"In `{option}`, {item[:40]!r}… is longer than 200 characters", example(command)
            )
    return items


def tag_list(value: str | None, *, command: str) -> list[str]:
    items = list(dict.fromkeys(" ".join(p.split()) for p in _SPLIT.split(value or "") if p.strip()))
    for item in items:
        if len(item) > 64 or not NAME.fullmatch(item):
            raise BadArgument(
                f"Tag {item[:40]!r} must be 1–64 characters and must not start with ':'", example(command)
            )
    return items


def snowflake(value: str | int | None, *, option: str, what: str, command: str) -> str | None:
    """An optional channel or role id; ``<#123…>`` and ``<@&123…>`` mentions are accepted too."""
    if value is None or str(value).strip() == "":
        return None
    cleaned = str(value).strip().lstrip("<#@&!").rstrip(">")
    if not SNOWFLAKE.fullmatch(cleaned):
        raise BadArgument(f"`{option}` must be a {what} (pick one from the list)", example(command))
    return cleaned


def duration(value: str | None, *, option: str, command: str, allow_auto: bool = False) -> float | None:
    """An optional duration (``30m``, ``2h``, ``3d``); ``None`` when not given (or ``auto`` if allowed)."""
    if value is None or not value.strip():
        return None
    if allow_auto and value.strip().lower() == "auto":
        return None
    try:
        seconds = parse_duration(value)
    except DurationError:
        extra = " or `auto`" if allow_auto else ""
        raise BadArgument(
            f"`{option}` must be a duration like 30m, 2h or 3d{extra}, not {value.strip()[:40]!r}",
            example(command),
        ) from None
    return seconds


def url(value: str | None, *, command: str) -> str:
    from urllib.parse import urlsplit

    cleaned = (value or "").strip().strip("<>")
    try:
        parts = urlsplit(cleaned)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or " " in cleaned:
        raise BadArgument("`url` must be a full http:// or https:// address", example(command))
    if len(cleaned) > 2000:
        raise BadArgument("`url` is longer than 2,000 characters", example(command))
    return cleaned
