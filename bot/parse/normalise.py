"""Shared normalisation for every parser path: HTML → text, links, identity, dates.

Whatever reads a feed (feedparser, a fast path, JSON Feed) builds ``Entry`` objects through these
functions, so the same item always gets the same key, text and date whichever path read it.
"""

from __future__ import annotations

import hashlib
import html
import re
import time
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from bot.model import Entry

#: Longest text kept per field; feeds sometimes carry whole books in <content>.
TEXT_CAP = 20_000

_BLOCK_TAGS = (
    "address|article|aside|blockquote|br|dd|div|dl|dt|figcaption|figure|footer|h[1-6]|header|hr|li|main|"
    "nav|ol|p|pre|section|table|tbody|td|tfoot|th|thead|tr|ul"
)
_DROP = re.compile(r"<(script|style|noscript|template)\b[^>]*>.*?</\1\s*>", re.I | re.S)
_COMMENT = re.compile(r"<!--.*?-->|<!\[CDATA\[|\]\]>", re.S)
# The same tag names as _BLOCK_TAGS, as a trie behind a first-letter check: identical matches, 2x faster.
_BLOCK_TRIE = (
    r"a(?:ddress|rticle|side)|b(?:lockquote|r)|d(?:[dlt]|iv)|f(?:ig(?:caption|ure)|ooter)|h(?:[1-6r]|eader)|"
    r"li|main|nav|ol|p(?:re)?|section|t(?:able|body|[dhr]|foot|head)|ul"
)
_BLOCK = re.compile(rf"</?(?i:(?=[abdfhlmnopstu])(?:{_BLOCK_TRIE}))\b[^>]*>")
_TAG = re.compile(r"<[/!]?[a-zA-Z][^>]*>")  # = </?[a-zA-Z][^>]*>|<!?[a-zA-Z][^>]*>, in one branch
_SPACE = re.compile(r"\s+")

TRACKING_PARAMS = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|yclid|igshid|_hsenc|_hsmi|"
    r"ocid|cmpid|icid|ito|ns_mchannel|ns_source|ns_campaign|ns_linkname|ns_fee|at_medium|at_campaign|"
    r"at_custom\d*|at_link_id|ref_src|rss|feed|from_rss|taid|smid|partner)$",
    re.I,
)


def html_to_text(value: str | None, cap: int = TEXT_CAP) -> str:
    """Plain text of an HTML fragment: scripts dropped, tags removed (block tags become spaces),
    entities decoded, whitespace collapsed, at most ``cap`` characters."""
    if not value:
        return ""
    s = value
    if "<" in s:
        s = _DROP.sub(" ", s)
        if "<!" in s or "]]>" in s:  # every _COMMENT alternative starts so; skipping the scan is faster
            s = _COMMENT.sub(" ", s)
        s = _BLOCK.sub(" ", s)
        s = _TAG.sub("", s)
    if "&" in s:
        s = html.unescape(s)
    # Same as _SPACE.sub(" ", s).strip() (str.split and \s agree on Unicode whitespace), 5x faster.
    s = " ".join(s.split())
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


def normalise_link(url: str) -> str:
    """The link as an identity: scheme/host lower-cased, default port, fragment and tracking parameters
    (``utm_*``, ``fbclid``, …) dropped. Two links that differ only in those are the same item."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port if parts.port and (scheme, parts.port) not in (("http", 80), ("https", 443)) else None
    netloc = f"{host}:{port}" if port else host
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING_PARAMS.match(k)
    ]
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


def entry_key(guid: str | None, link: str | None, title: str | None) -> str:
    """An item's identity: its guid/id; else its normalised link; else a hash of title + link."""
    g = (guid or "").strip()
    if g:
        return f"id:{g[:1000]}"
    if link:
        return f"link:{normalise_link(link)[:1000]}"
    digest = hashlib.sha256(f"{(title or '').strip()}\n{link or ''}".encode()).hexdigest()[:32]
    return f"hash:{digest}"


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
    # Feeds with only <content> have summary == content (feedparser copies it): convert it once.
    content = summary if content_html == summary_html else html_to_text(content_html)
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
