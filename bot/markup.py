"""Text that Discord will show: its limits, and feed text made harmless. Pure; no discord.py.

Alerts (``bot.deliver.discord.render``) and slash-command replies (``bot.commands``) both go through these
functions, so there is one definition of "safe" for hostile feed text:

* markdown is escaped, so a feed cannot open or close markup, fake a masked link
  (``[https://good](https://evil)``), a heading, a list, a quote, a spoiler, a timestamp, a custom emoji,
  or a mention pill (``<@123>``, ``<@&456>``, ``<#789>``);
* only absolute ``http``/``https`` URLs without credentials are used as link targets;
* every limit is respected by trimming at a word boundary with an ellipsis.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote, urlsplit, urlunsplit

import idna

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits)
CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FIELDS_LIMIT = 25
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000
URL_LIMIT = 2048
ALLOWED_ROLES_LIMIT = 100
WEBHOOK_NAME_LIMIT = 80

#: Embed colour per severity.
SEVERITY_COLOURS: dict[str, int] = {
    "low": 0x95A5A6,  # grey
    "normal": 0x3498DB,  # blue
    "high": 0xE67E22,  # orange
    "critical": 0xE74C3C,  # red
}

# Characters that start or end markdown, links, mentions, emoji, timestamps or spoilers anywhere in a line.
_MARKDOWN_CHARS = re.compile(r"([\\*_~`|<>\[\]()@#])")
# Line-start markers: bullet lists and subtext ("- ", "+ ", "-# "); numbered lists ("1. ").
_LINE_START = re.compile(r"^([ \t]*)([-+])", re.MULTILINE)
_NUMBERED = re.compile(r"^([ \t]*\d+)\.(?=\s)", re.MULTILINE)
# "scheme://" would be auto-linked; "scheme\://" is shown as the same text but is not a link.
_SCHEME = re.compile(r"(?<=[A-Za-z0-9+.-]):(?=//)")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2028\u2029]+")
_BLANKS = re.compile(r"\s+")


def trim(text: str, limit: int, ellipsis: str = "…") -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, ending in an ellipsis if cut."""
    if len(text) <= limit:
        return text
    if limit <= len(ellipsis):
        return ellipsis[:limit]
    cut = text[: limit - len(ellipsis) + 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    else:
        cut = cut[: limit - len(ellipsis)]
    return cut.rstrip(" ,;:-–—") + ellipsis


def clean(text: str | None) -> str:
    """Control and bidi-override characters removed, runs of blanks collapsed (newlines kept)."""
    text = _CONTROL.sub("", text or "")
    return _SPACES.sub(" ", text).strip()


def one_line(text: str | None) -> str:
    """Control characters dropped and every run of whitespace (newlines too) made one space."""
    return _BLANKS.sub(" ", _CONTROL.sub("", text or "")).strip()


def escape_markdown(text: str | None) -> str:
    """``text`` shown literally by Discord: every markdown, mention, emoji and link opener escaped."""
    text = _MARKDOWN_CHARS.sub(r"\\\1", _CONTROL.sub("", text or ""))
    text = _LINE_START.sub(r"\1\\\2", text)
    text = _NUMBERED.sub(r"\1\\.", text)
    return _SCHEME.sub(r"\\:", text)


_HOST = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?", re.ASCII)


def _netloc(hostname: str, port: int | None) -> str | None:
    """The host (and port) of a link as Discord and every browser read it: an internationalised domain
    name in its ASCII form (``пример.рф`` → ``xn--e1afmkfd.xn--p1ai``), an IPv6 address in brackets;
    None for anything else (a "host" holding ``)`` or ``]`` would end a markdown link early)."""
    if ":" in hostname:
        try:
            host = f"[{ipaddress.IPv6Address(hostname).compressed}]"
        except ValueError:
            return None
    else:
        try:  # UTS 46, non-transitional, as browsers and Discord: straße.de is not strasse.de
            host = hostname if hostname.isascii() else idna.encode(hostname, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            return None
        if not _HOST.fullmatch(host):
            return None
    return host if port is None else f"{host}:{port}"


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL Discord will accept as a link target, else None.
    Characters that could end a markdown link early are percent-encoded, and an internationalised host is
    written in its ASCII form."""
    if not url or not isinstance(url, str):
        return None
    url = url.strip()
    if _CONTROL.search(url) or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None:
        return None  # https://trusted.example@evil.example/ — a classic link disguise
    netloc = _netloc(parts.hostname, parts.port)
    if netloc is None:
        return None
    # The rest keeps its meaning; ( ) [ ] < > " ` | { } \ ^ and non-ASCII are percent-encoded.
    safe = "/:?#&=%+@!$',;*~.-_"
    url = urlunsplit(
        (parts.scheme, netloc, quote(parts.path, safe), quote(parts.query, safe), quote(parts.fragment, safe))
    )
    if len(url) > URL_LIMIT:
        return None
    return url
