"""What a document must pass before any feed parser sees it, and the cheap repairs that spare most broken
feeds the slow lenient parser.

Everything here runs in time linear in the document (``str.find`` loops and regular expressions without
nested repetition; no backtracking over unbounded input) and never expands an entity. The checks, in
``bot.parse.parse_feed``'s order:

1. ``declaration_first`` moves the XML declaration to the start; ``to_utf8`` decodes exactly as
   feedparser would (HTTP charset, BOM, XML declaration, with fallbacks) —
   the guards look at the characters the parser will read, in whatever encoding they arrived (UTF-16,
   UTF-32, EBCDIC, UTF-7 …).
2. ``declares_entities``: an ``<!ENTITY`` declaration anywhere (any case, any spacing, general or parameter,
   internal or external) refuses the document — feedparser's lenient parser expands entity values itself,
   so a 56 KB document can become a 100-million-character title. No real feed declares entities.
3. ``complexity_problem``: more elements, references or namespace declarations than any real feed has
   (the parsers' time and memory grow with those, not with bytes).
4. ``xml_problem``: is it well-formed XML? (expat, no handlers, no entity or DTD loading.) If not,
   ``repair_xml`` fixes what breaks most real feeds — HTML entities such as ``&nbsp;``, bare ``&``,
   control characters, out-of-range character references —, ``declare_prefixes`` declares namespace
   prefixes used without a declaration, and ``junk_after_root`` finds anything after the root element to
   cut, so the fast strict parser can read it. What is
   still broken goes to the lenient parser only when it is small (``LENIENT_MAX_BYTES``): that parser costs
   seconds and ~130 MB per MB of hostile input.
5. ``time_limit``: a last bound on the wall-clock time of the whole parse.
"""

from __future__ import annotations

import codecs
import contextlib
import html.entities
import re
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from xml.parsers import expat

from feedparser.encodings import RE_XML_PI_ENCODING, convert_to_utf8, parse_content_type

try:  # the optional C accelerator (setup.py): bytes.count, several times faster for rare bytes
    from bot.parse._speedups import count as _c_count
except ImportError:  # where no C compiler built it
    _c_count = None  # type: ignore[assignment]  # (mypy sees the stub: the module exists)
_count: Callable[[bytes, bytes], int] = bytes.count if _c_count is None else _c_count


def use_accelerator(on: bool) -> bool:
    """The C count on (where built) or off; True when it is now in use (see ``bot.parse``)."""
    global _count
    _count = _c_count if on and _c_count is not None else bytes.count
    return _count is not bytes.count


#: A document that is not well-formed even after repair is read leniently only up to this size.
LENIENT_MAX_BYTES = 1024 * 1024
#: Start tags outside CDATA/comments; the largest of 200 real feeds has ~4,200.
MAX_ELEMENTS = 100_000
#: ``&`` (character and entity references); the most of 200 real feeds is ~195,000 (2 MB of escaped
#: HTML). Each one costs the parser an event and repair may grow each bare ``&`` fivefold.
MAX_REFERENCES = 1_000_000
#: ``xmlns`` declarations; the most of 200 real feeds is 272. feedparser's cost is quadratic in these.
MAX_NAMESPACES = 1000
#: Wall-clock seconds one document may take to parse, everything included.
PARSE_SECONDS = 20.0

_ENTITY_DECL = re.compile(rb"<!\s*entity", re.I)
_START_TAG = re.compile(rb"<[A-Za-z_]")
_XMLNS = re.compile(rb"\sxmlns(?::[\w.-]{1,100})?\s*=")


class ParseTimeout(BaseException):
    """Raised inside a parse that ran out of time. A BaseException, so no ``except Exception`` inside a
    parser can swallow it."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ``ParseTimeout`` in the block after ``seconds`` of wall-clock time.

    Works where signals can be used: the main thread of a process (every parse worker runs parses there).
    Elsewhere — or when the process already uses ``SIGALRM`` — it does nothing."""
    usable = (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0
        and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN, None)
    )
    if not usable:
        yield
        return

    def on_alarm(_signum: int, _frame: Any) -> None:
        raise ParseTimeout

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
# '<?' in UTF-32/16 without a byte-order mark (XML 1.0 appendix F).
_MARKERS = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
)
_SINGLE_BYTE = {"iso-8859-1", "latin-1", "latin1", "iso8859-1", "windows-1252", "cp1252", "us-ascii", "ascii"}
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")


