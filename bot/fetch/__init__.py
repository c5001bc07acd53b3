"""The fetch stage: HTTP only. A conditional GET with caps on size, time and redirects → ``FetchResult``.

Every problem becomes ``FetchResult(status="error", error=<words>)``; nothing raises out of ``fetch``.
Feed URLs and every redirect hop must be http(s) and, unless private feeds are allowed, resolve only to
public addresses (see ``bot.fetch.guard``).
"""

from __future__ import annotations

import asyncio
import time
from email.utils import parsedate_to_datetime
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import aiohttp

from bot import __version__
from bot.fetch.guard import BlockedAddress, GuardedResolver, check_url
from bot.model import FetchResult

USER_AGENT = f"Newshound/{__version__} (+https://github.com/newshound/newshound; feed alerts bot)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
MAX_REDIRECTS = 5
CHUNK = 64 * 1024


class Fetcher:
    """One shared aiohttp session for every feed. Use as an async context manager."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        max_bytes: int = 10 * 1024 * 1024,
        allow_private: bool = False,
        max_connections: int = 32,
        per_host: int = 2,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.allow_private = allow_private
        self.user_agent = user_agent
        self._max_connections = max_connections
        self._per_host = per_host
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
                resolver=GuardedResolver(allow_private=self.allow_private),
                ttl_dns_cache=300,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                trust_env=False,
                headers={"User-Agent": self.user_agent, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
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
        try:
            result = await asyncio.wait_for(self._fetch(url, etag, last_modified), timeout=self.timeout)
        except TimeoutError:
            result = FetchResult("error", url, error=f"timed out after {self.timeout:g} s")
        except BlockedAddress as exc:
            result = FetchResult("error", url, error=str(exc))
        except aiohttp.ClientResponseError as exc:
            result = FetchResult("error", url, http_status=exc.status, error=f"HTTP error: {exc.message}")
        except aiohttp.ClientConnectorError as exc:
            cause = exc.os_error
            if isinstance(cause, BlockedAddress):
                result = FetchResult("error", url, error=str(cause))
            else:
                result = FetchResult(
                    "error", url, error=f"cannot connect to {exc.host}: {cause.strerror or cause}"
                )
        except aiohttp.ClientError as exc:
            result = FetchResult("error", url, error=f"connection failed: {type(exc).__name__}: {exc}"[:300])
        except (OSError, ValueError, UnicodeError) as exc:
            result = FetchResult("error", url, error=f"request failed: {type(exc).__name__}: {exc}"[:300])
        result.elapsed = time.monotonic() - started
        return result

    async def _fetch(self, url: str, etag: str | None, last_modified: str | None) -> FetchResult:
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
        for _hop in range(MAX_REDIRECTS + 1):
            check_url(current, allow_private=self.allow_private)
            seen.add(current)
            async with self._session.get(current, headers=headers, allow_redirects=False) as resp:
                if resp.status in (301, 302, 303, 307, 308):
                    location = resp.headers.get("Location")
                    if not location:
                        return FetchResult(
                            "error", url, current, resp.status, error="redirect without a Location"
                        )
                    nxt = urljoin(current, location)
                    if nxt in seen:
                        return FetchResult(
                            "error", url, current, resp.status, error=f"redirect loop at {nxt}"
                        )
                    current = nxt
                    continue
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
                if resp.status >= 400:
                    return FetchResult(
                        "error",
                        url,
                        current,
                        resp.status,
                        headers=hdrs,
                        error=f"HTTP {resp.status} {resp.reason or ''}".strip(),
                        retry_after=retry_after_seconds(hdrs.get("retry-after")),
                    )
                declared = resp.content_length
                if declared is not None and declared > self.max_bytes and "content-encoding" not in hdrs:
                    return FetchResult("error", url, current, resp.status, error=self._too_big())
                chunks: list[bytes] = []
                total = 0
                async for chunk in resp.content.iter_chunked(CHUNK):
                    total += len(chunk)
                    if total > self.max_bytes:
                        return FetchResult("error", url, current, resp.status, error=self._too_big())
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
        return FetchResult("error", url, current, error=f"more than {MAX_REDIRECTS} redirects")

    def _too_big(self) -> str:
        return f"the feed is larger than the {self.max_bytes / 1048576:g} MB cap"


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now (delta-seconds or an HTTP date); None if absent or nonsense."""
    if not value:
        return None
    v = value.strip()
    if v.isdigit():
        return float(v)
    try:
        when = parsedate_to_datetime(v)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
