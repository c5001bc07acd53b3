"""An alert as a Discord message — pure data, no I/O and no discord.py, so every rule here is unit-testable.

``render_alert`` turns an ``Alert`` into ``Rendered(content, embed, roles)``: ``embed`` is a plain dict in
Discord's wire shape (the sink builds ``discord.Embed.from_dict`` from it), ``content`` holds only the rule's
role mentions, and ``roles`` is exactly the set of role ids allowed to ping. ``render_digest`` does the same
for a burst of alerts collapsed into one message.

Feed text is hostile until proven otherwise:

* markdown is escaped *before* matched words are wrapped in ``**bold**``, so a feed cannot open or close
  our markup, fake a masked link (``[https://good](https://evil)``), a heading, a quote, a spoiler, a
  timestamp, a custom emoji, or a mention pill (``<@123>``, ``<@&456>``, ``<#789>``);
* feed text never goes into ``content`` (the only place Discord pings from), and ``allowed_mentions``
  names exactly the rule's roles anyway;
* only ``http``/``https`` links are used as link targets; anything else means no link;
* every Discord limit is respected by trimming at a word boundary with an ellipsis, including the 6,000
  characters an embed may hold in total.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.markup import (
    ALLOWED_ROLES_LIMIT,
    AUTHOR_LIMIT,
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    FIELDS_LIMIT,
    FOOTER_LIMIT,
    SEVERITY_COLOURS,
    TITLE_LIMIT,
    WEBHOOK_NAME_LIMIT,
    clean,
    escape_markdown,
    one_line,
    safe_url,
    trim,
)
from bot.summarise import Alert

SEVERITY_ORDER = ("low", "normal", "high", "critical")
_SNOWFLAKE = re.compile(r"[1-9]\d{15,20}", re.ASCII)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message ready to send: ``content`` (role mentions only), one embed, the roles allowed to ping."""

    content: str
    embed: dict[str, Any]
    roles: tuple[int, ...] = ()
    alerts: int = 1  # how many alerts this message carries (a digest carries several)

    @property
    def allowed_mentions(self) -> dict[str, Any]:
        """Discord's ``allowed_mentions``: no @everyone/@here, no users, exactly ``roles``."""
        return {"parse": [], "roles": [str(r) for r in self.roles], "replied_user": False}


# ---------------------------------------------------------------------------------------------- text


def _highlight_pattern(highlights: Iterable[str]) -> re.Pattern[str] | None:
    return _compiled_highlights(tuple(sorted({h.strip() for h in highlights if h and h.strip()})))


@functools.lru_cache(maxsize=64)
def _compiled_highlights(unique: tuple[str, ...]) -> re.Pattern[str] | None:
    terms = sorted(unique, key=len, reverse=True)
    if not terms:
        return None
    parts = []
    for term in terms:
        body = re.escape(term)
        head = r"(?<!\w)" if re.match(r"\w", term) else ""
        tail = r"(?!\w)" if re.search(r"\w$", term) else ""
        parts.append(f"{head}{body}{tail}")
    return re.compile("|".join(parts), re.IGNORECASE)


def emphasise(text: str, highlights: Iterable[str]) -> str:
    """``text`` escaped, with every occurrence of a highlight (whole words, any case) in ``**bold**``.

    Escaping happens per segment *before* the bold markers are added, so feed text can never interfere
    with them; adjacent matches are merged into one bold run."""
    lowered = text.lower()
    present = [h for h in highlights if h and h.strip() and h.strip().lower() in lowered]
    pattern = _highlight_pattern(present)
    if pattern is None:
        return escape_markdown(text)
    spans: list[tuple[int, int]] = []
    for m in pattern.finditer(text):
        start, end = m.span()
        if start == end:
            continue
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    out: list[str] = []
    pos = 0
    for start, end in spans:
        out.append(escape_markdown(text[pos:start]))
        out.append(f"**{escape_markdown(text[start:end])}**")
        pos = end
    out.append(escape_markdown(text[pos:]))
    return "".join(out)


def fit(raw: str, limit: int, render: Callable[[str], str] = escape_markdown) -> str:
    """``render(raw)``, or — if that is longer than ``limit`` — ``render`` of ``raw`` trimmed at a word
    boundary with an ellipsis, as long as possible while the *rendered* text fits."""
    if limit <= 0:
        return ""
    if len(raw) <= limit:  # rendering never shortens: only then can the whole text fit
        whole = render(raw)
        if len(whole) <= limit:
            return whole
    raw = raw[: limit + 1]  # what is beyond can never be shown; keeps huge feed text cheap
    lo, hi, best = 0, min(len(raw), limit), ""
    while lo <= hi:
        mid = (lo + hi) // 2
        candidate = render(trim(raw, mid)) if mid > 0 else ""
        if len(candidate) <= limit:
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    return best


