"""Shared normalisation for every parser path: HTML → text, links, identity, dates.

Whatever reads a feed (feedparser, a fast path, JSON Feed) builds ``Entry`` objects through these
functions, so the same item always gets the same key, text and date whichever path read it.
"""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

from bot.identity import TRACKING_PARAMS, entry_key, normalise_link
from bot.model import Entry

__all__ = [
    "TRACKING_PARAMS",
    "clean_link",
    "entry_key",
    "html_to_text",
    "make_entry",
    "normalise_link",
    "strip_publisher_suffix",
    "struct_to_utc",
]

#: Longest text kept per field; feeds sometimes carry whole books in <content>.
TEXT_CAP = 20_000

_BLOCK_TAGS = (
    "address|article|aside|blockquote|br|dd|div|dl|dt|figcaption|figure|footer|h[1-6]|header|hr|li|main|"
    "nav|ol|p|pre|section|table|tbody|td|tfoot|th|thead|tr|ul"
)
_DROP = re.compile(r"<(script|style|noscript|template)\b[^>]*>.*?</\1\s*>", re.I | re.S)
_COMMENT = re.compile(r"<!--.*?-->|<!\[CDATA\[|\]\]>", re.S)
_BLOCK = re.compile(rf"</?(?:{_BLOCK_TAGS})\b[^>]*>", re.I)
_TAG = re.compile(r"</?[a-zA-Z][^>]*>|<!?[a-zA-Z][^>]*>")
_SPACE = re.compile(r"\s+")


def html_to_text(value: str | None, cap: int = TEXT_CAP) -> str:
    """Plain text of an HTML fragment: scripts dropped, tags removed (block tags become spaces),
    entities decoded, whitespace collapsed, at most ``cap`` characters."""
    if not value:
        return ""
    s = value
    if "<" in s:
        s = _DROP.sub(" ", s)
        s = _COMMENT.sub(" ", s)
        s = _BLOCK.sub(" ", s)
        s = _TAG.sub("", s)
    if "&" in s:
        s = html.unescape(s)
    s = _SPACE.sub(" ", s).strip()
    if len(s) > cap:
        cut = s.rfind(" ", 0, cap)
        s = s[: cut if cut > cap // 2 else cap]
    return s


def clean_link(value: str | None, base: str = "") -> str:
    """An absolute http(s) link, or ``""``: ``javascript:``, ``data:`` and the like never get through."""
    if not value:
        return ""
    v = value.strip()
    if base:
        try:
            v = urljoin(base, v)
        except ValueError:
            return ""
    try:
        parts = urlsplit(v)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    if any(c in v for c in "\r\n\t\x00 "):
        v = v.replace(" ", "%20")
        if any(c in v for c in "\r\n\t\x00"):
            return ""
    return v


def struct_to_utc(value: time.struct_time | None) -> datetime | None:
    """feedparser's ``*_parsed`` (a UTC struct_time) → aware UTC datetime; nonsense → None."""
    if not value:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def strip_publisher_suffix(title: str, publisher: str) -> str:
    """Google News titles end in `` - Publisher``; drop it when the publisher is known."""
    if publisher:
        for sep in (" - ", " – ", " — ", " | "):
            suffix = f"{sep}{publisher}"
            if title.endswith(suffix) and len(title) > len(suffix):
                return title[: -len(suffix)].rstrip()
    return title


def make_entry(
    *,
    guid: str | None,
    title: str | None,
    link: str | None,
    summary_html: str | None,
    content_html: str | None,
    published: datetime | None,
    author: str | None,
    source: str | None,
    source_url: str | None,
    tags: list[str] | tuple[str, ...],
    base_url: str,
) -> Entry:
    """The one way an ``Entry`` is built from what a parser found."""
    link_clean = clean_link(link, base_url)
    publisher = html_to_text(source, 200)
    title_text = html_to_text(title, 1000)
    title_text = strip_publisher_suffix(title_text, publisher)
    summary = html_to_text(summary_html)
    content = html_to_text(content_html)
    if content == summary:
        content = ""
    return Entry(
        key=entry_key(guid, link_clean or (link or "").strip(), title_text),
        title=title_text,
        link=link_clean,
        summary=summary,
        content=content,
        published=published,
        author=html_to_text(author, 200),
        source=publisher,
        source_url=clean_link(source_url, base_url),
        tags=tuple(dict.fromkeys(t for t in (html_to_text(x, 100) for x in tags) if t)),
        guid=(guid or "").strip()[:1000],
    )
