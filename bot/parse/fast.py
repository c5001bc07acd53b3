"""The fast parse path: lxml reads RSS 0.9x/1.0/2.0 and Atom 0.3/1.0, emulating feedparser's rules.

feedparser is the reference. This module reproduces, for the fields an ``Entry`` holds, what
feedparser 6's strict (expat) parser would have stored — which element wins when several carry a title
or a summary, guid-as-link, ``xml:base`` resolution of links and ids, the author "name (email)" form,
category terms, its encoding choice and its two text fix-ups — and then builds entries through the same
``make_entry`` as ``bot.parse.feedparser_path``. Whenever a document holds anything it does not model
exactly (markup nested in a text element, xhtml or base64 content, an unknown root, a charset it would
decode differently, not well-formed XML, no entries, …) ``parse_fast`` returns ``None`` and the caller
falls back to feedparser. Dates go through feedparser's own date parser, so they are identical.

lxml is configured so that it cannot be an XXE or entity-expansion hole: no network, no DTD loading,
no entity resolution, no huge-tree mode — and it is never handed a DOCTYPE at all (see
``_without_doctype``): libxml2 would open an external DTD named there despite ``load_dtd=False``.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from feedparser.api import StrictFeedParser
from feedparser.datetimes import _parse_date
from feedparser.encodings import parse_content_type
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri
from lxml import etree

from bot.model import Entry, ParsedFeed
from bot.parse.feedparser_path import FORMATS
from bot.parse.normalise import Brief, html_to_text, is_plain_url, make_entry, struct_to_utc

__all__ = ["parse_fast"]

_SAFE_BASE = re.compile(r"https?://[!-Z\\^-~]*\Z")


def _resolve(base: str, uri: str) -> str:
    """feedparser's ``_urljoin`` (which never raises), without its cost for plain absolute URLs."""
    if is_plain_url(uri) and _SAFE_BASE.match(base):
        return uri
    return str(_urljoin(base, uri))


_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
    "collect_ids": False,
    "recover": False,
}


class _Bail(Exception):
    """The document holds something the fast path does not model exactly: use feedparser."""


# --- encoding: feedparser's rules (feedparser.encodings.convert_to_utf8), the unambiguous cases ---

_XML_PI_ENCODING = re.compile(rb"^<\?.*encoding=['\"](.*?)['\"].*\?>")
_XML_DECL = re.compile(rb"^<\?xml[^>]*?>")
_APPLICATION_XML = ("application/xml", "application/xml-dtd", "application/xml-external-parsed-entity")
_TEXT_XML = ("text/xml", "text/xml-external-parsed-entity")


