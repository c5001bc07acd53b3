"""The summarise stage: an entry and the rules it fired become an ``Alert`` — pure, no I/O.

The summary is plain text of at most ``SUMMARY_LIMIT`` characters: the lead sentence, then the sentences
holding a matched word, in document order, trimmed at a word boundary with an ellipsis.
"""

from __future__ import annotations

import re
from datetime import datetime

from bot.markup import trim
from bot.model import SEVERITY_ORDER, Alert, AlertMatch, Entry, RuleOutcome

__all__ = ["Alert", "AlertMatch", "summarise", "summary_text", "trim"]

SUMMARY_LIMIT = 400

# A sentence ends at a run of . ! ? … followed by whitespace, or at a run of the CJK and Arabic stops
# (followed by anything). Splitting there is linear and keeps every character: a '.' inside a sentence
# ("3.5 percent", "U.S.") does not end it.
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？؟])(?![。！？؟])\s*")


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences (stripped, none empty), in order."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def summary_text(entry: Entry, highlights: tuple[str, ...], limit: int = SUMMARY_LIMIT) -> str:
    """The lead sentence plus the later sentences holding a highlight, at most ``limit`` characters.

    Sentences are added in document order while they fit; the first sentence holding a match is always
    added (trimmed if need be), so the reader sees why the item alerted."""
    parts = sentences(entry.summary or entry.content)
    if not parts:
        return ""
    lowered = [h.casefold() for h in highlights if h.strip()]
    lead_has_match = any(h in parts[0].casefold() for h in lowered)
    text = parts[0]
    for sentence in parts[1:]:
        if not any(h in sentence.casefold() for h in lowered):
            continue
        if len(text) + 1 + len(sentence) <= limit:
            text = f"{text} {sentence}"
        elif not lead_has_match:
            # Make room for the sentence that explains the alert by shortening the lead.
            room = max(limit // 3, limit - len(sentence) - 1)
            text = f"{trim(text, room)} {sentence}"
        lead_has_match = True
    return trim(text, limit)


def summarise(
    entry: Entry,
    outcomes: list[RuleOutcome],
    *,
    feed: str,
    feed_title: str = "",
    severities: dict[str, str] | None = None,
    mentions: dict[str, tuple[str, ...]] | None = None,
    previous_title: str = "",
) -> Alert:
    """One ``Alert`` for ``entry`` from the rules that fired (``outcomes`` with verdict ``matched``);
    ``previous_title``: the headline the item had before, when it alerts because that changed."""
    severities = severities or {}
    mentions = mentions or {}
    fired = [o for o in outcomes if o.fired]
    matches = tuple(
        AlertMatch(
            o.rule,
            tuple(dict.fromkeys(h.term for h in o.hits if h.kind in ("keyword", "regex"))),
            severities.get(o.rule, "normal"),
        )
        for o in fired
    )
    highlights = tuple(
        dict.fromkeys(h.text for o in fired for h in o.hits if h.kind != "exclude" and h.text.strip())
    )
    severity = max((m.severity for m in matches), key=lambda s: SEVERITY_ORDER.get(s, 1), default="normal")
    roles = tuple(dict.fromkeys(r for o in fired for r in mentions.get(o.rule, ())))
    published: datetime | None = entry.published
    return Alert(
        feed=feed,
        feed_title=feed_title,
        title=entry.title or entry.link or "(untitled)",
        link=entry.link,
        summary=summary_text(entry, highlights),
        matches=matches,
        severity=severity,
        mentions=roles,
        highlights=highlights,
        published=published.isoformat() if published else None,
        source=entry.source,
        author=entry.author,
        item_key=entry.key,
        previous_title=previous_title,
    )
