"""Feeds a web page advertises: ``<link rel="alternate" type="application/rss+xml" href="…">`` and kin.

When a user gives a page instead of a feed, the bot answers with the feeds the page offers (``/feed add``
and health messages). Only the first ``HEAD_BYTES`` of the page are read, with the standard library's
HTML tokenizer; nothing is fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

from bot.parse.normalise import clean_link, html_to_text

HEAD_BYTES = 512 * 1024
MAX_FEEDS = 10

FEED_TYPES = {
    "application/rss+xml": "RSS",
    "application/atom+xml": "Atom",
    "application/feed+json": "JSON Feed",
    "application/json": "JSON Feed",
    "application/rdf+xml": "RSS 1.0",
    "text/xml": "XML feed",
    "application/xml": "XML feed",
}


@dataclass(frozen=True, slots=True)
class AdvertisedFeed:
    url: str
    kind: str  # "RSS", "Atom", "JSON Feed", …
    title: str = ""

    def describe(self) -> str:
        return f"{self.url} ({self.kind}{': ' + self.title if self.title else ''})"


class _LinkCollector(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.found: list[AdvertisedFeed] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base":
            href = dict(attrs).get("href")
            if href and clean_link(href, self.base):
                self.base = clean_link(href, self.base)
            return
        if tag != "link" or len(self.found) >= MAX_FEEDS:
            return
        a = {k.lower(): (v or "") for k, v in attrs}
        rels = a.get("rel", "").lower().split()
        kind = FEED_TYPES.get(a.get("type", "").split(";")[0].strip().lower())
        if "alternate" not in rels or kind is None:
            return
        url = clean_link(a.get("href"), self.base)
        if url and all(f.url != url for f in self.found):
            self.found.append(AdvertisedFeed(url, kind, html_to_text(a.get("title"), 200)))


def advertised_feeds(page: bytes, base_url: str) -> list[AdvertisedFeed]:
    """The feeds an HTML page advertises, absolute http(s) URLs in page order (at most ``MAX_FEEDS``)."""
    head = page[:HEAD_BYTES]
    end = head.lower().find(b"</head")
    if end >= 0:
        head = head[:end]
    collector = _LinkCollector(base_url)
    try:
        collector.feed(head.decode("utf-8", "replace"))
        collector.close()
    except (ValueError, AssertionError):  # HTMLParser on hostile markup; keep what was found
        pass
    return collector.found


def html_page_error(page: bytes, base_url: str) -> str:
    """The feed error for an HTML page, naming the feeds it advertises."""
    feeds = advertised_feeds(page, base_url)
    if not feeds:
        return "the URL returned an HTML page, not a feed"
    listed = "; ".join(f.describe() for f in feeds[:3])
    more = f" and {len(feeds) - 3} more" if len(feeds) > 3 else ""
    return f"the URL returned an HTML page, not a feed; the page advertises: {listed}{more}"