def _codec(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _prepare(body: bytes, headers: Mapping[str, str]) -> tuple[bytes, str | None]:
    """The bytes to hand lxml (decoded exactly as feedparser would decode them) and feedparser's
    bozo warning for the content type, if any. Raises ``_Bail`` when in doubt."""
    if body[:3] == codecs.BOM_UTF8:
        body = body[3:]
    elif body[:2] in (codecs.BOM_UTF16_BE, codecs.BOM_UTF16_LE) or body[:1] in (b"\x00", b"\x4c"):
        raise _Bail("UTF-16/32 or EBCDIC")
    m = _XML_PI_ENCODING.match(body)
    xml_encoding = m.group(1).decode("utf-8", "replace").lower() if m else ""
    raw_type = headers.get("content-type") or ""
    http_type, http_encoding = parse_content_type(raw_type)
    acceptable = False
    if http_type in _APPLICATION_XML or (http_type.startswith("application/") and http_type.endswith("+xml")):
        acceptable = True
        encoding = http_encoding or xml_encoding or "utf-8"
    elif http_type in _TEXT_XML or (http_type.startswith("text/") and http_type.endswith("+xml")):
        acceptable = True
        encoding = http_encoding or "us-ascii"
    elif http_type.startswith("text/"):
        encoding = http_encoding or "us-ascii"
    elif headers and "content-type" not in headers:
        encoding = xml_encoding or "iso-8859-1"
    else:
        encoding = xml_encoding or "utf-8"
    if encoding.lower() == "gb2312":
        encoding = "gb18030"
    warning = None
    if headers and not acceptable:
        if "content-type" in headers:
            warning = f"NonXMLContentType: {raw_type} is not an XML media type"
        else:
            warning = "NonXMLContentType: no Content-type specified"
    wanted = _codec(encoding)
    if wanted is None:
        raise _Bail("unknown encoding")
    # What lxml would use on its own: the declaration, else UTF-8.
    native = _codec(xml_encoding) if xml_encoding else "utf-8"
    if wanted == native == "utf-8":
        return body, warning  # lxml rejects invalid UTF-8 itself, as feedparser's decode would fail
    if wanted == "ascii" and body.isascii():
        return body, warning
    try:
        text = body.decode(encoding)  # feedparser decodes with exactly this; a failure = an override
    except (UnicodeDecodeError, LookupError) as exc:
        raise _Bail("charset override") from exc
    data = text.encode("utf-8")
    decl = b"<?xml version='1.0' encoding='utf-8'?>"
    if _XML_DECL.search(data):
        data = _XML_DECL.sub(decl, data, count=1)
    else:
        data = decl + b"\n" + data
    return data, warning


# --- element names as feedparser sees them ---

_NS: dict[str, str] = {k.lower(): v for k, v in _FeedParserMixin.namespaces.items()}
_NAME_CACHE: dict[tuple[str, str | None], str] = {}
#: ``_fp_name`` of the tags whose name does not depend on the prefix (no namespace, or a known one).
_TAG_NAME: dict[str, str] = {}
#: Names kept by each cache at most (a hostile document can hold any number of distinct tags).
_CACHED_NAMES = 10_000


def _fp_name(tag: str, prefix: str | None) -> str:
    """feedparser's handler name for an element: ``dc_creator``, ``title``, ``media_title``, …"""
    key = (tag, prefix)
    name = _NAME_CACHE.get(key)
    if name is not None:
        return name
    if tag[:1] == "{":
        ns, _, local = tag[1:].partition("}")
        lns = ns.lower()
        if "backend.userland.com/rss" in lns:
            lns = "http://backend.userland.com/rss"
        std = _NS.get(lns)
        known = std is not None
        if std is None:
            std = prefix or ""  # an unknown namespace: feedparser uses the document's prefix
    else:
        local, std, known = tag, "", True
    name = f"{std}_{local}".lower() if std else local.lower()
    if len(_NAME_CACHE) < _CACHED_NAMES:
        _NAME_CACHE[key] = name
        if known:
            _TAG_NAME[tag] = name
    return name


def _attrs(el: Any) -> dict[str, str]:
    """Attributes as feedparser's strict parser reports them: lower-cased names with the standard
    prefix of a known namespace; ``rel`` and ``type`` values lower-cased."""
    out: dict[str, str] = {}
    for k, v in el.attrib.items():
        if k[:1] == "{":
            ns, _, local = k[1:].partition("}")
            std = _NS.get(ns.lower(), "")
            k = f"{std}:{local}" if std else local
        k = k.lower()
        out[k] = v.lower() if k in ("rel", "type") else v
    return out


# --- the text fix-ups feedparser's ``pop`` applies to every value ---


def _fix(s: str) -> str:
    if s.isascii():
        return s
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        # the "UTF-8 read as ISO-8859-1" repair feedparser applies to every value
        s = s.encode("iso-8859-1").decode("utf-8")
    # translate() with a dict is slow; only C1 controls are mapped. They are looked for in the UTF-8 form
    # (a two-byte sequence, found by a byte search 2-3x faster than the character class on the text).
    if _C1_UTF8.search(s.encode("utf-8", "surrogatepass")) is None:
        return s
    return s.translate(_cp1252)


_C1 = re.compile("[" + "".join(re.escape(chr(k)) for k in _cp1252) + "]")
#: ``_C1`` in UTF-8: a C1 control U+0080..U+009F is the bytes C2 80..C2 9F (C2 only ever leads).
_C1_UTF8 = re.compile(b"(?:" + b"|".join(re.escape(chr(k).encode("utf-8")) for k in sorted(_cp1252)) + b")")
_AMP_REF = re.compile("&([A-Za-z0-9_]+);")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_EMAIL = re.compile(
    r"""(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"""
    r"""([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"""
)


def _map_type(t: str) -> str:
    t = t.lower()
    if t in ("text", "plain"):
        return "text/plain"
    if t == "html":
        return "text/html"
    if t == "xhtml":
        return "application/xhtml+xml"
    return t


def _text(el: Any, attrs: dict[str, str] | None, default_type: str | None, read: bool = True) -> str:
    """The stripped text of a leaf text element; nested markup, xhtml or base64 → ``_Bail``.
    ``read=False``: only refuse what it would refuse (returns ``""``)."""
    if len(el):
        raise _Bail("markup inside a text element")
    if default_type is not None and attrs is not None:
        ctype = _map_type(attrs.get("type", default_type))
        mode = attrs.get("mode", "")
        if mode == "base64" or mode == "xml" or ctype == "application/xhtml+xml":
            raise _Bail("base64 or xhtml content")
        if not (ctype.startswith("text/") or ctype.endswith("+xml") or ctype.endswith("/xml")):
            raise _Bail("base64 content")
    if not read:
        return ""
    t = el.text
    return t.strip() if t else ""


def _base(el: Any, base: str) -> str:
    """feedparser's base URI for ``el``, given its parent's."""
    given = el.get("{http://www.w3.org/XML/1998/namespace}base") or el.get("base") or base
    return _join_base(base, given)


@functools.lru_cache(maxsize=4096)
def _join_base(base: str, given: str) -> str:
    if base:
        return str(make_safe_absolute_uri(base, given) or base)
    return str(_urljoin(base, given))


#: Every element name feedparser has a handler for; any other element only stores itself.
_HANDLED = frozenset(
    m.split("_", 2)[2] if m.startswith("_start_") else m[5:]
    for m in dir(StrictFeedParser)
    if m.startswith(("_start_", "_end_"))
)
_SKIP_ENTRY = frozenset(
    {
        "textinput", "body", "xhtml_body", "fullitem", "abstract", "tags", "itunes_category",
        "item", "entry", "channel", "feed", "rss", "dc_contributor",
        "contributor", "itunes_owner", "svg",
    }
)  # fmt: skip
_TITLE = frozenset({"title", "dc_title", "media_title"})
_PUBLISHED = frozenset({"published", "issued", "pubdate", "dcterms_issued"})
_UPDATED = frozenset({"updated", "modified", "lastbuilddate", "dc_date", "dcterms_modified"})
_DESCRIPTION = frozenset({"description", "dc_description", "media_description"})
_SUMMARY = frozenset({"summary", "itunes_summary"})
_CONTENT = frozenset({"content", "content_encoded"})
_AUTHOR = frozenset({"author", "managingeditor", "dc_author", "dc_creator", "itunes_author"})
_CATEGORY = frozenset({"category", "keywords", "dc_subject", "media_category"})
_AUTHOR_PARTS = frozenset({"name", "itunes_name", "email", "itunes_email", "url", "uri", "homepage"})
#: Elements feedparser reads as content: whatever is nested inside is markup, never dispatched.
_OPAQUE = frozenset(
    {"subtitle", "tagline", "itunes_subtitle", "rights", "copyright", "dc_rights", "info",
     "feedburner_browserfriendly"}
)  # fmt: skip


class _EntryState:
    """What feedparser's entry dict would hold, for the keys an ``Entry`` needs."""

    __slots__ = (
        "authors",
        "content",
        "ctx",
        "depths",
        "has_content",
        "links",
        "published_parsed",
        "source",
        "tags",
        "title_depth",
        "updated_parsed",
    )

    def __init__(self) -> None:
        self.ctx: dict[str, str] = {}
        self.depths: dict[str, int] = {}
        self.content: list[Any] = []  # texts, or elements whose text is read when needed
        self.links: list[list[str | None]] = []
        self.tags: list[list[str | None]] = []
        self.authors: list[dict[str, str]] = []
        self.has_content = False
        self.published_parsed: Any = None
        self.updated_parsed: Any = None
        self.source: dict[str, str] | None = None
        self.title_depth = -1

    def store(self, key: str, value: str, depth: int) -> None:
        """feedparser's generic store: the shallowest element wins; at equal depth, the last one."""
        old = self.depths.get(key)
        if old is None or depth <= old:
            self.depths[key] = depth
            self.ctx[key] = value

    def sync_author(self) -> None:
        detail = self.authors[-1] if self.authors else {}
        if detail:
            name, email = detail.get("name"), detail.get("email")
            if name and email:
                self.ctx["author"] = f"{name} ({email})"
            elif name:
                self.ctx["author"] = name
            elif email:
                self.ctx["author"] = email
            return
        author = self.ctx.get("author")
        if not author:
            return
        email_found = None
        m = _EMAIL.search(author)
        if m:
            email_found = m.group(0)
            author = author.replace(email_found, "").replace("()", "").replace("<>", "")
            author = author.replace("&lt;&gt;", "").strip()
            if author and author[0] == "(":
                author = author[1:]
            if author and author[-1] == ")":
                author = author[:-1]
            author = author.strip()
        if self.authors:  # feedparser fills the (empty) current author dict in place
            if author:
                detail["name"] = author
            if email_found:
                detail["email"] = email_found

    def save_author(self, key: str, value: str) -> None:
        self.sync_author()
        if not self.authors:
            self.authors.append({})
        self.authors[-1][key] = value

    def add_tag(self, term: str | None, scheme: str | None, label: str | None) -> None:
        if not term and not scheme and not label:
            return
        value: list[str | None] = [term, scheme, label]
        if value not in self.tags:
            self.tags.append(value)


def _link(st: _EntryState, el: Any, attrs: dict[str, str], base: str) -> None:
    rel = attrs.setdefault("rel", "alternate")
    attrs.setdefault("type", "application/atom+xml" if rel == "self" else "text/html")
    href = attrs.get("url", attrs.get("uri", attrs.get("href")))
    if href:
        attrs["href"] = href
    if "href" in attrs:
        href = _resolve(base, attrs["href"])
        st.links.append([rel, href])
        if rel == "alternate" and _map_type(attrs["type"]) in _HTML_TYPES:
            st.ctx["link"] = href
        if len(el):
            raise _Bail("markup inside a link")
        return
    st.links.append([rel, None])
    value = _text(el, None, None)
    if value:
        value = _resolve(base, value)
    value = _AMP_REF.sub(r"&\g<1>", _fix(value).replace("&amp;", "&"))
    st.ctx["link"] = value
    if value:
        st.links[-1][1] = value


def _walk_entry(st: _EntryState, parent: Any, depth: int, base: str) -> None:
    """Children of ``parent`` (at ``depth``) in document order, as feedparser's handlers would see them.
    (An element's base URI, ``_base(el, base)`` when it has attributes, is worked out where it is used.)"""
    d = depth + 1
    for el in parent:
        tag = el.tag
        if not isinstance(tag, str):
            continue  # an entity reference node (cannot happen without a DTD) or similar
        name = _TAG_NAME.get(tag) or _fp_name(tag, el.prefix)
        if name in _TITLE:
            attrs = _attrs(el)
            value = _fix(_text(el, attrs, "text/plain"))
            if not (-1 < st.title_depth <= d):
                st.store("title", value, d)
            if value and name != "media_title":
                st.title_depth = d
        elif name == "link":
            attrs = _attrs(el)
            _link(st, el, attrs, _base(el, base) if attrs else base)
        elif name == "guid" or name == "id":
            attrs = _attrs(el)
            islink = attrs.get("ispermalink", "true") == "true"
            value = _text(el, None, None)
            if value and islink:
                value = _resolve(_base(el, base) if attrs else base, value)
            value = _fix(value)
            st.store("id", value, d)
            if islink:
                st.ctx.setdefault("link", value)
        elif name in _PUBLISHED or name in _UPDATED:
            if len(el):
                raise _Bail("markup inside a date")
            value = _fix(_text(el, None, None))
            key = "published" if name in _PUBLISHED else "updated"
            st.store(key, value, d)
            if key == "published":
                st.published_parsed = _date(value)
            else:
                st.updated_parsed = _date(value)
        elif name in _DESCRIPTION or name in _SUMMARY:
            attrs = _attrs(el)
            if "summary" in st.ctx and not st.has_content:
                _content(st, el, attrs)
            else:
                value = _fix(_text(el, attrs, "text/html" if name in _DESCRIPTION else "text/plain"))
                st.store("summary", value, d)
        elif name in _CONTENT:
            _content(st, el, _attrs(el))
        elif name in _AUTHOR:
            _author(st, el, d)
        elif name in _CATEGORY:
            attrs = _attrs(el)
            if name == "media_category":
                attrs.setdefault("scheme", "http://search.yahoo.com/mrss/category_schema")
            st.add_tag(attrs.get("term"), attrs.get("scheme", attrs.get("domain")), attrs.get("label"))
            value = _fix(_text(el, None, None))
            if value:
                if st.tags and not st.tags[-1][0]:
                    st.tags[-1][0] = value
                else:
                    st.add_tag(value, None, None)
        elif name == "source":
            _source(st, el, d, _base(el, base) if el.attrib else base)
        elif name == "image":
            if len(el):
                raise _Bail("an image with children inside an entry")
            st.title_depth = -1
        elif name == "itunes_keywords" or name == "media_keywords":
            if el.attrib:
                raise _Bail("keywords with attributes")  # feedparser itself fails on these
            scheme = "http://www.itunes.com/" if name == "itunes_keywords" else None
            for term in _fix(_text(el, None, None)).split(","):
                if term.strip():
                    st.add_tag(term.strip(), scheme, None)
        elif name in _SKIP_ENTRY:
            raise _Bail(f"<{name}> inside an entry")
        elif len(el) and name not in _OPAQUE:
            _walk_entry(st, el, d, _base(el, base) if el.attrib else base)


def _content(st: _EntryState, el: Any, attrs: dict[str, str]) -> None:
    st.has_content = True
    default_type = "text/plain" if el.tag[-7:] != "encoded" else "text/html"
    if "summary" in st.ctx:
        # Only the content needs this text: refuse now what would be refused, read it if it is needed (a
        # brief entry with a summary never needs it, see ``_content_html``).
        _text(el, attrs, default_type, read=False)
        st.content.append(el)
        return
    value = _fix(_text(el, attrs, default_type))
    st.content.append(value)
    st.ctx["summary"] = value


def _content_html(content: list[Any]) -> str:
    """The entry's content: its content elements' texts (as ``_content`` would have read them)."""
    texts = (c if isinstance(c, str) else _fix(_text(c, None, None)) for c in content)
    return "\n".join(t for t in texts if t)


def _author(st: _EntryState, el: Any, d: int) -> None:
    st.authors.append({})
    pieces = [el.text or ""]
    for child in el:
        if not isinstance(child.tag, str):
            continue
        cname = _fp_name(child.tag, child.prefix)
        if cname not in _AUTHOR_PARTS:
            if cname in _HANDLED or len(child):
                raise _Bail(f"<{cname}> inside an author")
            if child.attrib and child.text:  # such an element does not take its own text
                pieces.append(child.text)
            pieces.append(child.tail or "")
            continue
        value = _fix(_text(child, None, None))
        if cname in ("name", "itunes_name"):
            st.save_author("name", value)
        elif cname in ("email", "itunes_email"):
            st.save_author("email", value)
        else:
            if value:
                value = _urljoin(_base(child, ""), value) if child.attrib else value
            st.save_author("href", value)
        pieces.append(child.tail or "")
    st.store("author", _fix("".join(pieces).strip()), d)
    st.sync_author()


def _source(st: _EntryState, el: Any, d: int, base: str) -> None:
    source: dict[str, str] = {}
    url = _attrs(el).get("url")
    if url is not None:
        source["href"] = url
    st.title_depth = -1
    pieces = [el.text or ""]
    for child in el:
        if not isinstance(child.tag, str):
            continue
        cname = _fp_name(child.tag, child.prefix)
        if cname in _TITLE:
            value = _fix(_text(child, _attrs(child), "text/plain"))
            if not (-1 < st.title_depth <= d + 1):
                source["title"] = value
            if value and cname != "media_title":
                st.title_depth = d + 1
        elif cname in _OPAQUE:
            pass
        else:
            for g in child.iter():
                if not isinstance(g.tag, str):
                    continue
                gname = _fp_name(g.tag, g.prefix)
                if gname in _TITLE and g is not child:
                    raise _Bail("a nested title inside a source")
                if gname in _HREF_PARTS and not g.attrib:
                    # feedparser stores these (as "href") in the source's dict, resolved
                    value = _text(g, None, None)
                    source["href"] = _fix(_urljoin(_base(child, base), value) if value else value)
        pieces.append(child.tail or "")
    value = _fix("".join(pieces).strip())
    if value:
        source["title"] = value
    st.source = source


# The two forms nearly every feed's dates take (RFC 822 and W3C-DTF, as most servers write them), read
# directly: exactly what feedparser's ``_parse_date`` gives for them (its W3C-DTF parser, which it tries
# first, fails on every such RFC 822 date; its RFC 822 parser reads the rest) — anything else, or a date
# out of range, goes to ``_parse_date`` itself. 3x faster.
_W3DTF_DATE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[tT]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]{1,9})?([zZ]|[+-][0-9]{2}:[0-9]{2}))?\Z"
)
_RFC822_DATE = re.compile(
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun), )?([0-9]{1,2}) (jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec) "
    r"([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) (gmt|ut|z|[+-][0-9]{4})\Z",
    re.I | re.A,  # ASCII case folding only: 'ſat' is not 'sat' to feedparser
)
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                       "nov", "dec"), 1)}  # fmt: skip


