"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1) — feedparser does not read them.

Items become ``Entry`` objects through ``make_entry``, like every other parser path, so identity, text and
dates follow the same rules. Every field is type-checked: a JSON Feed is untrusted input, and a number where
a string belongs is skipped, not fatal.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from bot.model import Entry, ParsedFeed
from bot.parse.normalise import Brief, html_to_text, make_entry

VERSION_PREFIX = "https://jsonfeed.org/version/"


def looks_like_json(body: bytes, content_type: str) -> bool:
    """A JSON document (by media type, or by its first character)?"""
    ct = content_type.split(";")[0].strip().lower()
    if ct.endswith("json"):
        return True
    start = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return start.startswith(b"{")


def parse_date(value: object) -> datetime | None:
    """RFC 3339 (what JSON Feed requires), or RFC 822 (what some publishers write); UTC."""
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        return None
    text = value.strip()
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


#: A ``\\uD800``–``\\uDFFF`` escape: JSON can spell half of a surrogate pair alone, which no UTF-8 text (the
#: store's, Discord's) can hold.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _repaired(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings (keys too) replaced by U+FFFD; pairs, which
    ``json.loads`` has already joined into one character, stay."""
    if isinstance(value, str):
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if isinstance(value, list):
        return [_repaired(v) for v in value]
    if isinstance(value, dict):
        return {_repaired(k): _repaired(v) for k, v in value.items()}
    return value


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _author(item: dict[str, Any]) -> str | None:
    authors = item.get("authors")
    if isinstance(authors, list):
        names = [a["name"] for a in authors if isinstance(a, dict) and isinstance(a.get("name"), str)]
        if names:
            return ", ".join(names[:5])
    author = item.get("author")
    if isinstance(author, dict) and isinstance(author.get("name"), str):
        return str(author["name"])
    return None


def _entry(item: dict[str, Any], base: str, feed_author: str | None, brief: Brief | None = None) -> Entry:
    raw_id = item.get("id")
    guid = str(raw_id) if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else None
    content = _text(item.get("content_html"))
    if content is None and isinstance(item.get("content_text"), str):
        content = html.escape(item["content_text"])
    summary = _text(item.get("summary"))
    tags = item.get("tags")
    return make_entry(
        guid=guid,
        title=_text(item.get("title")),
        link=_text(item.get("url")) or _text(item.get("external_url")),
        summary_html=html.escape(summary) if summary is not None else None,
        content_html=content,
        published=parse_date(item.get("date_published")) or parse_date(item.get("date_modified")),
        author=_author(item) or feed_author,
        source=None,
        source_url=None,
        tags=[t for t in tags if isinstance(t, str)] if isinstance(tags, list) else [],
        base_url=base,
        brief=brief,
    )


def parse_json_feed(body: bytes, url: str, max_entries: int, brief: Brief | None = None) -> ParsedFeed:
    """Read a JSON Feed. A JSON document that is not one gets an error in words."""
    try:
        doc = json.loads(body)
    except RecursionError:
        return ParsedFeed(error="not a readable JSON Feed: the JSON is nested too deeply", parser="jsonfeed")
    except (ValueError, UnicodeDecodeError) as exc:
        return ParsedFeed(error=f"not a readable JSON Feed: invalid JSON ({exc})"[:300], parser="jsonfeed")
    if not isinstance(doc, dict):
        return ParsedFeed(error="not a JSON Feed: the document is not a JSON object", parser="jsonfeed")
    if _SURROGATE_ESCAPE.search(body):
        doc = _repaired(doc)
    version = doc.get("version")
    items = doc.get("items")
    if not (isinstance(version, str) and version.startswith(VERSION_PREFIX)) and not isinstance(items, list):
        return ParsedFeed(
            error="not a JSON Feed: JSON without a jsonfeed.org version or an items list", parser="jsonfeed"
        )
    warning = None
    if not isinstance(version, str) or not version.startswith(VERSION_PREFIX):
        warning = "JSON Feed without a jsonfeed.org version"
    if not isinstance(items, list):
        items = []
        warning = "the JSON Feed has no items list"
    base = _text(doc.get("home_page_url")) or _text(doc.get("feed_url")) or url
    feed_author = _author(doc)
    found = [i for i in items if isinstance(i, dict)]
    if len(found) > max_entries:
        warning = f"the feed has {len(found)} items; only the first {max_entries} are read"
        found = found[:max_entries]
    entries = [_entry(item, url or base, feed_author, brief) for item in found]
    short = version.removeprefix(VERSION_PREFIX) if isinstance(version, str) else "?"
    return ParsedFeed(
        entries=entries,
        title=html_to_text(_text(doc.get("title")), 300),
        link=_text(doc.get("home_page_url")) or "",
        warning=warning,
        parser="jsonfeed",
        format=f"JSON Feed {short}",
    )