def timestamp(published: str | None) -> int | None:
    """Seconds since the epoch for an ISO 8601 time (naive = UTC), or None."""
    if not published:
        return None
    try:
        when = datetime.fromisoformat(published)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def role_ids(mentions: Iterable[str]) -> tuple[int, ...]:
    """The valid role ids among ``mentions``, in order, without repeats."""
    return tuple(dict.fromkeys(int(m) for m in mentions if isinstance(m, str) and _SNOWFLAKE.fullmatch(m)))


def mention_content(roles: Sequence[int], limit: int = CONTENT_LIMIT) -> tuple[str, tuple[int, ...]]:
    """Message content pinging ``roles`` (never a mention cut in half), and the roles that made it in."""
    kept: list[int] = []
    text = ""
    for role in roles[:ALLOWED_ROLES_LIMIT]:
        piece = f"<@&{role}>"
        candidate = f"{text} {piece}" if text else piece
        if len(candidate) > limit:
            break
        text, kept = candidate, [*kept, role]
    return text, tuple(kept)


_WEBHOOK_REFUSED = re.compile("discord|clyde", re.IGNORECASE)


def webhook_username(name: str | None) -> str | None:
    """A name Discord accepts for a webhook message (1–80 chars, no "discord"/"clyde"), or None."""
    if not name:
        return None
    text, before = clean(one_line(name)), None
    while text != before:  # until none is left: a removal can join another ("Discdiscordord")
        before, text = text, clean(_WEBHOOK_REFUSED.sub("", text))
    text = text[:WEBHOOK_NAME_LIMIT].strip()
    if not text or text.casefold() in ("everyone", "here"):
        return None
    return text


# ---------------------------------------------------------------------------------------------- embeds


