"""Serves a directory of feed documents over HTTP on 127.0.0.1, the way the feedparser test suite means them.

Files of feedparser's suite may start with a comment holding ``Header:`` lines (``Header: Status: 302``,
``Header: Content-type: text/xml; charset=…``, ``Header: Location: http://localhost:8097/tests/…``): they
become the response's status and headers (``localhost:8097`` locations are rewritten to this server).
``.gz`` files are sent as ``Content-Encoding: gzip``, ``.z`` files as ``deflate``, exactly as stored. The
server listens on several ports so the fetcher's per-host limit (2 per host and port) does not serialise a
corpus of thousands of files.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

_HEADER = re.compile(rb"^Header:\s*([A-Za-z][\w-]*):\s*(.*?)\s*$", re.M)
_TYPES = {".json": "application/json", ".gz": "application/xml", ".z": "application/xml"}


def declared_headers(body: bytes) -> tuple[int, dict[str, str]]:
    """The status and headers a corpus file asks to be served with (from its leading comment)."""
    head = body[:2000]
    if b"Header:" not in head:
        return 200, {}
    end = head.find(b"-->")
    status, headers = 200, {}
    for name, value in _HEADER.findall(head[: end if end > 0 else len(head)]):
        key, text = name.decode("ascii"), value.decode("latin-1")
        if key.lower() == "status":
            status = int(text.split()[0])
        else:
            headers[key] = text
    return status, headers


class CorpusHost:
    def __init__(self, ports: int = 16) -> None:
        self.ports = ports
        self.files: list[Path] = []
        self._by_route: dict[str, Path] = {}
        self._runner: web.AppRunner | None = None
        self._ports: list[int] = []

    def add(self, path: Path) -> str:
        """Serve ``path``; returns its URL."""
        i = len(self.files)
        self.files.append(path)
        route = f"/f{i}/{path.name}"
        self._by_route[route] = path
        return f"http://127.0.0.1:{self._ports[i % len(self._ports)]}{route}"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._ports[0]}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = self._by_route.get(request.path)
        if path is None:
            return web.Response(status=404, text="not in the corpus")
        body = path.read_bytes()
        status, headers = declared_headers(body)
        if "Location" in headers:
            headers["Location"] = headers["Location"].replace("http://localhost:8097/", self.base + "/")
        lowered = {k.lower() for k in headers}
        if "content-type" not in lowered:
            headers["Content-Type"] = _TYPES.get(path.suffix, "application/xml")
        if path.suffix == ".gz":
            headers["Content-Encoding"] = "gzip"
        elif path.suffix == ".z":
            headers["Content-Encoding"] = "deflate"
        try:
            return web.Response(
                status=status, body=body if status not in (204, 304) else None, headers=headers
            )
        except ValueError as exc:  # a header aiohttp will not send as written: send the body plainly
            return web.Response(status=200, body=body, headers={"X-Corpus-Note": str(exc)[:100]})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        for _ in range(self.ports):
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self._ports.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
