"""The reference parser: feedparser 6 over bytes, its results normalised into ``Entry`` objects."""

from __future__ import annotations

import io
from typing import Any

import feedparser

from bot.model import Entry, ParsedFeed
from bot.parse.normalise import html_to_text, make_entry, struct_to_utc


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


def parse_with_feedparser(body: bytes, url: str, headers: dict[str, str]) -> ParsedFeed:
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
    for e in d.get("entries", []) or []:
        source = e.get("source") or {}
        entries.append(
            make_entry(
                guid=e.get("id") or e.get("guid"),
                title=e.get("title"),
                link=e.get("link") or _first_link(e),
                summary_html=e.get("summary"),
                content_html=_content_html(e),
                published=struct_to_utc(e.get("published_parsed") or e.get("updated_parsed")),
                author=e.get("author"),
                source=source.get("title") if isinstance(source, dict) else None,
                source_url=source.get("href") if isinstance(source, dict) else None,
                tags=[
                    t.get("term") or t.get("label") or ""
                    for t in e.get("tags", []) or []
                    if isinstance(t, dict)
                ],
                base_url=url or base,
            )
        )
    warning = None
    error = None
    if d.get("bozo"):
        exc = d.get("bozo_exception")
        warning = f"{type(exc).__name__}: {exc}"[:300] if exc else "the document is not well-formed"
        if not entries and not feed.get("title"):
            error = f"not a readable feed ({warning})"
    return ParsedFeed(
        entries=entries,
        title=html_to_text(feed.get("title"), 300),
        link=feed.get("link") or "",
        ttl_seconds=_ttl_seconds(feed),
        warning=warning,
        error=error,
        parser="feedparser",
    )


def _first_link(e: Any) -> str | None:
    for link in e.get("links", []) or []:
        if isinstance(link, dict) and link.get("href") and link.get("rel", "alternate") == "alternate":
            return str(link["href"])
    return None
