"""Text for command replies: feed text made harmless, Discord timestamps and mentions, matched words marked.

Feed text is hostile: markdown is escaped before we add our own, links are only http(s), and mention pills
(``<@…>``, ``<#…>``) are escaped so they show as text. Replies are also sent with no allowed mentions.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.markup import escape_markdown as escape
from bot.markup import one_line, safe_url, trim


def code(text: str | None, limit: int = 100) -> str:
    """``text`` as inline code (shown verbatim: no escaping inside, backticks replaced)."""
    shown = trim(one_line(text), limit).replace("`", "ˋ")
    return f"`{shown}`" if shown else "``"


def plural(n: int, word: str) -> str:
    """``1 item``, ``3 items``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def plain(text: str | None, limit: int) -> str:
    """Feed text on one line, trimmed to ``limit`` *before* escaping, then escaped."""
    return escape(trim(one_line(text), limit))


def link(title: str | None, url: str | None, limit: int = 200) -> str:
    """``[title](url)`` with the title escaped, or just the escaped title when the URL is unusable."""
    shown = plain(title, limit) or "(untitled)"
    target = safe_url(url)
    return f"[{shown}]({target})" if target else shown


def when(ts: float | None, style: str = "R") -> str:
    """A Discord timestamp (``<t:…:R>`` shows "3 hours ago" in the reader's time zone), or "never"."""
    return f"<t:{int(ts)}:{style}>" if ts else "never"


def channel_mention(channel: str | None) -> str:
    return f"<#{channel}>" if channel else "no channel"


def role_mention(role: str) -> str:
    return f"<@&{role}>"


def target_text(target_key: str) -> str:
    """``channel:123`` → ``<#123>``; ``webhook:456`` → ``webhook 456``."""
    kind, _, ident = target_key.partition(":")
    if kind == "channel":
        return channel_mention(ident)
    return f"webhook {ident}"


def terms(values: Iterable[str]) -> str:
    """Keywords for display: each in backticks-free quotes, escaped."""
    return ", ".join(escape(v) for v in values) or "—"


def mark(text: str, spans: Iterable[tuple[int, int]], limit: int = 1500) -> str:
    """``text`` escaped, with each ``(start, end)`` span wrapped in ``**bold**``; overlapping spans merge.
    Long text is cut around the first span so it stays within ``limit`` characters (before escaping)."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans if e > s):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    offset = 0
    if len(text) > limit:
        first = merged[0][0] if merged else 0
        offset = max(0, min(first - limit // 4, len(text) - limit))
    window_end = offset + limit
    out: list[str] = ["…" if offset else ""]
    pos = offset
    for start, end in merged:
        if start >= window_end:
            break
        end = min(end, window_end)
        if start < pos:
            continue
        out.append(escape(text[pos:start]))
        out.append("**" + escape(text[start:end]) + "**")
        pos = end
    out.append(escape(text[pos:window_end]))
    if window_end < len(text):
        out.append("…")
    return "".join(out)