def _date(value: str) -> Any:
    """``_parse_date(value)`` (feedparser's: a UTC ``struct_time`` or None)."""
    m = _W3DTF_DATE.match(value)
    try:
        if m is not None:
            year, month, day, hour, minute, second, zone = m.groups()
            stamp = datetime(
                int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
            )
            if zone is None or zone in "zZ":
                return stamp.utctimetuple()
            hours, minutes = int(zone[1:3]), int(zone[4:])
        else:
            m = _RFC822_DATE.match(value)
            if m is None:
                return _parse_date(value)
            day, month, year, hour, minute, second, zone = m.groups()
            stamp = datetime(int(year), _MONTHS[month.lower()], int(day), int(hour), int(minute), int(second))
            if zone[0] not in "+-":
                return stamp.utctimetuple()
            hours, minutes = int(zone[1:3]), int(zone[3:])
        if zone[0] == "-":
            hours, minutes = -hours, -minutes
        return (stamp - timedelta(hours=hours, minutes=minutes)).utctimetuple()
    except (ValueError, OverflowError):
        return _parse_date(value)


def _ttl_seconds(ttl: str | None) -> int | None:
    try:
        minutes = int(str(ttl).strip())
    except (TypeError, ValueError):
        return None
    return minutes * 60 if 0 < minutes < 100_000 else None