def _declared(body: bytes, content_type: str) -> str:
    """The charset the HTTP header declares, else the XML declaration's, lower-cased ('' if none)."""
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("\"'").lower()
    m = _XML_ENCODING.match(body[:300])
    return m.group(1).decode("ascii").lower() if m else ""


def _is_wide(declared: str) -> bool:
    """Is ``declared`` a UTF-16 or UTF-32 encoding (which no document starting "<?xml" in ASCII is in)?"""
    try:
        return codecs.lookup(declared).name.startswith(("utf-16", "utf-32"))
    except LookupError:
        return False


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _is_utf8_name(declared: str) -> bool:
    try:
        return codecs.lookup(declared).name == "utf-8"
    except LookupError:
        return False


_STRAY = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8, as ``surrogateescape`` decodes it
_VALID_NON_ASCII = re.compile("[\x80-\ud7ff\ue000-\U0010ffff]")
_CP1252_STRAYS = {0xDC00 + b: bytes([b]).decode("cp1252", "replace") for b in range(0x80, 0x100)}


def _utf8_with_strays(body: bytes) -> tuple[bytes, int] | None:
    """``body`` as UTF-8, each byte that is not UTF-8 read as Windows-1252 (the usual cause: text pasted
    from a Windows editor into a UTF-8 feed), and how many there were; None when ``body`` is valid UTF-8
    or holds no valid multi-byte character at all (then it is not UTF-8, and feedparser's fallback
    encodings decide). feedparser decodes the whole of such a document as Windows-1252 or ISO-8859-2,
    so one stray byte garbles every other non-ASCII character: "café" becomes "cafÃ©", "Россия"
    "Đ ĐžŃŃĐ¸Ń", and keywords in them no longer match."""
    text = body.decode("utf-8", "surrogateescape")
    strays = len(_STRAY.findall(text))
    if not strays or _VALID_NON_ASCII.search(text) is None:
        return None
    if strays > 256:  # translate() looks every character up; few strays are cheaper found one by one
        return text.translate(_CP1252_STRAYS).encode("utf-8"), strays
    return _STRAY.sub(lambda m: _CP1252_STRAYS[ord(m.group())], text).encode("utf-8"), strays


def _same_codec(declared: str, codec: str) -> bool:
    try:
        name = codecs.lookup(declared).name
    except LookupError:
        return False
    return name == codecs.lookup(codec).name or codec.startswith(name)


def to_utf8(body: bytes, headers: Mapping[str, str]) -> tuple[bytes, str | None]:
    """``body`` decoded the way feedparser decodes it, as UTF-8 bytes with an XML declaration saying so,
    and a warning in words when the declared encoding was wrong or missing.

    Four corrections come first, where the declarations are demonstrably wrong: a byte-order mark decides
    the encoding whatever is declared; a document declared Latin-1/Windows-1252/ASCII whose bytes are
    valid UTF-8 with non-ASCII characters is UTF-8 (Latin-1 text practically never is valid UTF-8); and a
    document declared UTF-16 or UTF-32 whose first byte is '<' followed by anything but NUL (in UTF-16
    or UTF-32, without a byte-order mark, '<' is "<\\0" or "\\0<") is UTF-8 when its bytes are valid UTF-8.
    feedparser reads that kind as UTF-16 when its length is even and as UTF-8 when it is odd: one
    new item can make such a feed unreadable, the next one readable again. Last, a document declared
    UTF-8 that is UTF-8 but for a few stray bytes is read as UTF-8, those bytes as Windows-1252
    (``_utf8_with_strays``)."""
    hdrs = {k.lower(): v for k, v in headers.items()}
    content_type = hdrs.get("content-type", "")
    declared = _declared(body.lstrip(codecs.BOM_UTF8), content_type)
    override = None
    for bom, codec in (*_BOMS, *_MARKERS):
        if body.startswith(bom):
            skip = len(bom) if (bom, codec) in _BOMS else 0
            try:
                body = body[skip:].decode(codec).encode("utf-8")
            except UnicodeDecodeError:
                break
            declared = _declared(body, content_type)
            if declared and not _same_codec(declared, codec):
                override = f"the byte-order mark says {codec.upper()}, not {declared}"
            hdrs["content-type"] = "application/xml; charset=utf-8"
            break
    else:
        wide = _is_wide(declared) and body[:1] == b"<" and body[1:2] != b"\x00"
        if (wide or (declared in _SINGLE_BYTE and not body.isascii())) and _is_utf8(body):
            override = f"declared {declared} but is UTF-8"
            hdrs["content-type"] = "application/xml; charset=utf-8"
    same = _already_utf8(hdrs, body)
    if same is not None:
        return same, f"character encoding: {override}" if override else None
    if not override and _is_utf8_name(declared) and (mixed := _utf8_with_strays(body)) is not None:
        body, strays = mixed
        hdrs["content-type"] = "application/xml; charset=utf-8"
        same = _already_utf8(hdrs, body)
        if same is not None:
            said = f"declared {declared} but {strays} byte(s) are not UTF-8: read as Windows-1252"
            return same, f"character encoding: {said}"
    result: dict[str, Any] = {}
    data = convert_to_utf8(hdrs, body, result)
    if isinstance(data, str):  # pragma: no cover - feedparser returns bytes; be safe anyway
        data = data.encode("utf-8", "replace")
    exc = result.get("bozo_exception")
    warning = f"character encoding: {override}" if override else None
    if exc is not None and "not an XML media type" not in str(exc) and "no Content-type" not in str(exc):
        warning = f"character encoding: {exc}"[:300]
    return data, warning


