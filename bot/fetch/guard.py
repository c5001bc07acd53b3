"""The SSRF guard: feeds reach only public http(s) addresses, and the non-public ones ``Reach``
(``NEWSHOUND_ALLOW_PRIVATE_FEEDS``) opens — loopback and private ones, or exactly the networks listed.

Three checks, so that neither an IP literal in any spelling, nor a hostname, nor DNS rebinding slips through:

1. ``check_url`` runs on the feed URL and on every redirect hop before a request is made: http(s) only, a
   host, and — when the host is an IP literal in any form the C library would accept (``2130706433``,
   ``0x7f.1``, ``0177.0.0.1``, ``[::ffff:127.0.0.1]`` …) — one the reach allows.
2. ``GuardedResolver`` is the only resolver the HTTP client uses: every name resolves to allowed addresses
   only (other answers are dropped; only other answers is an error).
3. ``guarded_socket`` is the client's socket factory: it sees the very address each socket is about to
   connect to, after resolution and caching, and refuses one the reach does not allow. What is connected
   to is what was checked, so a resolver answer that changes between check and use (DNS rebinding) cannot
   slip through.

All three run whatever the setting: with private feeds allowed, link-local (cloud metadata), multicast,
unspecified and reserved addresses are still refused. ``bot.addresses`` is the one definition of "public"
and of what ``Reach`` opens.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from bot.addresses import Reach, address_problem, parse_ip

__all__ = ["BlockedAddress", "GuardedResolver", "Reach", "address_problem", "check_url", "guarded_socket",
           "parse_ip"]  # fmt: skip

_LOOPBACK_NAMES = ("127.0.0.1", "::1")


class BlockedAddress(OSError):
    """A URL or address that feeds may not reach. The message says why, in words."""


def check_url(url: str, *, reach: Reach) -> None:
    """Raise ``BlockedAddress`` unless ``url`` is http(s) with a host (and, when it is an IP literal in
    any spelling, one that ``reach`` allows)."""
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
    name = host.rstrip(".").lower()
    if parse_ip(name) is None:
        if (name == "localhost" or name.endswith(".localhost")) and not any(
            reach.allows(a) for a in _LOOPBACK_NAMES
        ):
            raise BlockedAddress(f"refused: {host} is loopback ({reach.hint('127.0.0.1')})")
        return  # a name: the resolver and the socket factory check what it resolves to
    problem = reach.problem(name)
    if problem:
        raise BlockedAddress(f"refused: {problem} ({reach.hint(name)})")


class GuardedResolver(AbstractResolver):
    """Resolves with ``inner`` (the system resolver by default), then drops every address ``reach`` does
    not allow."""

    def __init__(self, *, reach: Reach, inner: AbstractResolver | None = None) -> None:
        self.reach = reach
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if self.reach.allows(str(r["host"]))]
        if not allowed:
            first = str(results[0]["host"]) if results else ""
            problem = self.reach.problem(first) if results else "no address"
            raise BlockedAddress(f"refused: {host} resolves to {problem} ({self.reach.hint(first)})")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


AddrInfo = tuple[int, int, int, str, tuple[object, ...]]


def guarded_socket(reach: Reach) -> Callable[[AddrInfo], socket.socket]:
    """The HTTP client's socket factory: refuses to create a socket for an address ``reach`` does not
    allow. It runs just before ``connect``, with the address actually about to be used."""

    def factory(addr_info: AddrInfo) -> socket.socket:
        family, type_, proto, _canon, sockaddr = addr_info
        host = str(sockaddr[0])
        problem = reach.problem(host)
        if problem:
            raise BlockedAddress(f"refused to connect: {problem} ({reach.hint(host)})")
        return socket.socket(family=family, type=type_, proto=proto)

    return factory
