"""Which IP addresses feeds may reach: the one definition of "public", and ``Reach``, what
``NEWSHOUND_ALLOW_PRIVATE_FEEDS`` opens beyond it. Pure (``ipaddress``, ``socket`` parsing only): the
settings validate the variable with it, and the fetch stage's SSRF guard (``bot.fetch.guard``) enforces it.

``address_problem`` says why an address is not public. IPv4 addresses embedded in IPv6 (mapped
``::ffff:0:0/96``, translated ``::ffff:0:0:0/96``, compatible ``::/96``, 6to4 ``2002::/16``, NAT64
``64:ff9b::/96``) are judged by the IPv4 address they carry.

``Reach`` has three forms:

* nothing beyond public addresses (the default);
* ``private``: also loopback, private (RFC 1918, ``fc00::/7`` …) and other non-global unicast addresses
  (carrier-grade NAT ``100.64.0.0/10``, as VPNs such as Tailscale use) — intranet feeds, tests. Link-local
  (cloud metadata at ``169.254.169.254``), multicast, unspecified (``0.0.0.0``), reserved, Teredo and
  local-use NAT64 addresses stay refused;
* a list of networks: exactly those, whatever they are (``127.0.0.1``, ``10.20.0.0/16``, even a
  link-local one when it is listed).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Host spellings the C library's ``inet_aton`` reads as IPv4: decimal, octal and hex parts, 1–4 of them.
_NUMERIC_HOST = re.compile(r"(?:0[xX][0-9a-fA-F]*|[0-9]+)(?:\.(?:0[xX][0-9a-fA-F]*|[0-9]+)){0,3}\.?")

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_COMPAT = ipaddress.IPv6Network("::/96")
_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")

#: The kinds of non-public address ``Reach.private`` opens (see ``_kind``).
_INTRANET_KINDS = frozenset({"loopback", "private", "non-global"})

_ON = ("1", "true", "yes", "on")
_OFF = ("", "0", "false", "no", "off")


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


def _kind(addr: IPAddress) -> str | None:
    """What kind of non-public address ``addr`` is (its own kind: not that of an embedded IPv4 address),
    or None for a public one."""
    if isinstance(addr, ipaddress.IPv6Address):
        if addr in _NAT64_LOCAL:
            return "local-use NAT64"
        if addr.teredo is not None:  # before ``is_private``, which 2001::/23 is
            return "Teredo tunnel"
    for flag, kind in (
        ("is_loopback", "loopback"),
        ("is_unspecified", "unspecified"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_reserved", "reserved"),
        ("is_private", "private"),
    ):
        if getattr(addr, flag):
            return kind
    if not addr.is_global:
        return "non-global"
    return None


def _words(shown: str, kind: str) -> str:
    if kind == "local-use NAT64":
        return f"{shown} is a private (local-use NAT64) address"
    if kind == "non-global":
        return f"{shown} is not a public address"
    article = "an" if kind[0] in "aeiou" else "a"
    return f"{shown} is {article} {kind} address"


def _judged(addr: IPAddress) -> tuple[IPAddress, str | None]:
    """(the address that decides, its kind): an IPv6 address that embeds an IPv4 one is judged by it."""
    if isinstance(addr, ipaddress.IPv6Address) and addr not in _NAT64_LOCAL:
        v4 = embedded_ipv4(addr)
        if v4 is not None:
            return v4, _kind(v4)
    return addr, _kind(addr)


def address_problem(ip: str) -> str | None:
    """Why ``ip`` is not a public address, or None if it is."""
    return _PUBLIC_ONLY.problem(ip)


@dataclass(frozen=True, slots=True)
class Reach:
    """Which non-public addresses feeds may reach besides the public ones (see the module docstring)."""

    private: bool = False
    networks: tuple[IPNetwork, ...] = ()

    @property
    def public_only(self) -> bool:
        return not self.private and not self.networks

    def allows(self, ip: str) -> bool:
        return self.problem(ip) is None

    def problem(self, ip: str) -> str | None:
        """Why feeds may not reach ``ip``, or None when they may."""
        addr = parse_ip(ip)
        if addr is None:
            return f"{ip!r} is not an IP address"
        judged, kind = _judged(addr)
        if kind is None:
            return None  # public
        if any(a in n for n in self.networks for a in (addr, judged)):
            return None
        if self.private and kind in _INTRANET_KINDS:
            return None
        if judged is not addr:
            return f"{addr} embeds {_words(str(judged), kind)}"
        return _words(str(addr), kind)

    def hint(self, ip: str) -> str:
        """How to let the refused address ``ip`` through, for error messages."""
        addr = parse_ip(ip)
        kind = _judged(addr)[1] if addr is not None else None
        if kind in _INTRANET_KINDS and not self.private:
            return "set NEWSHOUND_ALLOW_PRIVATE_FEEDS=1, or to the networks to allow, for intranet feeds"
        return "list its network in NEWSHOUND_ALLOW_PRIVATE_FEEDS to allow it"

    def describe(self) -> str:
        """The setting's value, normalised: ``0``, ``1`` or the networks."""
        if self.public_only:
            return "0"
        return "1" if self.private else ",".join(str(n) for n in self.networks)


_PUBLIC_ONLY = Reach()


def parse_reach(value: str | bool | None) -> Reach:
    """``NEWSHOUND_ALLOW_PRIVATE_FEEDS``: ``1``/``true``/``yes``/``on`` (loopback and private addresses),
    ``0``/``false``/``no``/``off``/empty (public addresses only), or networks and addresses separated by
    commas or spaces (``127.0.0.1, 10.20.0.0/16, fd00::/8``). Raises ``ValueError`` saying what is wrong."""
    if value is None or isinstance(value, bool):
        return Reach(private=bool(value))
    text = value.strip()
    if text.lower() in _ON:
        return Reach(private=True)
    if text.lower() in _OFF:
        return Reach()
    networks: list[IPNetwork] = []
    for part in re.split(r"[,\s]+", text):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part.strip("[]"), strict=False))
        except ValueError:
            raise ValueError(
                f"{part!r} is not an IP address or network; use 1 (loopback and private addresses), 0, or "
                "addresses and networks such as 127.0.0.1,10.20.0.0/16"
            ) from None
    return Reach(networks=tuple(networks))