_FEEDPARSER_DECLARATION = b"<?xml version='1.0' encoding='utf-8'?>"
_XML_DECLARATION_AT_START = re.compile(rb"<\?xml[^>]*?>")
_APPLICATION_XML = ("application/xml", "application/xml-dtd", "application/xml-external-parsed-entity")
_TEXT_XML = ("text/xml", "text/xml-external-parsed-entity")


def _already_utf8(headers: Mapping[str, str], body: bytes) -> bytes | None:
    """What ``convert_to_utf8(headers, body, result)`` returns, without decoding and re-encoding the
    whole document, when its first choice of encoding is UTF-8 (or ASCII) and ``body`` is valid in it —
    and it says nothing ``to_utf8`` reports (only, perhaps, that the media type is not XML). None when
    feedparser must decide (a byte-order mark or an encoding marker, another encoding, invalid bytes)."""
    if body[:1] != b"<" or body[1:2] == b"\x00":
        return None  # none of feedparser's byte-order marks and '<?xm' markers starts with '<' + non-NUL
    m = RE_XML_PI_ENCODING.match(body)
    xml_encoding = m.group(1).decode("utf-8").lower() if m else ""
    http_type, http_encoding = parse_content_type(headers.get("content-type") or "")
    if http_type in _APPLICATION_XML or (http_type.startswith("application/") and http_type.endswith("+xml")):
        encoding = http_encoding or xml_encoding or "utf-8"
    elif http_type in _TEXT_XML or http_type.startswith("text/"):
        encoding = http_encoding or "us-ascii"
    elif headers and "content-type" not in headers:
        encoding = xml_encoding or "iso-8859-1"
    else:
        encoding = xml_encoding or "utf-8"
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        return None
    if encoding.lower() == "gb2312" or codec not in ("utf-8", "ascii"):
        return None
    if not body.isascii():
        if codec == "ascii":
            return None
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return None
    decl = _XML_DECLARATION_AT_START.match(body)
    if decl is not None:
        return _FEEDPARSER_DECLARATION + body[decl.end() :]
    return _FEEDPARSER_DECLARATION + b"\n" + body


def declares_entities(data: bytes) -> bool:
    """True when an entity declaration appears anywhere in ``data`` (UTF-8) — also once the control
    characters XML forbids (which the lenient parser and ``repair_xml`` drop) are taken out."""
    return shows_entities(data) or hides_entities(data)


def shows_entities(data: bytes) -> bool:
    """An entity declaration as it stands (one fast pass)."""
    return _ENTITY_DECL.search(data) is not None


def hides_entities(data: bytes) -> bool:
    """An entity declaration that appears once the control characters are taken out. Only a document
    that is not well-formed can hide one: expat refuses every control character XML forbids, anywhere
    (``xml_problem``), so ``parse_feed`` asks this only of documents ``xml_problem`` finds broken."""
    return has_control(data) and _ENTITY_DECL.search(_CONTROL.sub(b"", data)) is not None


