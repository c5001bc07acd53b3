"""The fetch stage: HTTP only. A conditional GET with caps on size, time and redirects → ``FetchResult``.

Every problem becomes ``FetchResult(status="error", error=<words>)``; nothing raises out of ``fetch``.

Limits, each enforced here and nowhere else:

- **time**: one deadline for the whole fetch — connecting, every redirect hop and the body (a server
  dripping one byte a second is cut off at the deadline, not per read). It starts when the fetch gets its
  first slot on the host: waiting behind other requests to a busy host does not eat into it, but that wait
  is bounded too (``queue_timeout``);
- **size**: the body is counted as it is decompressed, and the fetch is aborted as soon as it passes the cap
  (aiohttp ≥ 3.14 inflates in bounded steps, so a gzip or deflate bomb never costs more than about the cap);
- **redirects**: at most ``MAX_REDIRECTS`` hops, each one checked by the SSRF guard, loops named as such;
- **politeness**: at most ``per_host`` requests at a time to one host (host and port, across every hop and
  every feed), and ``max_connections`` overall.

Feed URLs and every redirect hop must be http(s) and reach only public addresses, or the non-public ones
the ``reach`` allows (see ``bot.fetch.guard``: URL check, resolver and socket factory).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from email.utils import parsedate_to_datetime
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver

from bot import __version__
from bot.fetch.guard import BlockedAddress, GuardedResolver, Reach, check_url, guarded_socket
from bot.model import FetchResult

USER_AGENT = f"Newshound/{__version__} (+https://github.com/newshound/newshound; feed alerts bot)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
MAX_REDIRECTS = 5
CHUNK = 64 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)
_PERMANENT = (301, 308)


class HostLimiter:
    """At most ``per_host`` holders of a slot per host key at once; idle keys are forgotten."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}  # holding or waiting, per host: idle hosts are forgotten
        self._held: dict[str, int] = {}
        self.busiest: dict[str, int] = {}  # most slots held at once, per host (for tests and logs)

    @contextlib.asynccontextmanager
    async def slot(self, key: str, *, wait: float | None = None) -> AsyncIterator[None]:
        """Hold one of ``key``'s slots; waiting for it longer than ``wait`` seconds raises
        ``HostBusy``."""
        sem = self._slots.get(key)
        if sem is None:
            sem = self._slots[key] = asyncio.Semaphore(self.per_host)
        self._users[key] = self._users.get(key, 0) + 1
        try:
            try:
                async with asyncio.timeout(wait):
                    await sem.acquire()
            except TimeoutError:
                raise HostBusy(key) from None
            held = self._held[key] = self._held.get(key, 0) + 1
            self.busiest[key] = max(self.busiest.get(key, 0), held)
            try:
                yield
            finally:
                self._held[key] -= 1
                sem.release()
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:
                del self._users[key], self._slots[key]
                self._held.pop(key, None)


class HostBusy(Exception):
    """Waited too long for a free slot on a host."""


