"""Fetch a URL once and say what it is — for ``/feed add`` (and ``newshound feeds check``).

``describe_feed`` goes through the same fetcher (SSRF guard, caps, deadline) and parser (guards, formats)
as every poll, and answers in words: the feed's title, format and item count with its newest items, or why
the URL is not a usable feed — and, for a web page, the feeds the page advertises, so the user can pick one.
Nothing is stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.fetch import Fetcher
from bot.model import ParsedFeed
from bot.parse import parse_feed
from bot.parse.discover import AdvertisedFeed, advertised_feeds

ParseFn = Callable[[bytes, str, Mapping[str, str]], Awaitable[ParsedFeed]]


@dataclass(frozen=True, slots=True)
class FeedDescription:
    """What a URL turned out to be. ``ok`` is True when it is a feed Newshound can poll."""

    url: str
    ok: bool
    final_url: str = ""
    title: str = ""
    format: str = ""  # "RSS 2.0", "Atom 1.0", "JSON Feed 1.1" …
    items: int = 0
    newest: datetime | None = None
    latest_titles: tuple[str, ...] = ()
    error: str | None = None  # why it is not a usable feed, in words
    warning: str | None = None  # read, but something was off (encoding, repaired XML …)
    advertised: tuple[AdvertisedFeed, ...] = field(default_factory=tuple)

    def lines(self) -> list[str]:
        """A short answer in words, one fact per line."""
        if not self.ok:
            out = [f"{self.url} is not a feed Newshound can read: {self.error}"]
            if self.advertised:
                out.append("The page offers these feeds instead:")
                out += [f"  {a.describe()}" for a in self.advertised]
            return out
        moved = f" (redirected to {self.final_url})" if self.final_url and self.final_url != self.url else ""
        out = [f"{self.title or '(untitled feed)'} — {self.format or 'feed'}, {self.items} item(s){moved}"]
        if self.newest is not None:
            out.append(f"newest item: {self.newest:%Y-%m-%d %H:%M} UTC")
        out += [f"  · {t}" for t in self.latest_titles]
        if self.warning:
            out.append(f"note: {self.warning}")
        return out


async def _parse_in_thread(body: bytes, url: str, headers: Mapping[str, str]) -> ParsedFeed:
    return await asyncio.to_thread(parse_feed, body, url, dict(headers))


async def describe_feed(url: str, *, fetcher: Fetcher, parse: ParseFn | None = None) -> FeedDescription:
    """Fetch ``url`` once and describe it. Never raises. Pass the bot's parse pool as ``parse`` (the
    default parses in a thread of this process)."""
    fetched = await fetcher.fetch(url.strip())
    if fetched.status != "ok":
        return FeedDescription(url, False, fetched.final_url, error=fetched.error or "the fetch failed")
    parsed = await (parse or _parse_in_thread)(fetched.body, fetched.final_url or url, fetched.headers)
    if parsed.error:
        offered: tuple[AdvertisedFeed, ...] = ()
        if parsed.error.startswith("the URL returned an HTML page"):
            offered = tuple(advertised_feeds(fetched.body, fetched.final_url or url))
            parsed.error = "the URL returned an HTML page, not a feed"
        return FeedDescription(url, False, fetched.final_url, error=parsed.error, advertised=offered)
    dated = sorted((e for e in parsed.entries if e.published), key=lambda e: e.published or 0, reverse=True)
    latest = dated[:3] or parsed.entries[:3]
    return FeedDescription(
        url,
        True,
        fetched.final_url,
        title=parsed.title,
        format=parsed.format,
        items=len(parsed.entries),
        newest=dated[0].published if dated else None,
        latest_titles=tuple(e.title or e.link or "(untitled)" for e in latest),
        warning=parsed.warning,
    )