def outside_cdata(data: bytes) -> bytes:
    """``data`` with CDATA sections and comments cut out (linear; an unclosed one runs to the end)."""
    parts: list[bytes] = []
    i = 0
    n = len(data)
    while i < n:
        j = data.find(b"<!", i)
        if j < 0:
            parts.append(data[i:])
            break
        if data.startswith(b"<![CDATA[", j):
            end_marker = b"]]>"
        elif data.startswith(b"<!--", j):
            end_marker = b"-->"
        else:
            parts.append(data[i : j + 2])
            i = j + 2
            continue
        parts.append(data[i:j])
        k = data.find(end_marker, j + 4)
        if k < 0:
            break
        i = k + len(end_marker)
    return b"".join(parts)


def complexity_problem(data: bytes) -> str | None:
    """Why ``data`` (UTF-8 XML) is too complex to parse, in words, or None."""
    n = len(data)
    # Each count is a C pass over the whole document (~0.05-0.5 ms a MB); a count whose bound the length
    # already keeps (n bytes hold at most n '&', and at most n // 2 of the 2-byte "<" + name character
    # of a start tag, or of "<!") is skipped.
    references = _count(data, b"&") if n > MAX_REFERENCES else 0
    if references > MAX_REFERENCES:
        return (
            f"refused: the document has {references} character or entity references, "
            f"more than the {MAX_REFERENCES} any feed needs"
        )
    # Cheap bounds first: every start tag of the markup holds a '<' of the document, and every namespace
    # declaration an "xmlns" — or one split by a cut-out section, of which there are no more than "<!"
    # (nor than '!', a faster count). Only a document over a bound is counted exactly.
    if n // 2 <= MAX_ELEMENTS or _count(data, b"<") <= MAX_ELEMENTS:
        xmlns = _count(data, b"xmlns")
        if (
            xmlns + n // 2 <= MAX_NAMESPACES
            or xmlns + _count(data, b"!") <= MAX_NAMESPACES
            or xmlns + _count(data, b"<!") <= MAX_NAMESPACES
        ):
            return None
    markup = outside_cdata(data)
    elements = sum(1 for _ in _START_TAG.finditer(markup))
    if elements > MAX_ELEMENTS:
        return f"refused: the document has {elements} elements, more than the {MAX_ELEMENTS} any feed needs"
    namespaces = sum(1 for _ in _XMLNS.finditer(markup))
    if namespaces > MAX_NAMESPACES:
        return f"refused: the document declares {namespaces} XML namespaces, more than {MAX_NAMESPACES}"
    return None


_NAME = re.compile(rb"[A-Za-z_][\w:.-]{0,100}")


def root_element(data: bytes) -> str | None:
    """The (lower-cased) name of the document's first element, skipping the XML declaration, processing
    instructions, comments and a DOCTYPE; None when something else comes first."""
    at = _root_start(data)
    m = _NAME.match(data, at + 1) if at is not None else None
    return m.group(0).decode("ascii", "replace").lower() if m else None


def _root_start(data: bytes) -> int | None:
    """Where the document's first element starts (its ``<``), looking at the first 256 KB; None when
    something other than the prolog comes first."""
    i, n = 0, min(len(data), 256 * 1024)
    while i < n:
        while i < n and data[i : i + 1] in (b" ", b"\t", b"\r", b"\n"):
            i += 1
        if data.startswith(b"<?", i):
            k = data.find(b"?>", i + 2, n)
            k = k + 1 if k >= 0 else k
        elif data.startswith(b"<!--", i):
            k = data.find(b"-->", i + 4, n)
            k = k + 2 if k >= 0 else k
        elif data.startswith(b"<!", i):
            bracket, close = data.find(b"[", i, n), data.find(b">", i, n)
            if 0 <= bracket < close:
                k = data.find(b"]", bracket, n)
                k = data.find(b">", k, n) if k >= 0 else -1
            else:
                k = close
        elif data.startswith(b"<", i):
            return i
        else:
            return None
        if k < 0:
            return None
        i = k + 1
    return None


_DOCTYPE_DECL = re.compile(rb"<!doctype", re.I)


def has_doctype(data: bytes) -> bool:
    """``data[:65536].upper().find(b"<!DOCTYPE") >= 0``, without copying (bytes patterns fold ASCII only)."""
    return _DOCTYPE_DECL.search(data, 0, 65536) is not None