def host_key(url: str) -> str:
    """``host:port`` of ``url`` (lower-cased, default port filled in): what "one host" means for limits."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return url
    return f"{(parts.hostname or '').lower()}:{port}"


class Fetcher:
    """One shared aiohttp session for every feed. Use as an async context manager.

    ``resolver`` replaces the system DNS resolver (it is still wrapped by the SSRF guard); tests use it as
    the network edge."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        max_bytes: int = 10 * 1024 * 1024,
        reach: Reach | None = None,
        max_connections: int = 32,
        per_host: int = 2,
        user_agent: str = USER_AGENT,
        resolver: AbstractResolver | None = None,
        queue_timeout: float | None = None,
    ) -> None:
        self.timeout = timeout
        #: Longest wait for a slot on a busy host before the fetch gives up (its deadline starts after).
        self.queue_timeout = queue_timeout if queue_timeout is not None else max(120.0, 4 * timeout)
        self.max_bytes = max_bytes
        #: The non-public addresses feeds may reach (``NEWSHOUND_ALLOW_PRIVATE_FEEDS``); public ones always.
        self.reach = reach or Reach()
        self.user_agent = user_agent
        self.hosts = HostLimiter(per_host)
        self._max_connections = max_connections
        self._per_host = per_host
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Fetcher:
        await self.open()
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def open(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                limit_per_host=self._per_host,
                resolver=GuardedResolver(reach=self.reach, inner=self._resolver),
                ttl_dns_cache=300,
                socket_factory=guarded_socket(self.reach),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                trust_env=False,  # never a proxy from the environment: the guard must see the real peer
                headers={"User-Agent": self.user_agent, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
                auto_decompress=True,
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET ``url`` (conditionally, when ``etag``/``last_modified`` are known). Never raises."""
        started = time.monotonic()
        state: dict[str, str] = {}
        try:
            result = await self._fetch(url, etag, last_modified, state)
        except TimeoutError:
            result = FetchResult(
                "error", url, state.get("url", ""), error=f"timed out after {self.timeout:g} s"
            )
        except HostBusy as exc:
            result = FetchResult(
                "error",
                url,
                error=f"gave up after waiting {self.queue_timeout:g} s for other requests to {exc} to finish",
            )
        except BlockedAddress as exc:
            result = FetchResult("error", url, state.get("url", ""), error=str(exc))
        except aiohttp.ClientResponseError as exc:
            words = _one_line(exc.message)
            error = _payload_error(exc) if "encoding" in words.lower() else f"invalid HTTP response: {words}"
            result = FetchResult("error", url, state.get("url", ""), error=error)
        except aiohttp.ClientConnectorError as exc:
            result = FetchResult("error", url, state.get("url", ""), error=_connect_error(exc))
        except aiohttp.ClientPayloadError as exc:
            result = FetchResult("error", url, state.get("url", ""), error=_payload_error(exc))
        except aiohttp.ClientError as exc:
            result = FetchResult(
                "error", url, error=f"connection failed: {type(exc).__name__}: {_one_line(exc)}"
            )
        except (OSError, ValueError, UnicodeError, LookupError) as exc:
            result = FetchResult(
                "error", url, error=f"request failed: {type(exc).__name__}: {_one_line(exc)}"
            )
        result.elapsed = time.monotonic() - started
        return result

    async def _fetch(
        self, url: str, etag: str | None, last_modified: str | None, state: dict[str, str]
    ) -> FetchResult:
        if self._session is None:
            await self.open()
        assert self._session is not None
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        seen: set[str] = set()
        moved: str | None = None  # where the leading run of permanent redirects (301, 308) points
        permanent = True
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        for _hop in range(MAX_REDIRECTS + 1):
            check_url(current, reach=self.reach)
            seen.add(current)
            state["url"] = current
            first_hop = deadline is None
            wait = self.queue_timeout if deadline is None else max(0.0, deadline - loop.time())
            try:
                async with self.hosts.slot(host_key(current), wait=wait):
                    if deadline is None:
                        deadline = loop.time() + self.timeout
                    async with (
                        asyncio.timeout_at(deadline),
                        self._session.get(current, headers=headers, allow_redirects=False) as resp,
                    ):
                        self._check_peer(resp)
                        if resp.status not in _REDIRECTS:
                            result = await self._finish(url, current, resp, etag, last_modified)
                            result.moved_to = moved
                            return result
                        nxt, problem = _next_hop(current, resp)
                        if problem:
                            return FetchResult("error", url, current, resp.status, error=problem)
                        permanent = permanent and resp.status in _PERMANENT
                        if permanent:
                            moved = nxt
            except HostBusy:
                if first_hop:
                    raise
                raise TimeoutError from None  # waiting on a later hop's host ran out the fetch's deadline
            if nxt in seen:
                return FetchResult("error", url, current, error=f"redirect loop at {nxt}")
            current = nxt
        return FetchResult("error", url, current, error=f"more than {MAX_REDIRECTS} redirects")

    def _check_peer(self, resp: aiohttp.ClientResponse) -> None:
        """Defence in depth: the socket factory already refused addresses the reach does not allow before
        connecting; check the connected peer once more before reading anything."""
        if resp.connection is None or resp.connection.transport is None:
            return
        peer = resp.connection.transport.get_extra_info("peername")
        if peer:
            problem = self.reach.problem(str(peer[0]))
            if problem:
                raise BlockedAddress(f"refused: connected to {problem}")

    async def _finish(
        self,
        url: str,
        current: str,
        resp: aiohttp.ClientResponse,
        etag: str | None,
        last_modified: str | None,
    ) -> FetchResult:
        hdrs = {k.lower(): v for k, v in resp.headers.items()}
        if resp.status == 304:
            return FetchResult(
                "not_modified",
                url,
                current,
                304,
                headers=hdrs,
                etag=hdrs.get("etag") or etag,
                last_modified=hdrs.get("last-modified") or last_modified,
            )
        if resp.status >= 400 or resp.status < 200:
            return FetchResult(
                "error",
                url,
                current,
                resp.status,
                headers=hdrs,
                error=f"HTTP {resp.status} {resp.reason or ''}".strip()[:200],
                retry_after=retry_after_seconds(hdrs.get("retry-after")),
            )
        if resp.status >= 300:
            return FetchResult(
                "error", url, current, resp.status, headers=hdrs, error=f"unexpected HTTP {resp.status}"
            )
        declared = resp.content_length
        if declared is not None and declared > self.max_bytes and "content-encoding" not in hdrs:
            return FetchResult("error", url, current, resp.status, headers=hdrs, error=self._too_big())
        chunks: list[bytes] = []
        total = 0
        async for chunk in resp.content.iter_chunked(CHUNK):
            total += len(chunk)
            if total > self.max_bytes:
                resp.close()  # drop the connection: the rest of the body is never read or inflated
                return FetchResult("error", url, current, resp.status, headers=hdrs, error=self._too_big())
            chunks.append(chunk)
        return FetchResult(
            "ok",
            url,
            current,
            resp.status,
            body=b"".join(chunks),
            headers=hdrs,
            etag=hdrs.get("etag"),
            last_modified=hdrs.get("last-modified"),
        )

    def _too_big(self) -> str:
        return f"the feed is larger than the {self.max_bytes / 1048576:g} MB cap"


def _connect_error(exc: aiohttp.ClientConnectorError) -> str:
    cause = exc.os_error
    if isinstance(cause, BlockedAddress) or "refused to connect" in str(cause):
        return _one_line(cause, 300)  # the guard's own words (the resolver's, or the socket factory's)
    return _one_line(f"cannot connect to {exc.host}: {cause.strerror or cause}", 300)


def _next_hop(current: str, resp: aiohttp.ClientResponse) -> tuple[str, str | None]:
    """Where a redirect points, or why it cannot be followed."""
    location = resp.headers.get("Location")
    if not location:
        return "", f"HTTP {resp.status} redirect without a Location"
    try:
        return urljoin(current, location.strip()), None
    except ValueError:
        return "", f"redirect to an invalid URL {location[:200]!r}"


def _one_line(text: object, limit: int = 200) -> str:
    return " ".join(str(text).split())[:limit]


def _payload_error(exc: aiohttp.ClientError) -> str:
    text = _one_line(exc, 1000)
    m = re.search(r"content-encoding: ?([\w -]+)", text, re.I)
    if m:
        return f"the response says Content-Encoding: {m.group(1).split()[0]} but could not be decompressed"
    m = re.search(r"received (\d+) of (\d+) bytes", text)
    if m:
        return f"the connection closed before the whole body arrived ({m.group(1)} of {m.group(2)} bytes)"
    return f"the response body was cut short or malformed ({text[:200]})"


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now (delta-seconds or an HTTP date); None if absent or nonsense."""
    if not value:
        return None
    v = value.strip()
    if v.isdigit():
        return float(min(int(v), 10**7))
    try:
        when = parsedate_to_datetime(v)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())
