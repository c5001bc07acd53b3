"""The SSRF guard: feeds reach only public http(s) addresses unless private feeds are allowed.

Three checks, so that neither an IP literal in any spelling, nor a hostname, nor DNS rebinding slips through:

1. ``check_url`` runs on the feed URL and on every redirect hop before a request is made: http(s) only, a
   host, and — when the host is an IP literal in any form the C library would accept (``2130706433``,
   ``0x7f.1``, ``0177.0.0.1``, ``[::ffff:127.0.0.1]`` …) — a public one.
2. ``GuardedResolver`` is the only resolver the HTTP client uses: every name resolves to public addresses
   only (private answers are dropped; only private answers is an error).
3. ``guarded_socket`` is the client's socket factory: it sees the very address each socket is about to
   connect to, after resolution and caching, and refuses a non-public one. What is connected to is what
   was checked, so a resolver answer that changes between check and use (DNS rebinding) cannot slip
   through.

``address_problem`` is the one definition of "public": IPv4 and IPv6, with IPv4 addresses embedded in
IPv6 (mapped ``::ffff:0:0/96``, translated ``::ffff:0:0:0/96``, compatible ``::/96``, 6to4 ``2002::/16``,
NAT64 ``64:ff9b::/96``) judged by the IPv4 address they carry.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

_HINT = "set NEWSHOUND_ALLOW_PRIVATE_FEEDS=1 for intranet feeds"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Host spellings the C library's ``inet_aton`` reads as IPv4: decimal, octal and hex parts, 1–4 of them.
_NUMERIC_HOST = re.compile(r"(?:0[xX][0-9a-fA-F]*|[0-9]+)(?:\.(?:0[xX][0-9a-fA-F]*|[0-9]+)){0,3}\.?")

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_COMPAT = ipaddress.IPv6Network("::/96")
_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")


class BlockedAddress(OSError):
    """A URL or address that feeds may not reach. The message says why, in words."""


def parse_ip(text: str) -> IPAddress | None:
    """``text`` as an IP address if it is one in any spelling a resolver would accept, else None.

    ``"2130706433"``, ``"0x7f.1"`` and ``"0177.0.0.1"`` are all 127.0.0.1; ``"[::1]"`` and
    ``"fe80::1%eth0"`` are IPv6 literals."""
    t = text.strip().strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(t)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(t):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(t.rstrip(".")))
        except OSError:
            return None
    return None


def embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, translated, compatible, 6to4, NAT64)."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr in _NAT64 or addr in _TRANSLATED or (addr in _COMPAT and int(addr) > 1):
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def address_problem(ip: str) -> str | None:
    """Why ``ip`` is not a public address, or None if it is."""
    addr = parse_ip(ip)
    if addr is None:
        return f"{ip!r} is not an IP address"
    shown = str(addr)
    if isinstance(addr, ipaddress.IPv6Address):
        if addr in _NAT64_LOCAL:
            return f"{shown} is a private (local-use NAT64) address"
        v4 = embedded_ipv4(addr)
        if v4 is not None:
            inner = address_problem(str(v4))
            return f"{shown} embeds {inner}" if inner else None
    for flag, words in (
        ("is_loopback", "loopback"),
        ("is_unspecified", "unspecified"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_reserved", "reserved"),
        ("is_private", "private"),
    ):
        if getattr(addr, flag):
            return f"{shown} is a {words} address"
    if isinstance(addr, ipaddress.IPv6Address) and addr.teredo is not None:
        return f"{shown} is a Teredo tunnel address"
    if not addr.is_global:
        return f"{shown} is not a public address"
    return None


def check_url(url: str, *, allow_private: bool) -> None:
    """Raise ``BlockedAddress`` unless ``url`` is http(s) with a host (and, when it is an IP literal in
    any spelling, a public one)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018  (a port that is not a number raises here)
    except ValueError as exc:
        raise BlockedAddress(f"refused: invalid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise BlockedAddress(f"refused: only http and https URLs are fetched, not {parts.scheme or 'none'}:")
    if not host:
        raise BlockedAddress("refused: the URL has no host")
    if allow_private:
        return
    name = host.rstrip(".").lower()
    if parse_ip(name) is None:
        if name == "localhost" or name.endswith(".localhost"):
            raise BlockedAddress(f"refused: {host} is loopback ({_HINT})")
        return  # a name: the resolver and the socket factory check what it resolves to
    problem = address_problem(name)
    if problem:
        raise BlockedAddress(f"refused: {problem} ({_HINT})")


class GuardedResolver(AbstractResolver):
    """Resolves with ``inner`` (the system resolver by default), then drops every non-public address."""

    def __init__(self, *, allow_private: bool, inner: AbstractResolver | None = None) -> None:
        self.allow_private = allow_private
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if self.allow_private:
            return results
        allowed = [r for r in results if address_problem(str(r["host"])) is None]
        if not allowed:
            problem = address_problem(str(results[0]["host"])) if results else "no address"
            raise BlockedAddress(f"refused: {host} resolves to {problem} ({_HINT})")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


AddrInfo = tuple[int, int, int, str, tuple[object, ...]]


def guarded_socket(addr_info: AddrInfo) -> socket.socket:
    """The HTTP client's socket factory (private feeds not allowed): refuses to create a socket for a
    non-public address. It runs just before ``connect``, with the address actually about to be used."""
    family, type_, proto, _canon, sockaddr = addr_info
    host = str(sockaddr[0])
    problem = address_problem(host)
    if problem:
        raise BlockedAddress(f"refused to connect: {problem} ({_HINT})")
    return socket.socket(family=family, type=type_, proto=proto)