def _checking_parser() -> Any:
    """expat as the guards use it: namespaces on, no handlers, parameter entities never parsed."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return parser


def xml_problem(data: bytes) -> str | None:
    """Why ``data`` is not well-formed, namespaced XML (``"line 3, column 7: mismatched tag"``), or None.

    expat without handlers: no entity is expanded, no DTD or external entity is loaded. (lxml's strict
    parse, which the fast path makes anyway, cannot answer for it: libxml2 silently accepts names that
    XML 1.0's fifth edition allows and expat refuses, such as ``<a\u2070/>`` or an emoji element.)"""
    parser = _checking_parser()
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        return f"line {exc.lineno}, column {exc.offset + 1}: {expat.ErrorString(exc.code)}"
    return None


_SPACE_RUN = re.compile(rb"[ \t\r\n]*")


def declaration_first(body: bytes) -> bytes | None:
    """``body`` with its XML declaration moved to the start, when only whitespace and comments come
    before it; None when nothing does (or no declaration follows). XML allows nothing before the
    declaration, so strict parsers refuse the whole document: WordPress themes that print blank lines
    first, and generators that put their comment first, serve such feeds. What came before goes right
    after the declaration (comments and whitespace are allowed there), so every line keeps its number
    for what is said of the document later. (Before decoding: the declaration names the encoding, and
    feedparser looks for it only at the very start.)"""
    at = 0
    while True:
        space = _SPACE_RUN.match(body, at)  # always matches (the empty string too)
        at = space.end() if space else at
        if not body.startswith(b"<!--", at):
            break
        end = body.find(b"-->", at + 4)
        if end < 0:
            return None
        at = end + 3
    if not at or not body.startswith(b"<?xml", at):
        return None
    end = body.find(b"?>", at + 5)
    if end < 0 or b"\n" in body[at:end]:
        return None  # no end, or one over several lines: the lines would not keep their numbers
    end += 2
    return body[at:end] + body[:at] + body[end:]


#: A prefix in an element or attribute name (``<dc:creator``, `` media:url=``). Also matches in text and
#: CDATA: a prefix declared needlessly does no harm.
_PREFIX_USE = re.compile(
    rb"<([A-Za-z_][\w.-]{0,40}):[A-Za-z_]|\s([A-Za-z_][\w.-]{0,40}):[A-Za-z_][\w.-]*\s*="
)
_PREFIX_DECL = re.compile(rb"xmlns:([A-Za-z_][\w.-]{0,40})\s*=")
#: The namespace each prefix that feeds use without declaring it stands for (feedparser's own list).
_USUAL_NAMESPACES: dict[bytes, bytes] = {
    b"atom": b"http://www.w3.org/2005/Atom",
    b"content": b"http://purl.org/rss/1.0/modules/content/",
    b"dc": b"http://purl.org/dc/elements/1.1/",
    b"dcterms": b"http://purl.org/dc/terms/",
    b"georss": b"http://www.georss.org/georss",
    b"itunes": b"http://www.itunes.com/dtds/podcast-1.0.dtd",
    b"media": b"http://search.yahoo.com/mrss/",
    b"rdf": b"http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    b"slash": b"http://purl.org/rss/1.0/modules/slash/",
    b"sy": b"http://purl.org/rss/1.0/modules/syndication/",
    b"wfw": b"http://wellformedweb.org/CommentAPI/",
}
#: Prefixes XML binds itself, and a bound for a hostile document.
_RESERVED_PREFIXES = frozenset({b"xml", b"xmlns"})
_MAX_DECLARED = 32


def declare_prefixes(data: bytes) -> bytes | None:
    """``data`` with the namespace prefixes it uses but never declares declared on its root element, or
    None when there are none (or too many). Feeds that copy ``<atom:link>``, ``<dc:creator>`` or
    ``<media:content>`` from elsewhere without the ``xmlns:`` line are not well-formed; a usual prefix
    gets its usual namespace (what the publisher meant), any other one a namespace of its own, so that
    its elements keep the names feedparser gives them (``prefix_name``)."""
    root = _root_start(data)
    name = _NAME.match(data, root + 1) if root is not None else None
    if name is None:
        return None
    used = {a or b for a, b in _PREFIX_USE.findall(data)} - _RESERVED_PREFIXES
    used.discard(b"")
    declared = set(_PREFIX_DECL.findall(data, name.end(), data.find(b">", name.end())))
    missing = sorted(used - declared)
    if not missing or len(missing) > _MAX_DECLARED:
        return None
    added = b"".join(
        b' xmlns:%s="%s"' % (p, _USUAL_NAMESPACES.get(p.lower(), b"urn:x-undeclared-prefix:" + p))
        for p in missing
    )
    return data[: name.end()] + added + data[name.end() :]


def junk_after_root(data: bytes) -> int | None:
    """Where the first fault of ``data`` is, when it follows the root element: ``data[:offset]`` is then
    a whole, well-formed document. A CDN that injects a ``<script>`` after ``</rss>`` (Cloudflare's
    e-mail obfuscation does) breaks a feed that way; so does a stray end tag or a second copy of the
    feed."""
    parser = _checking_parser()
    try:
        parser.Parse(data, True)
    except expat.ExpatError:
        offset = int(parser.ErrorByteIndex)
        # expat places some faults inside the token (the ``/`` of a stray ``</rss>``): try its ``<`` too
        for cut in dict.fromkeys((offset, data.rfind(b"<", 0, offset + 1))):
            if 0 < cut < len(data) and xml_problem(data[:cut]) is None:
                return cut
    return None


_XML_NAMED = {b"lt", b"gt", b"amp", b"quot", b"apos"}
_REF = re.compile(rb"&(#[0-9]{1,20};|#[xX][0-9a-fA-F]{1,20};|[A-Za-z][A-Za-z0-9]{0,40};)?")
# What _fix_reference returns unchanged, in common forms: XML's own five, and references to characters
# U+0020..U+D7FF without leading zeros. _REPAIR skips those (the Python callback costs ~1 µs each).
_KEPT = (
    rb"(?:lt|gt|amp|quot|apos);"
    rb"|#(?:3[2-9]|[4-9][0-9]|[1-9][0-9]{2,3}|[1-4][0-9]{4}|5[0-4][0-9]{3}|55[01][0-9]{2}|552[0-8][0-9]"
    rb"|5529[0-5]);"
    rb"|#[xX](?:[2-9a-fA-F][0-9a-fA-F]|[1-9a-fA-F][0-9a-fA-F]{2}|[1-9a-cA-C][0-9a-fA-F]{3}"
    rb"|[dD][0-7][0-9a-fA-F]{2});"
)
_REPAIR = re.compile(
    rb"&(?!" + _KEPT + rb")(#[0-9]{1,20};|#[xX][0-9a-fA-F]{1,20};|[A-Za-z][A-Za-z0-9]{0,40};)?"
)
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]")
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])


