"""Shared normalisation for every parser path: HTML → text, links, identity, dates.

Whatever reads a feed (feedparser, a fast path, JSON Feed) builds ``Entry`` objects through these
functions, so the same item always gets the same key, text and date whichever path read it.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from html.entities import html5 as html5_entities
from urllib.parse import parse_qsl, urljoin, urlsplit

from bot.identity import TRACKING_PARAMS, entry_key, normalise_link
from bot.model import STORED_TEXT, Entry

try:  # the optional C accelerator (setup.py); the Python below is its definition and fallback
    from bot.parse import _speedups as _accelerator
except ImportError:  # where no C compiler built it
    _accelerator = None  # type: ignore[assignment]  # (mypy sees the stub: the module exists)

__all__ = [
    "TRACKING_PARAMS",
    "Brief",
    "clean_link",
    "disambiguate_keys",
    "entry_key",
    "html_text_prefix",
    "html_to_text",
    "is_google_news",
    "make_entry",
    "normalise_link",
    "split_publisher_suffix",
    "strip_publisher_suffix",
    "struct_to_utc",
    "unwrap_google_news",
]

#: Told by whoever parses which entries cannot alert (by their publication date): those are kept brief.
Brief = Callable[[datetime | None], bool]

#: Longest text kept per field; feeds sometimes carry whole books in <content>.
TEXT_CAP = 20_000
#: Longest HTML looked at per field: enough for TEXT_CAP characters of text under heavy markup.
HTML_CAP = 20 * TEXT_CAP

_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
_DROP_TAGS = frozenset(("script", "style", "noscript", "template"))
# A tag ends at the first '>' before any other '<': scanning stops at the next '<', so a page of unclosed
# "<a<a<a" costs linear time, never quadratic.
_TAG_AT = re.compile(r"</?([a-zA-Z][a-zA-Z0-9:-]*+)[^<>]*+>")
_DECL_AT = re.compile(r"<[!?][^<>]*+>")


def _strip_tags_loop(s: str) -> str:
    """Text of ``s`` without tags, comments and script/style bodies; block tags become spaces. One pass,
    linear in ``len(s)`` whatever the markup (unclosed tags, unclosed comments, unclosed scripts).

    The definition of what ``_strip_tags`` returns: a Python loop over the markup (~1 µs a tag), used
    for the rare text ``_strip_tags`` does not handle with its regular expressions."""
    out: list[str] = []
    lower: str | None = None
    i, n = 0, len(s)
    while i < n:
        j = s.find("<", i)
        if j < 0:
            out.append(s[i:])
            break
        out.append(s[i:j])
        if s.startswith("<!--", j):
            k = s.find("-->", j + 4)
            out.append(" ")
            i = n if k < 0 else k + 3
            continue
        if s.startswith("<![CDATA[", j):
            k = s.find("]]>", j + 9)
            out.append(s[j + 9 : n if k < 0 else k])
            i = n if k < 0 else k + 3
            continue
        m = _TAG_AT.match(s, j)
        if m is None:
            d = _DECL_AT.match(s, j)
            if d is not None:
                i = d.end()
                continue
            out.append("<")  # a lone '<' is text
            i = j + 1
            continue
        name = m.group(1).lower()
        i = m.end()
        if name in _DROP_TAGS and not m.group(0).startswith("</"):
            if lower is None:
                lower = s.lower()
            k = lower.find("</" + name, i)
            if k < 0:
                i = n
            else:
                close = s.find(">", k)
                i = n if close < 0 else close + 1
            out.append(" ")
        elif name in _BLOCK_TAGS:
            out.append(" ")
    return "".join(out)


# ``_strip_tags`` in regular-expression passes (each a C loop, ~3x faster than the loop over tags above
# on real feed HTML), exactly as the loop reads the markup. A tag cannot contain '<', so whether a '<'
# starts a tag depends only on the text up to the next '<' or '>': tags can be found independently of
# one another — as long as removing one never joins a '<' before it to a '>' after it. So a removed
# region or block tag first becomes "<\x02" (a '<' that starts nothing), and that becomes a space last.
# Comments and script/style bodies hide whatever is inside them, so they go first, found left to right.
_NAME_END = r"(?![a-zA-Z0-9:-])"
_BLOCK_NAMES = (  # _BLOCK_TAGS as a trie: one branch per first letter, not 35 alternatives
    r"a(?:ddress|rticle|side)|b(?:lockquote|r)|d(?:[dlt]|iv)|f(?:igcaption|igure|ooter)"
    r"|h(?:[1-6r]|eader)|li|main|nav|ol|p(?:re)?|section|t(?:able|body|[dhr]|foot|head)|ul"
)
_DROP_NAMES = "|".join(sorted(_DROP_TAGS))
_DROP_START = re.compile(rf"<(?i:{_DROP_NAMES}){_NAME_END}", re.A)
_REGION = re.compile(
    r"<(?:!--.*?(?:-->|\Z)"
    rf"|(?P<d>(?i:{_DROP_NAMES})){_NAME_END}[^<>]*+>.*?(?:</(?i:(?P=d))[^>]*+(?:>|\Z)|\Z))",
    re.S | re.A,
)
_BLOCK_AT = re.compile(rf"</?(?i:{_BLOCK_NAMES}){_NAME_END}[^<>]*+>", re.A)
_ANY_TAG_AT = re.compile(r"<(?:/?[a-zA-Z][a-zA-Z0-9:-]*+|[!?])[^<>]*+>")
_GAP = "<\x02"


def _strip_tags_re(s: str) -> str:
    """Exactly ``_strip_tags_loop(s)``, in three or four regular-expression passes. CDATA sections (whose
    text is kept), and script/style tags in text whose lower-casing changes its length (the loop's
    quirk), are left to the loop."""
    if "<![CDATA[" in s or "\x02" in s:
        return _strip_tags_loop(s)
    if "<!--" in s or _DROP_START.search(s) is not None:
        if not s.isascii() and len(s.lower()) != len(s):
            return _strip_tags_loop(s)
        s = _REGION.sub(_GAP, s)
    s = _ANY_TAG_AT.sub("", _BLOCK_AT.sub(_GAP, s))
    return s.replace(_GAP, " ")


def _collapse_py(s: str) -> str:
    # Same as re.sub(r"\s+", " ", s).strip() (str.split and \s agree on Unicode whitespace), 5x faster.
    return " ".join(s.split())


def _c_strip_tags(s: str) -> str:
    """Exactly ``_strip_tags_loop(s)``: one pass in C, or the loop itself for the one case its quirk
    decides."""
    assert _accelerator is not None
    text = _accelerator.strip_tags(s)
    return _strip_tags_loop(s) if text is None else text


def _c_unescape_tables() -> bool:
    """Hand ``html.unescape``'s tables to the C ``unescape`` (False where this Python has other
    names for them: ``html.unescape`` is then used as it is)."""
    tables = (getattr(html, "_invalid_charrefs", None), getattr(html, "_invalid_codepoints", None))
    if _accelerator is None or not isinstance(tables[0], dict) or not isinstance(tables[1], set):
        return False
    _accelerator.configure(html5_entities, tables[0], tables[1])
    return True


#: The three loops of ``html_to_text``: in C when the accelerator is built, else the Python above.
_strip_tags: Callable[[str], str] = _strip_tags_re if _accelerator is None else _c_strip_tags
_collapse: Callable[[str], str] = _collapse_py if _accelerator is None else _accelerator.collapse
_C_UNESCAPE = _accelerator is not None and _c_unescape_tables()
_unescape: Callable[[str], str] = _accelerator.unescape if _C_UNESCAPE else html.unescape


def use_accelerator(on: bool) -> bool:
    """Turn the C loops of ``html_to_text`` on (where built) or off (the Python forms: the same text,
    slower) in this process; True when C is now in use. For the benchmark and the tests."""
    global _strip_tags, _collapse, _unescape
    c = on and _accelerator is not None
    _strip_tags = _c_strip_tags if c else _strip_tags_re
    _collapse = _accelerator.collapse if c and _accelerator is not None else _collapse_py
    _unescape = _accelerator.unescape if c and _C_UNESCAPE and _accelerator is not None else html.unescape
    return c


def html_to_text(value: str | None, cap: int = TEXT_CAP) -> str:
    """Plain text of an HTML fragment: scripts dropped, tags removed (block tags become spaces), entities
    decoded, whitespace collapsed, at most ``cap`` characters. Linear time on any input."""
    if not value:
        return ""
    s = value[: max(HTML_CAP, cap * 20)]
    if "<" in s:
        s = _strip_tags(s)
    if "&" in s:
        s = _unescape(s)
    s = _collapse(s)
    if len(s) > cap:
        cut = s.rfind(" ", 0, cap)
        s = s[: cut if cut > cap // 2 else cap]
    return s


def html_text_prefix(value: str | None, n: int) -> str:
    """Exactly ``html_to_text(value)[:n]`` (for ``n <= TEXT_CAP // 2``), reading only as much of a long
    ``value`` as that takes.

    Why a prefix of the HTML gives a prefix of the text: cut just before a '<', every tag before the cut
    ends before it (a tag holds no '<'), and a comment, script or CDATA section running past the cut is
    cut short in both (the text after it is what differs); entities are decoded up to the last space,
    tab, line or form feed (an entity reference, as ``html.unescape`` reads it, holds none);
    collapsing the whitespace of a prefix gives a prefix of the collapsed whole; and ``html_to_text``
    cuts its text at no less than ``TEXT_CAP // 2``."""
    if n > TEXT_CAP // 2:
        raise ValueError("html_text_prefix is exact only up to TEXT_CAP // 2 characters")
    if not value:
        return ""
    limit = min(len(value), max(HTML_CAP, TEXT_CAP * 20))
    window = 2 * n + 64
    while window < limit:
        cut = value.rfind("<", 0, window)
        s = value[: cut if cut >= 0 else window]
        if "<" in s:
            s = _strip_tags(s)
        if "&" in s:  # a reference ends before any whitespace: decode up to the last (space, tab, LF, FF)
            last = max(s.rfind(" "), s.rfind("\n"), s.rfind("\t"), s.rfind("\f"))
            s = _unescape(s[:last]) if last > 0 else ""
        if len(s) > n:
            s = _collapse(s)
            if len(s) >= n:
                return s[:n]
        # Read on about twice what the text so far says it takes (how far changes the cost, not the text).
        window = max(window * 3 // 2, window * n * 2 // max(len(s), 1) + 64)
    return html_to_text(value)[:n]


# An absolute http(s) URL that urllib hands back unchanged from urljoin (and whose urlsplit has that
# host): lower-case scheme, a plain host (no userinfo, port or brackets), printable ASCII without spaces
# or ';' (no path params), no empty query or fragment. Most feed links; checking is 10x cheaper than
# urljoin's parse and rebuild.
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.\-_~%!$&'()*+,=]+(?:[/?#][!-:<-Z\\^-~]*)?\Z")
_SAFE_BASE = re.compile(r"https?://[!-Z\\^-~]*\Z")


def is_plain_url(url: str) -> bool:
    return _PLAIN_URL.match(url) is not None and "?#" not in url and url[-1] not in "?#"


def urljoin_fast(base: str, url: str) -> str:
    """Exactly ``urllib.parse.urljoin(base, url)`` (ValueError included), faster for plain URLs."""
    if url and is_plain_url(url) and _SAFE_BASE.match(base):
        return url  # same scheme: urljoin rebuilds url unchanged; another scheme: returns it as is
    return urljoin(base, url)


def clean_link(value: str | None, base: str = "") -> str:
    """An absolute http(s) link, or ``""``: ``javascript:``, ``data:`` and the like never get through."""
    if not value:
        return ""
    v = value.strip()
    if base:
        try:
            v = urljoin_fast(base, v)
        except ValueError:
            return ""
    if is_plain_url(v):
        return v  # what the checks below would return for it
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


def disambiguate_keys(entries: list[Entry]) -> list[Entry]:
    """Some feeds give every item the same guid (the feed's URL, a constant). Items of one document that
    share a guid but are different stories (different link or title) are identified by their link (else
    title/text) instead, so none of them is lost as "already seen"."""
    by_key: dict[str, set[tuple[str, str]]] = {}
    for e in entries:
        by_key.setdefault(e.key, set()).add((e.link, e.title))
    clashing = {k for k, stories in by_key.items() if len(stories) > 1 and k.startswith("id:")}
    if not clashing:
        return entries
    for e in entries:
        if e.key in clashing:
            e.key = entry_key(None, e.link, e.title, e.summary or e.content)
    return entries


def struct_to_utc(value: time.struct_time | None) -> datetime | None:
    """feedparser's ``*_parsed`` (a UTC struct_time) → aware UTC datetime; nonsense → None."""
    if not value:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while i < len(data) and shift < 64:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7
    raise ValueError("truncated varint")


def _article_token_url(token: str) -> str:
    """The publisher's URL inside a Google News ``/articles/<token>`` link, when the token carries it
    (the 2019–2023 form: base64url of a small protobuf holding the URL). Newer opaque tokens → ``""``."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, binascii.Error):
        return ""
    i = 0
    try:
        while i < len(raw):
            tag, i = _varint(raw, i)
            wire = tag & 7
            if wire == 0:
                _, i = _varint(raw, i)
            elif wire == 2:
                length, i = _varint(raw, i)
                value = raw[i : i + length]
                i += length
                if value.startswith((b"http://", b"https://")):
                    return clean_link(value.decode("utf-8", "replace"))
            elif wire in (1, 5):
                i += 8 if wire == 1 else 4
            else:
                return ""
    except ValueError:
        return ""
    return ""


def is_google_news(link: str) -> bool:
    if "news.google.com" not in link.lower():  # its host, lower-cased, is in the link: a cheap "no"
        return False
    try:
        return (urlsplit(link).hostname or "").lower() == "news.google.com"
    except ValueError:
        return False


def unwrap_google_news(link: str) -> str:
    """The publisher's own URL behind a Google News redirect link, when the link carries it (``url=``
    parameter of the old form, or the URL inside an ``/articles/`` token); else ``link`` unchanged."""
    if not is_google_news(link):
        return link
    parts = urlsplit(link)
    for key, value in parse_qsl(parts.query):
        if key == "url":
            real = clean_link(value)
            if real:
                return real
    m = re.search(r"/articles/([A-Za-z0-9_-]{8,2000})", parts.path)
    if m:
        return _article_token_url(m.group(1)) or link
    return link


def split_publisher_suffix(title: str) -> tuple[str, str]:
    """``"Headline - Publisher"`` → ``("Headline", "Publisher")``, for Google News items without a
    ``<source>``; a title without such a suffix comes back unchanged with ``""``."""
    head, sep, tail = title.rpartition(" - ")
    tail = tail.strip()
    if sep and head.strip() and tail and len(tail) <= 60 and len(tail.split()) <= 6:
        return head.rstrip(), tail
    return title, ""


def strip_publisher_suffix(title: str, publisher: str) -> str:
    """Google News titles end in `` - Publisher``; drop it when the publisher is known."""
    if publisher:
        for sep in (" - ", " – ", " — ", " | "):
            suffix = f"{sep}{publisher}"
            if title.endswith(suffix) and len(title) > len(suffix):
                return title[: -len(suffix)].rstrip()
    return title


def _called(value: str | Callable[[], str] | None) -> str | None:
    return value() if callable(value) else value


def make_entry(
    *,
    guid: str | None,
    title: str | None,
    link: str | None,
    summary_html: str | None,
    content_html: str | Callable[[], str] | None,
    published: datetime | None,
    author: str | None,
    source: str | None,
    source_url: str | None,
    tags: list[str] | tuple[str, ...],
    base_url: str,
    brief: Brief | None = None,
) -> Entry:
    """The one way an ``Entry`` is built from what a parser found.

    Google News items get the publisher's own link when the redirect link carries it, and their
    `` - Publisher`` title suffix moved into ``source`` (from ``<source>``, else from the title itself).
    ``brief(published)`` true: the entry cannot alert; keep only what the store keeps of its text (see
    ``Entry.brief``). ``content_html`` may be a function that gives it, called only when the content is
    needed (not for a brief entry with a summary)."""
    short = brief is not None and brief(published)
    raw_link = (link or "").strip()
    link_clean = clean_link(raw_link, base_url)
    google = bool(link_clean) and is_google_news(link_clean)
    if google:
        link_clean = unwrap_google_news(link_clean)
    publisher = html_to_text(source, 200)
    title_text = html_to_text(title, 1000)
    if publisher:
        title_text = strip_publisher_suffix(title_text, publisher)
    elif google:
        title_text, publisher = split_publisher_suffix(title_text)
    if short:
        summary = html_text_prefix(summary_html, STORED_TEXT)
        content = "" if summary else html_text_prefix(_called(content_html), STORED_TEXT)
    else:
        content_html = _called(content_html)
        summary = html_to_text(summary_html)
        # Feeds with only <content> have summary == content (feedparser copies it): convert it once.
        content = summary if content_html == summary_html else html_to_text(content_html)
        if content == summary:
            content = ""
    return Entry(
        key=entry_key(guid, link_clean or raw_link, title_text, summary or content),
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
        brief=short,
    )