def embed_size(embed: dict[str, Any]) -> int:
    """Characters Discord counts towards the 6,000 total: title, description, field names and values,
    footer text, author name."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    for f in embed.get("fields") or []:
        total += len(f.get("name") or "") + len(f.get("value") or "")
    return total


@dataclass(slots=True)
class _Parts:
    """The raw texts of one embed and how each is rendered, so the total can be shrunk field by field."""

    title: str = ""
    description: str = ""
    description_render: Callable[[str], str] = escape_markdown
    author: str = ""
    footer: str = ""
    fields: list[tuple[str, str, bool, bool]] = field(
        default_factory=list
    )  # name, raw value, escape?, inline
    limits: dict[str, int] = field(default_factory=dict)

    def build(self) -> tuple[str, str, str, str, list[dict[str, Any]]]:
        lim = self.limits
        title = fit(one_line(self.title), lim.get("title", TITLE_LIMIT))
        description = fit(
            self.description, lim.get("description", DESCRIPTION_LIMIT), self.description_render
        )
        author = trim(one_line(self.author), lim.get("author", AUTHOR_LIMIT))
        footer = trim(one_line(self.footer), lim.get("footer", FOOTER_LIMIT))
        fields = []
        for name, value, escape, inline in self.fields[:FIELDS_LIMIT]:
            rendered = fit(value, lim.get("field", FIELD_VALUE_LIMIT), escape_markdown if escape else str)
            if rendered.strip():
                fields.append({"name": trim(name, FIELD_NAME_LIMIT), "value": rendered, "inline": inline})
        return title, description, author, footer, fields


def _assemble(parts: _Parts, *, url: str | None, colour: int, when: int | None) -> dict[str, Any]:
    """Builds the embed, shrinking description, footer, field values, title and author (in that order)
    until the 6,000-character total holds."""
    for _ in range(12):
        title, description, author, footer, fields = parts.build()
        embed: dict[str, Any] = {"type": "rich", "color": colour}
        if title:
            embed["title"] = title
        if url and title:
            embed["url"] = url
        if description:
            embed["description"] = description
        if author:
            embed["author"] = {"name": author}
        if fields:
            embed["fields"] = fields
        if footer:
            embed["footer"] = {"text": footer}
        if when is not None:
            embed["timestamp"] = datetime.fromtimestamp(when, UTC).isoformat()
        over = embed_size(embed) - EMBED_TOTAL_LIMIT
        if over <= 0:
            return embed
        lim = parts.limits
        for key, current, floor in (
            ("description", len(description), 200),
            ("footer", len(footer), 100),
            ("field", max((len(f["value"]) for f in fields), default=0), 64),
            ("title", len(title), 64),
            ("author", len(author), 32),
        ):
            if current > floor:
                lim[key] = max(floor, current - over)
                break
        else:  # nothing left to shrink (cannot happen with the floors above, but never loop forever)
            lim.update(description=100, footer=50, field=32, title=32, author=16)
    raise AssertionError("embed could not be fitted")  # pragma: no cover


def _colour(severity: str) -> int:
    return SEVERITY_COLOURS.get(severity, SEVERITY_COLOURS["normal"])


def render_alert(alert: Alert) -> Rendered:
    """The message for one alert."""
    url = safe_url(alert.link)
    feed_name = one_line(alert.feed_title or alert.feed)
    source = one_line(alert.source)
    when = timestamp(alert.published)
    highlights = alert.highlights

    def description(raw: str) -> str:
        return emphasise(raw, highlights)

    fields: list[tuple[str, str, bool, bool]] = []
    if source and source.casefold() != feed_name.casefold():
        fields.append(("Publisher", source, True, True))
    if alert.author and one_line(alert.author).casefold() not in (source.casefold(), feed_name.casefold()):
        fields.append(("Author", one_line(alert.author), True, True))
    if when is not None:
        fields.append(("Published", f"<t:{when}:R>", False, True))
    if alert.previous_title:
        fields.append(("Headline updated; it was", one_line(alert.previous_title), True, False))
    matched = alert.matched_line
    parts = _Parts(
        title=alert.title or alert.link or "(untitled)",
        description=clean(alert.summary),
        description_render=description,
        author=feed_name,
        footer=f"matched: {matched}" if matched else "",
        fields=fields,
    )
    embed = _assemble(parts, url=url, colour=_colour(alert.severity), when=when)
    content, roles = mention_content(role_ids(alert.mentions))
    return Rendered(content=content, embed=embed, roles=roles)


def _digest_line(alert: Alert) -> str:
    title = fit(one_line(alert.title or alert.link or "(untitled)"), 200)
    url = safe_url(alert.link)
    line = f"[{title}]({url})" if url and title and len(url) <= 512 else title
    feed = one_line(alert.feed_title or alert.feed)
    return f"• {line} — {escape_markdown(trim(feed, 60))}" if feed else f"• {line}"


def render_digest(alerts: Sequence[Alert], *, window: str = "the last minute") -> Rendered:
    """One message listing headline + link of as many of ``alerts`` as fit (``Rendered.alerts`` says how
    many, always ≥ 1): the first ones, in order. Pings the union of their roles. The footer names their
    rules, cut short when the whole embed would exceed Discord's 6,000 characters."""
    if not alerts:
        raise ValueError("a digest needs at least one alert")
    lines: list[str] = []
    size = 0
    budget = DESCRIPTION_LIMIT - 40  # room for a closing line
    for alert in alerts:
        line = _digest_line(alert)
        if lines and size + len(line) + 1 > budget:
            break
        lines.append(line[:budget])
        size += len(line) + 1
    taken = alerts[: len(lines)]
    severity = max(
        (a.severity for a in taken), key=lambda s: SEVERITY_ORDER.index(s) if s in SEVERITY_ORDER else 1
    )
    rules = list(dict.fromkeys(m.rule for a in taken for m in a.matches))
    count = len(taken)
    embed: dict[str, Any] = {
        "type": "rich",
        "color": _colour(severity),
        "title": f"{count} more alert{'s' if count != 1 else ''} in {window}",
        "description": "\n".join(lines),
    }
    if rules:  # the footer gets what the title and description leave of the embed's 6,000 (≥ 1,900)
        room = min(FOOTER_LIMIT, EMBED_TOTAL_LIMIT - embed_size(embed))
        embed["footer"] = {"text": trim(f"matched: {', '.join(rules)}", room)}
    content, roles = mention_content(role_ids(r for a in taken for r in a.mentions))
    return Rendered(content=content, embed=embed, roles=roles, alerts=count)


def render_notice(text: str, *, title: str = "Newshound") -> Rendered:
    """An admin notice: ``text`` escaped in an embed, pinging no one."""
    embed = _assemble(
        _Parts(title=title, description=clean(text)), url=None, colour=SEVERITY_COLOURS["high"], when=None
    )
    return Rendered(content="", embed=embed, roles=(), alerts=0)
