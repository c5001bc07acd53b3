"""The parse stage: a fetched body becomes ``Entry`` objects. ``parse_feed`` never raises.

Runs off the event loop (in worker processes, see ``bot.parse.pool``). Two tiers: ``bot.parse.fast`` (lxml,
emulating feedparser's rules) reads the ordinary RSS/Atom documents; whatever it is not sure of goes to
feedparser, the reference, which is given bytes and the response headers, never a URL or a path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.model import ParsedFeed

__all__ = ["parse_feed"]

_DOCTYPE_ENTITY = re.compile(rb"<!DOCTYPE[^>\[]*\[[^\]]*<!ENTITY", re.I)
_LOOKS_HTML = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b", re.I | re.S)


def parse_feed(body: bytes, url: str = "", headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parse ``body`` (fetched from ``url`` with response ``headers``). Problems end up in
    ``ParsedFeed.error`` (nothing readable) or ``.warning`` (read, but the document was broken)."""
    try:
        return _parse(body, url, dict(headers or {}))
    except Exception as exc:  # a parser bug must never take the poller down
        return ParsedFeed(error=f"parser failed: {type(exc).__name__}: {exc}"[:300], parser="none")


def _parse(body: bytes, url: str, headers: dict[str, str]) -> ParsedFeed:
    if not body.strip():
        return ParsedFeed(error="the response was empty", parser="none")
    head = body[:4096].lstrip(b"\xef\xbb\xbf")
    if _DOCTYPE_ENTITY.search(body[: 1 << 20]):
        return ParsedFeed(
            error="refused: the document declares XML entities in its DOCTYPE (entity-expansion guard)",
            parser="none",
        )
    # Imported here, not at the top: the bot's main process imports this package (for the pool) but
    # never parses, so it need not load lxml and feedparser; the pool's forkserver preloads them.
    from bot.parse.fast import parse_fast
    from bot.parse.feedparser_path import parse_with_feedparser

    fast = parse_fast(body, url, headers)
    if fast is not None:
        return fast
    result = parse_with_feedparser(body, url, headers)
    if not result.entries and not result.title and _LOOKS_HTML.match(head):
        result.error = "the URL returned an HTML page, not a feed"
    return result