_ROOTS = {
    "rss": "rss",
    "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}RDF": "rdf",
    "{http://www.w3.org/2005/Atom}feed": "atom",
    "{http://purl.org/atom/ns#}feed": "atom",
}
_FEED_SKIP = frozenset({"item", "entry"})
_HREF_PARTS = frozenset({"url", "uri", "homepage", "href"})
_IMAGE_PARTS = frozenset({"title", "link", "description", "url", "name", "width", "height"})


def _image_title_depth(el: Any, d: int) -> int:
    """feedparser's title depth after a feed-level <image> or <textinput> at depth ``d``: reset, then
    set by a non-empty title inside (whose text goes to the image, not the feed)."""
    depth = -1
    for ch in el:
        if not isinstance(ch.tag, str):
            continue
        cn = _fp_name(ch.tag, ch.prefix)
        if cn not in _IMAGE_PARTS or len(ch):
            raise _Bail("an unusual <image> or <textinput>")
        if cn == "title" and ch.text and ch.text.strip():
            depth = d + 1
    return depth


def parse_fast(
    body: bytes,
    url: str = "",
    headers: Mapping[str, str] | None = None,
    max_entries: int = 10_000,
    brief: Brief | None = None,
) -> ParsedFeed | None:
    """Read ``body`` the way ``parse_with_feedparser`` would, or return ``None`` when unsure (the caller
    then uses feedparser). Never raises for document reasons."""
    try:
        return _parse(body, url, headers or {}, max_entries, brief)
    except (_Bail, etree.LxmlError, ValueError, TypeError, UnicodeError, LookupError, RecursionError):
        return None


