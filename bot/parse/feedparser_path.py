"""The reference parser: feedparser 6 over bytes, its results normalised into ``Entry`` objects."""

from __future__ import annotations

import io
from typing import Any

import feedparser

from bot.model import Entry, ParsedFeed
from bot.parse.normalise import Brief, html_to_text, make_entry, struct_to_utc


def _content_html(e: Any) -> str:
    content = e.get("content") or []
    parts = [c.get("value", "") for c in content if isinstance(c, dict)]
    return "\n".join(p for p in parts if p)


def _ttl_seconds(feed: Any) -> int | None:
    ttl = feed.get("ttl")
    try:
        minutes = int(str(ttl).strip())
    except (TypeError, ValueError):
        return None
    return minutes * 60 if 0 < minutes < 100_000 else None


FORMATS = {
    "rss090": "RSS 0.90",
    "rss091n": "RSS 0.91",
    "rss091u": "RSS 0.91",
    "rss092": "RSS 0.92",
    "rss093": "RSS 0.93",
    "rss094": "RSS 0.94",
    "rss20": "RSS 2.0",
    "rss10": "RSS 1.0",
    "rss": "RSS",
    "atom01": "Atom 0.1",
    "atom02": "Atom 0.2",
    "atom03": "Atom 0.3",
    "atom10": "Atom 1.0",
    "atom": "Atom",
    "cdf": "CDF",
}


def parse_with_feedparser(
    body: bytes, url: str, headers: dict[str, str], max_entries: int = 10_000, brief: Brief | None = None
) -> ParsedFeed:
    lowered = {k.lower(): v for k, v in headers.items()}
    if url and "content-location" not in lowered:
        lowered["content-location"] = url
    d = feedparser.parse(
        io.BytesIO(body),
        response_headers=lowered,
        resolve_relative_uris=False,
        sanitize_html=False,
    )
    feed = d.get("feed", {}) or {}
    base = feed.get("link") or url
    entries: list[Entry] = []
    found = d.get("entries", []) or []
    too_many = len(found) > max_entries
    for e in found[:max_entries]:
        source = e.get("source") or {}
        entries.append(
            make_entry(
                guid=e.get("id") or e.get("guid"),
                title=e.get("title"),
                link=e.get("link") or _first_link(e),
                summary_html=e.get("summary"),
                content_html=_content_html(e),
                published=struct_to_utc(dict.get(e, "published_parsed") or dict.get(e, "updated_parsed")),
                author=e.get("author"),
                source=source.get("title") if isinstance(source, dict) else None,
                source_url=source.get("href") if isinstance(source, dict) else None,
                tags=[
                    t.get("term") or t.get("label") or ""
                    for t in e.get("tags", []) or []
                    if isinstance(t, dict)
                ],
                base_url=url or base,
                brief=brief,
            )
        )
    warning = None
    error = None
    if d.get("bozo"):
        exc = d.get("bozo_exception")
        warning = f"{type(exc).__name__}: {exc}"[:300] if exc else "the document is not well-formed"
        if not entries and not feed.get("title"):
            error = f"not a readable feed ({warning})"
    if too_many:
        cut = f"the feed has {len(found)} items; only the first {max_entries} are read"
        warning = f"{warning}; {cut}" if warning else cut
    return ParsedFeed(
        entries=entries,
        title=html_to_text(feed.get("title"), 300),
        link=feed.get("link") or "",
        ttl_seconds=_ttl_seconds(feed),
        warning=warning,
        error=error,
        parser="feedparser",
        format=FORMATS.get(str(d.get("version") or ""), ""),
    )


def _first_link(e: Any) -> str | None:
    for link in e.get("links", []) or []:
        if isinstance(link, dict) and link.get("href") and link.get("rel", "alternate") == "alternate":
            return str(link["href"])
    return None
