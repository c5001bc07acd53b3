"""A real HTTP server on 127.0.0.1 serving feeds that a test controls, recording every request."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape

from aiohttp import web


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = True  # answer If-None-Match with 304 when the body is unchanged
    delay: float = 0.0
    gzip: bool = False


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FeedHost:
    """``host.url("/a.xml")`` after ``host.set("/a.xml", rss(...))``; ``host.requests`` lists what came in.

    ``host.handle(path, handler)`` serves a path with any aiohttp handler (see ``tests.fakes.hostile``).
    ``host.busiest`` is the largest number of requests the server was answering at the same time."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.handlers: dict[str, Handler] = {}
        self.requests: list[Seen] = []
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.active = 0
        self.busiest = 0

    def set(self, path: str, body: bytes | str = b"", **kw: object) -> Route:
        data = body.encode() if isinstance(body, str) else body
        route = Route(body=data, **kw)  # type: ignore[arg-type]
        self.routes[path] = route
        return route

    def handle(self, path: str, handler: Handler) -> None:
        self.handlers[path] = handler

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Seen(request.path_qs, dict(request.headers)))
        self.active += 1
        self.busiest = max(self.busiest, self.active)
        try:
            handler = self.handlers.get(request.path_qs) or self.handlers.get(request.path)
            if handler is not None:
                return await handler(request)
            return await self._serve(request)
        finally:
            self.active -= 1

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        route = self.routes.get(request.path_qs) or self.routes.get(request.path)
        if route is None:
            return web.Response(status=404, text="not found")
        if route.delay:
            await asyncio.sleep(route.delay)
        headers = dict(route.headers)
        if route.status != 200:
            return web.Response(status=route.status, headers=headers, body=route.body)
        tag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
        if route.etag:
            headers["ETag"] = tag
            if request.headers.get("If-None-Match") == tag:
                return web.Response(status=304, headers=headers)
        body = route.body
        if route.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        headers["Content-Type"] = route.content_type
        return web.Response(status=200, body=body, headers=headers)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def rfc822(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=True)


def rss(items: list[dict[str, object]], title: str = "Test feed") -> str:
    """An RSS 2.0 document. Each item: title, link, guid, description, published (datetime), source."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>https://example.org/</link><description>test</description>",
    ]
    for it in items:
        parts.append("<item>")
        for tag in ("title", "link", "guid", "description"):
            if it.get(tag) is not None:
                parts.append(f"<{tag}>{escape(str(it[tag]))}</{tag}>")
        if isinstance(it.get("published"), datetime):
            parts.append(f"<pubDate>{rfc822(it['published'])}</pubDate>")  # type: ignore[arg-type]
        if it.get("source"):
            parts.append(f'<source url="https://publisher.example/">{escape(str(it["source"]))}</source>')
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts)