_ROOT_START = re.compile(rb"<[A-Za-z_]")
_DOCTYPE = re.compile(rb"<!DOCTYPE[^>\[]*>", re.I)
_DECLARATION = re.compile(rb"<!(?!--)")


def _without_doctype(data: bytes) -> tuple[bytes, bytes]:
    """The document with its DOCTYPE removed (feedparser removes it too), and the DOCTYPE. libxml2
    opens an external DTD named there even with DTD loading off, so lxml never sees one; a DOCTYPE with
    an internal subset (entity declarations) or anything else declared before the root → ``_Bail``."""
    m = _ROOT_START.search(data)
    end = m.start() if m else len(data)
    if b"<!" not in data[:end]:
        return data, b""
    found = _DOCTYPE.search(data, 0, end)
    prolog = data[: found.start()] + data[found.end() : end] if found else data[:end]
    if _DECLARATION.search(prolog):
        raise _Bail("a DOCTYPE with an internal subset, or another declaration")
    return prolog + data[end:], found.group(0) if found else b""


def _parse(
    body: bytes, url: str, headers: Mapping[str, str], max_entries: int, brief: Brief | None = None
) -> ParsedFeed | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    if url and "content-location" not in lowered:
        lowered["content-location"] = url
    data, warning = _prepare(body, lowered)
    data, doctype = _without_doctype(data)
    parser = etree.XMLParser(**_PARSER_OPTIONS)
    root = etree.fromstring(data, parser)
    kind = _ROOTS.get(root.tag)
    if kind is None:
        return None
    contentloc = lowered.get("content-location", "")
    base0 = make_safe_absolute_uri("", contentloc) or make_safe_absolute_uri(contentloc) or ""
    base0 = _base(root, base0) if root.attrib else base0
    if kind == "rss":
        channel = None
        for child in root:
            if isinstance(child.tag, str) and _fp_name(child.tag, child.prefix) == "channel":
                channel = child
                break
        if channel is None or len(root) != 1 + sum(1 for c in root if not isinstance(c.tag, str)):
            raise _Bail("rss without exactly one channel")
        containers = [channel]
    elif kind == "rdf":
        containers = [root]
    else:
        containers = [root]

    feed_title: str | None = None
    feed_link: str | None = None
    ttl: str | None = None
    title_depth = -1
    raw_entries: list[tuple[_EntryState, str]] = []
    for container in containers:
        cbase = _base(container, base0) if container is not root and container.attrib else base0
        cdepth = 2 if container is not root else 1
        if container is not root and ("lastmod" in container.attrib or "href" in container.attrib):
            raise _Bail("cdf attributes")
        for el in container:
            tag = el.tag
            if not isinstance(tag, str):
                continue
            name = _fp_name(tag, el.prefix)
            d = cdepth + 1
            if name == "channel" and kind == "rdf":
                # RSS 1.0: feed-level elements live in <channel>, items beside it
                for ch in el:
                    if not isinstance(ch.tag, str):
                        continue
                    cn = _fp_name(ch.tag, ch.prefix)
                    if cn in _TITLE:
                        value = _fix(_text(ch, _attrs(ch), "text/plain"))
                        if not (-1 < title_depth <= d + 1):
                            feed_title = value
                        if value and cn != "media_title":
                            title_depth = d + 1
                    elif cn == "link" and not ch.attrib:
                        feed_link = _AMP_REF.sub(r"&\g<1>", _fix(_text(ch, None, None)))
                    elif cn in ("image", "textinput"):
                        title_depth = _image_title_depth(ch, d + 1)
                    elif cn in ("item", "entry"):
                        raise _Bail("an item inside an RSS 1.0 channel")
                continue
            if name in ("item", "entry"):
                if "lastmod" in el.attrib or "href" in el.attrib:
                    raise _Bail("cdf attributes on an item")
                st = _EntryState()
                about = el.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about")
                if about:
                    st.ctx["id"] = about
                ebase = _base(el, cbase) if el.attrib else cbase
                _walk_entry(st, el, d, ebase)
                raw_entries.append((st, ebase))
                title_depth = st.title_depth
            elif name in _TITLE:
                value = _fix(_text(el, _attrs(el), "text/plain"))
                if not (-1 < title_depth <= d):
                    feed_title = value
                if value and name != "media_title":
                    title_depth = d
            elif name == "link":
                attrs = _attrs(el)
                b = _base(el, cbase) if el.attrib else cbase
                rel = attrs.setdefault("rel", "alternate")
                attrs.setdefault("type", "application/atom+xml" if rel == "self" else "text/html")
                href = attrs.get("url", attrs.get("uri", attrs.get("href")))
                if href:
                    attrs["href"] = href
                if "href" in attrs:
                    if rel == "alternate" and _map_type(attrs["type"]) in _HTML_TYPES:
                        feed_link = _urljoin(b, attrs["href"])
                else:
                    value = _text(el, None, None)
                    if value:
                        value = _urljoin(b, value)
                    feed_link = _AMP_REF.sub(r"&\g<1>", _fix(value))
            elif name in ("id", "guid"):
                attrs = _attrs(el)
                if attrs.get("ispermalink", "true") == "true" and feed_link is None:
                    value = _text(el, None, None)
                    b = _base(el, cbase) if el.attrib else cbase
                    feed_link = _fix(_urljoin(b, value) if value else value)
            elif name == "ttl":
                if not el.attrib:
                    ttl = _fix(_text(el, None, None))
            elif name in ("image", "textinput"):
                title_depth = _image_title_depth(el, d)
            elif name in _FEED_SKIP:
                raise _Bail(f"<{name}> at feed level")
    if not raw_entries:
        return None
    if sum(1 for _ in root.iter("{*}item", "{*}entry")) != len(raw_entries):
        raise _Bail("items outside the places the fast path reads")
    base_url = url or feed_link or url
    entries = [_entry(st, base_url, brief) for st, _ebase in raw_entries[:max_entries]]
    if len(raw_entries) > max_entries:
        cut = f"the feed has {len(raw_entries)} items; only the first {max_entries} are read"
        warning = f"{warning}; {cut}" if warning else cut
    return ParsedFeed(
        entries=entries,
        title=html_to_text(feed_title, 300),
        link=feed_link or "",
        ttl_seconds=_ttl_seconds(ttl),
        warning=warning,
        parser="fast",
        format=_format(kind, root, doctype),
    )