def has_control(data: bytes) -> bool:
    """``_CONTROL.search(data) is not None``, 3-4x faster (a C pass per test instead of the regex's
    byte-by-byte alternation)."""
    return (
        len(data.translate(None, _CONTROL_BYTES)) != len(data)
        or b"\xef\xbf\xbe" in data
        or b"\xef\xbf\xbf" in data
    )


def _valid_xml_char(code: int) -> bool:
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _fix_reference(m: re.Match[bytes]) -> bytes:
    ref = m.group(1)
    if ref is None:
        return b"&amp;"  # a bare ampersand
    name = ref[:-1]
    if name.startswith(b"#"):
        try:
            code = int(name[2:], 16) if name[1:2] in (b"x", b"X") else int(name[1:])
        except ValueError:
            return b"\xef\xbf\xbd"
        return m.group(0) if _valid_xml_char(code) else b"\xef\xbf\xbd"  # U+FFFD
    if name in _XML_NAMED:
        return m.group(0)
    char = html.entities.html5.get(name.decode("ascii") + ";")
    if char is None:
        return b"&amp;" + ref  # unknown name: keep it as text
    return char.encode("utf-8").replace(b"&", b"&amp;").replace(b"<", b"&lt;")


def repair_xml(data: bytes) -> bytes:
    """Fix the faults that break most real feeds' XML without changing their meaning: HTML named entities
    become characters, bare ``&`` becomes ``&amp;``, control characters go, character references to
    characters XML forbids become U+FFFD."""
    if has_control(data):
        data = _CONTROL.sub(b"", data)
    return _REPAIR.sub(_fix_reference, data)
