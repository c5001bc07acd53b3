"""The SSRF guard: feeds reach only public http(s) addresses unless private feeds are allowed.

Two checks, so neither an IP literal nor a hostname (nor DNS rebinding) slips through:
``check_url`` runs on the URL and every redirect hop before a request; ``GuardedResolver`` is the only
resolver the HTTP client uses, so the client can only connect to addresses that passed the check.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

_HINT = "set NEWSHOUND_ALLOW_PRIVATE_FEEDS=1 for intranet feeds"


class BlockedAddress(OSError):
    """A URL or address that feeds may not reach. The message says why, in words."""


def address_problem(ip: str) -> str | None:
    """Why ``ip`` is not a public address, or None if it is."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return f"{ip!r} is not an IP address"
    if isinstance(addr, ipaddress.IPv6Address):
        mapped = addr.ipv4_mapped or addr.sixtofour
        if mapped is not None:
            addr = mapped
        elif addr.teredo is not None:
            addr = addr.teredo[1]
    for flag, words in (
        ("is_loopback", "loopback"),
        ("is_unspecified", "unspecified"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_reserved", "reserved"),
        ("is_private", "private"),
    ):
        if getattr(addr, flag):
            return f"{addr} is a {words} address"
    if not addr.is_global:
        return f"{addr} is not a public address"
    return None


def check_url(url: str, *, allow_private: bool) -> None:
    """Raise ``BlockedAddress`` unless ``url`` is http(s) with a host (and, when it is an IP literal,
    a public one)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise BlockedAddress(f"invalid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise BlockedAddress(f"refused: only http and https URLs are fetched, not {parts.scheme or 'none'}:")
    if not host:
        raise BlockedAddress("refused: the URL has no host")
    if allow_private:
        return
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            raise BlockedAddress(f"refused: {host} is loopback ({_HINT})") from None
        return  # a name: the resolver checks what it resolves to
    problem = address_problem(host)
    if problem:
        raise BlockedAddress(f"refused: {problem} ({_HINT})")


class GuardedResolver(AbstractResolver):
    """Resolves with the default resolver, then drops every non-public address."""

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
