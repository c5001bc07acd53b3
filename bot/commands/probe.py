"""``/feed add`` fetches the URL once before anything is written: is it a feed (title, item count), and if
it is a web page, which feeds does it advertise (``<link rel="alternate" type="application/rss+xml">``)?

Uses the bot's own fetcher (same caps and SSRF guard as polling) and parser.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from html.parser import HTMLParser
from urllib.parse import urljoin

from bot.commands.context import FeedProbe
from bot.fetch import Fetcher
from bot.model import ParsedFeed

ParseFn = Callable[[bytes, str, Mapping[str, str]], Awaitable[ParsedFeed]]

FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
    "application/rdf+xml",
    "text/xml",
    "application/xml",
)


class _Alternates(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("link", "a"):
            return
        a = {k.lower(): (v or "") for k, v in attrs}
        rel = a.get("rel", "").lower().split()
        kind = a.get("type", "").lower().split(";")[0].strip()
        href = a.get("href", "").strip()
        if href and "alternate" in rel and kind in FEED_TYPES:
            url = urljoin(self.base, href)
            if url.startswith(("http://", "https://")) and url not in (u for _, u in self.found):
                self.found.append((a.get("title", "").strip(), url))


def advertised_feeds(html: bytes, base: str, limit: int = 10) -> tuple[tuple[str, str], ...]:
    """The feeds an HTML page links to with ``rel="alternate"``: ``((title, absolute url), …)``."""
    parser = _Alternates(base)
    try:
        parser.feed(html[: 2 * 1024 * 1024].decode("utf-8", "replace"))
        parser.close()
    except Exception:  # a broken page is just a page without feeds
        return tuple(parser.found[:limit])
    return tuple(parser.found[:limit])


async def probe_feed(fetcher: Fetcher, parse: ParseFn, url: str) -> FeedProbe:
    fetched = await fetcher.fetch(url)
    if fetched.status != "ok":
        return FeedProbe(url, False, error=fetched.error or "the fetch failed")
    final = fetched.final_url or url
    parsed = await parse(fetched.body, final, fetched.headers)
    if not parsed.error and (parsed.entries or parsed.title):
        return FeedProbe(url, True, title=parsed.title, items=len(parsed.entries), final_url=final)
    alternates = advertised_feeds(fetched.body, final)
    if alternates:
        return FeedProbe(
            url, False, error="it is a web page, not a feed", alternates=alternates, final_url=final
        )
    return FeedProbe(url, False, error=parsed.error or "no feed items or title found in it", final_url=final)
