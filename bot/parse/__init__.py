"""The parse stage: a fetched body becomes ``Entry`` objects. ``parse_feed`` never raises.

Runs off the event loop (in worker processes, see ``bot.parse.pool``). Parsers are given bytes and the
response headers, never a URL or a path. Two tiers read XML: ``bot.parse.fast`` (lxml, emulating
feedparser's rules exactly) reads the ordinary well-formed RSS/Atom documents; whatever it is not sure of
goes to feedparser, the reference. Before any XML parser sees a document, ``bot.parse.guards``
decodes it the way feedparser will, refuses entity declarations and absurd complexity, and repairs the
common faults that would otherwise send it to the slow lenient parser (see that module's docstring for the
order and the reasons). The whole parse runs under a wall-clock limit.

What comes out, in words when it is not a feed: an HTML page (naming the feeds it advertises), JSON that is
not a JSON Feed, XML that is not a feed (naming its root element), an empty response, or a document too
broken or too large to read.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.model import ParsedFeed
from bot.parse.normalise import Brief, disambiguate_keys

__all__ = ["MAX_ENTRIES", "PRELOAD", "parse_feed", "use_accelerator"]

#: The parsers proper (lxml, feedparser: ~30 ms to import) load on the first parse, so that a process
#: that only hands documents to the parse workers never imports them; the workers' forkserver preloads
#: these modules (``bot.parse.pool``).
PRELOAD = ("bot.parse.guards", "bot.parse.discover", "bot.parse.fast", "bot.parse.feedparser_path",
           "bot.parse.jsonfeed")  # fmt: skip

#: Items read from one document; more are dropped with a warning (the largest of 200 real feeds has 1,046).
MAX_ENTRIES = 10_000

_HTML_ROOTS = {"html", "head", "body"}
_FEED_ROOTS = {"rss", "feed", "rdf:rdf", "rdf", "channel"}


def use_accelerator(on: bool) -> bool:
    """Turn the C accelerator (``_speedups``: HTML to text, the guards' counts) on, where it is built,
    or off — the Python forms, with the same results — in this process; True when C is now in use.
    For the benchmark and the tests."""
    from bot.parse import guards, normalise

    counting = guards.use_accelerator(on)
    text = normalise.use_accelerator(on)
    return counting and text


def parse_feed(
    body: bytes,
    url: str = "",
    headers: Mapping[str, str] | None = None,
    *,
    fast: bool = True,
    brief: Brief | None = None,
) -> ParsedFeed:
    """Parse ``body`` (fetched from ``url`` with response ``headers``). Problems end up in
    ``ParsedFeed.error`` (nothing readable) or ``.warning`` (read, but the document was broken).
    ``fast=False`` skips the fast path: feedparser reads everything (the reference, for comparisons).
    ``brief(published)`` true: that entry cannot alert, keep it brief (``Entry.brief``)."""
    from bot.parse import guards

    try:
        with guards.time_limit(guards.PARSE_SECONDS):
            lowered = {k.lower(): v for k, v in (headers or {}).items()}
            result = _parse(body, url, lowered, fast, brief)
    except guards.ParseTimeout:
        return ParsedFeed(
            error=f"reading the document took over {guards.PARSE_SECONDS:g} s (too large or too complex)",
            parser="none",
        )
    except RecursionError:
        return ParsedFeed(error="the document is nested too deeply to read", parser="none")
    except Exception as exc:  # a parser bug must never take the poller down
        return ParsedFeed(error=f"parser failed: {type(exc).__name__}: {exc}"[:300], parser="none")
    result.entries = disambiguate_keys(result.entries)
    return result


def _parse(
    body: bytes, url: str, headers: dict[str, str], use_fast: bool = True, brief: Brief | None = None
) -> ParsedFeed:
    from bot.parse import guards
    from bot.parse.discover import html_page_error
    from bot.parse.fast import parse_fast
    from bot.parse.feedparser_path import parse_with_feedparser
    from bot.parse.jsonfeed import looks_like_json, parse_json_feed

    if not body.strip():
        return ParsedFeed(error="the response was empty", parser="none")
    if looks_like_json(body, headers.get("content-type", "")):
        return parse_json_feed(body, url, MAX_ENTRIES, brief)

    moved = guards.declaration_first(body)
    data, encoding_warning = guards.to_utf8(body if moved is None else moved, headers)
    # An entity declaration refuses the document before anything else is said of it — also one hidden
    # by control characters, which only a broken document can hold (so that costly check waits for a
    # document that is not well-formed, or for another refusal it would take precedence over).
    if guards.shows_entities(data):
        return _refused_entities()
    root = guards.root_element(data)
    if root in _HTML_ROOTS:
        return (
            _refused_entities()
            if guards.hides_entities(data)
            else ParsedFeed(error=html_page_error(body, url), parser="none")
        )
    problem = guards.complexity_problem(data)
    if problem:
        return (
            _refused_entities() if guards.hides_entities(data) else ParsedFeed(error=problem, parser="none")
        )

    warnings = [encoding_warning] if encoding_warning else []
    if moved is not None:
        warnings.append("repaired malformed XML (blank lines or comments before the XML declaration)")
    still = broken = guards.xml_problem(data)
    if broken and guards.hides_entities(data):
        return _refused_entities()
    if broken or guards.has_doctype(data):
        # Broken: repair what breaks most feeds. With a DOCTYPE, expat silently drops references to
        # entities it cannot know (HTML's &eacute; in an RSS 0.91 feed); make them characters first.
        data = guards.repair_xml(data)
        still = guards.xml_problem(data) if broken else None
        if still and (declared := guards.declare_prefixes(data)) is not None:
            again = guards.xml_problem(declared)
            end = guards.junk_after_root(declared) if again else None
            if again is None or end is not None:  # else the lenient parser reads the document as served
                data, still = (declared, None) if end is None else (declared[:end], None)
        if still and (end := guards.junk_after_root(data)) is not None:
            data, still = data[:end], None  # what follows the root element is not read
        if broken and still is None:
            warnings.append(f"repaired malformed XML ({broken})")
        elif still and len(data) > guards.LENIENT_MAX_BYTES:
            size = len(data) / 1048576
            return ParsedFeed(
                error=f"not well-formed XML ({still}), and at {size:.1f} MB too large to read leniently "
                f"(limit {guards.LENIENT_MAX_BYTES / 1048576:g} MB)",
                parser="none",
            )

    # The parser gets the UTF-8 text the guards checked, labelled as such: the fast path when the XML is
    # well-formed (it returns None for anything it does not read exactly as feedparser would), else
    # feedparser.
    utf8 = _as_utf8(headers)
    fast = None if still or not use_fast else parse_fast(data, url, utf8, MAX_ENTRIES, brief)
    result = fast if fast is not None else parse_with_feedparser(data, url, utf8, MAX_ENTRIES, brief)
    if still:
        warnings.append(f"not well-formed XML ({still}); read leniently")
    elif result.warning:
        warnings.append(result.warning)
    result.warning = "; ".join(warnings)[:500] or None
    if not result.entries and not result.title and not result.format:
        if root in _FEED_ROOTS:
            result.error = f"not a readable feed: not well-formed XML ({still})" if still else result.error
        else:
            shown = f"<{root}>" if root else "no XML element at the start"
            result.error = f"not a feed: the document is not RSS, Atom or JSON Feed ({shown})"
    return result


def _refused_entities() -> ParsedFeed:
    return ParsedFeed(
        error="refused: the document declares XML entities (entity-expansion guard)", parser="none"
    )


def _as_utf8(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "content-type": "application/xml; charset=utf-8"}