_RSS_VERSIONS = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}


def _format(kind: str, root: Any, doctype: bytes) -> str:
    """feedparser's ``version`` for the document, in words (``FORMATS`` of the feedparser path)."""
    if b"netscape" in doctype.lower():
        return FORMATS["rss091n"]  # feedparser takes it from the DOCTYPE first
    declared = ""  # what the root's namespace declarations set (feedparser's track_namespace)
    for prefix, uri in root.nsmap.items():
        low = uri.lower()
        if prefix is None and low == "http://my.netscape.com/rdf/simple/0.9/":
            declared = "rss090"
        elif low == "http://purl.org/rss/1.0/":
            declared = "rss10"
        elif low == "http://www.w3.org/2005/atom":
            declared = "atom10"
        if declared:
            break
    if kind == "rss" and not declared.startswith("rss"):
        attr = root.get("version", "")
        declared = _RSS_VERSIONS.get(attr) or ("rss20" if attr.startswith("2.") else "rss")
    elif kind == "atom" and not declared:
        declared = {"0.1": "atom01", "0.2": "atom02", "0.3": "atom03"}.get(root.get("version", ""), "atom")
    return FORMATS.get(declared, "")


def _entry(st: _EntryState, base_url: str, brief: Brief | None = None) -> Entry:
    ctx = st.ctx
    link = ctx.get("link")
    if not link:
        link = next((h for rel, h in st.links if h and rel == "alternate"), None)
    published: datetime | None = struct_to_utc(st.published_parsed or st.updated_parsed)
    source = st.source or {}
    return make_entry(
        guid=ctx.get("id"),
        title=ctx.get("title"),
        link=link,
        summary_html=ctx.get("summary"),
        content_html=functools.partial(_content_html, st.content) if st.content else "",
        published=published,
        author=ctx.get("author"),
        source=source.get("title"),
        source_url=source.get("href"),
        tags=[t[0] or t[2] or "" for t in st.tags],
        base_url=base_url,
        brief=brief,
    )
