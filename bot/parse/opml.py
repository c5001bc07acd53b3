"""OPML subscription lists, in and out: ``newshound feeds import FILE.opml`` / ``newshound feeds export``.

Reading: every ``<outline>`` with an ``xmlUrl`` is a feed; its name comes from ``text`` (else ``title``,
else the URL's host), made into a command-friendly slug of up to 64 characters (as long as a feed name
may be); its tags are the names of the outlines it is nested in plus its ``category`` attribute (OPML
2.0: comma-separated, ``/``-delimited: each category a tag, a path like ``a/b`` kept whole). The file is
untrusted: entity declarations are refused before parsing (the same guard as for feeds), and only
http(s) URLs are taken.

Writing: one ``<outline type="rss">`` per feed with ``text``/``title`` = the feed's name, ``xmlUrl`` and a
``category`` listing its tags — so an export imports back into the same names, URLs and tags. Intervals
and webhooks are Newshound settings with no OPML equivalent; they stay in keywords.yaml.
"""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

from bot.parse.guards import declares_entities, to_utf8
from bot.rules.load import NAME_MAX
from bot.rules.model import Feed

MAX_OPML_BYTES = 5 * 1024 * 1024
MAX_OPML_FEEDS = 5000
#: The longest tag taken from a folder or category (keywords.yaml itself has no limit).
TAG_MAX = 64


class OpmlError(ValueError):
    """The file is not an OPML subscription list we can read; the message says why."""


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    name: str
    url: str
    tags: tuple[str, ...] = ()
    title: str = ""


_SLUG_DROP = re.compile(r"[^a-z0-9]+")


def slug(text: str, limit: int = NAME_MAX) -> str:
    """``"BBC News – World"`` → ``"bbc-news-world"`` (ASCII letters and digits; accents dropped)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return _SLUG_DROP.sub("-", ascii_text).strip("-")[:limit].strip("-")


def category_tag(category: str) -> str:
    """An OPML category as a tag: each ``/``-separated part a slug, the path kept — ``/Syria`` →
    ``syria``, ``a/b`` → ``a/b`` (what a tag ``a/b`` is exported as), ``Middle East/Syria`` →
    ``middle-east/syria``."""
    parts = (slug(part, TAG_MAX) for part in category.split("/"))
    return "/".join(p for p in parts if p)[:TAG_MAX].strip("-/")


def unique_name(base: str, taken: Collection[str]) -> str:
    """``base``, or ``base-2``, ``base-3``… — the first not in ``taken``, shortened to stay a valid name."""
    name, n = base, 2
    while name in taken:
        suffix = f"-{n}"
        name = base[: NAME_MAX - len(suffix)].rstrip("-") + suffix
        n += 1
    return name


def _attr(el: ET.Element, name: str) -> str:
    for key, value in el.attrib.items():
        if key.lower() == name.lower():
            return value.strip()
    return ""


def read_opml(data: bytes) -> list[OpmlFeed]:
    """The feeds in an OPML document, in document order, with unique slug names. Raises ``OpmlError``."""
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(f"the file is larger than {MAX_OPML_BYTES // 1048576} MB")
    text, _warning = to_utf8(data, {"content-type": "application/xml"})
    if declares_entities(text):
        raise OpmlError("refused: the file declares XML entities (entity-expansion guard)")
    try:
        root = ET.fromstring(text)  # noqa: S314 (entity declarations refused above; no DTD is loaded)
    except ET.ParseError as exc:
        raise OpmlError(f"not well-formed XML ({exc})") from None
    if root.tag.lower() != "opml":
        raise OpmlError(f"not an OPML file: the document is <{root.tag}>, not <opml>")
    body = next((c for c in root if c.tag.lower() == "body"), None)
    if body is None:
        raise OpmlError("not an OPML subscription list: there is no <body>")
    found: list[OpmlFeed] = []
    used: set[str] = set()

    def walk(el: ET.Element, folders: tuple[str, ...]) -> None:
        for child in el:
            if child.tag.lower() != "outline":
                continue
            label = _attr(child, "text") or _attr(child, "title")
            url = _attr(child, "xmlUrl")
            if url:
                if len(found) >= MAX_OPML_FEEDS:
                    raise OpmlError(f"the file lists more than {MAX_OPML_FEEDS} feeds")
                if urlsplit(url).scheme.lower() not in ("http", "https"):
                    continue
                categories = [category_tag(c) for c in _attr(child, "category").split(",")]
                folder_tags = [slug(folder, TAG_MAX) for folder in folders]
                tags = tuple(dict.fromkeys(t for t in (*folder_tags, *categories) if t))
                base = slug(label) or slug(urlsplit(url).hostname or "") or "feed"
                name = unique_name(base, used)
                used.add(name)
                found.append(OpmlFeed(name, url, tags, label))
            walk(child, (*folders, label) if not url and label else folders)

    walk(body, ())
    return found


def write_opml(feeds: Iterable[Feed], title: str = "Newshound feeds", now: datetime | None = None) -> str:
    """An OPML 2.0 document listing ``feeds``."""
    when = format_datetime(now or datetime.now(UTC), usegmt=True)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        "  <head>",
        f"    <title>{_text(title)}</title>",
        f"    <dateCreated>{when}</dateCreated>",
        "  </head>",
        "  <body>",
    ]
    for f in feeds:
        attrs = f'text={quoteattr(f.name)} title={quoteattr(f.name)} type="rss" xmlUrl={quoteattr(f.url)}'
        if f.tags:
            attrs += f" category={quoteattr(','.join(f.tags))}"
        lines.append(f"    <outline {attrs}/>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
