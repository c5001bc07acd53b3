"""Hostile and broken HTTP behaviour, as aiohttp handlers for ``FeedHost.handle``.

Each returns a handler; the server side stays cheap (a 1 GB gzip bomb is ~1 MB on the wire, produced lazily
from one repeated compressed segment), so tests can throw them at the real fetcher.
"""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import Iterator

from aiohttp import web

from tests.fakes.feed_host import Handler

MB = 1024 * 1024
_ZEROS = bytes(MB)


def compressed_zeros(total: int, wbits: int) -> Iterator[bytes]:
    """``total`` bytes of zeros, compressed (``wbits`` 31 gzip, 15 zlib, -15 raw deflate), as a lazy
    stream. Each MB is a full-flushed block, so every block after the first compresses identically and
    is computed once."""
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    first = c.compress(_ZEROS) + c.flush(zlib.Z_FULL_FLUSH)
    segment = c.compress(_ZEROS) + c.flush(zlib.Z_FULL_FLUSH)
    yield first
    for _ in range(max(0, total // MB - 1)):
        yield segment
    yield c.flush()


def bomb(total: int = 1024 * MB, encoding: str = "gzip", raw_deflate: bool = False) -> Handler:
    """A compression bomb: ``total`` bytes of zeros behind ``Content-Encoding: encoding``."""
    wbits = 31 if encoding == "gzip" else (-15 if raw_deflate else 15)

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={"Content-Type": "application/rss+xml", "Content-Encoding": encoding}
        )
        await resp.prepare(request)
        try:
            for part in compressed_zeros(total, wbits):
                await resp.write(part)
        except (ConnectionError, RuntimeError):
            pass  # the client hung up, as it should
        return resp

    return handler


def multi_member_bomb(members: int = 2000, member_size: int = MB) -> Handler:
    """Many concatenated gzip members, each ``member_size`` zeros."""
    one = gzip.compress(bytes(member_size), compresslevel=9)

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"})
        await resp.prepare(request)
        try:
            for _ in range(members):
                await resp.write(one)
        except (ConnectionError, RuntimeError):
            pass
        return resp

    return handler


def nested_bomb(total: int = 1024 * MB, header: str = "gzip") -> Handler:
    """gzip inside gzip: the outer layer is what ``Content-Encoding`` names; the inner one is a 1 GB bomb
    nobody should ever inflate."""
    inner = b"".join(compressed_zeros(total, 31))
    outer = gzip.compress(inner)

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=outer, headers={"Content-Type": "application/rss+xml", "Content-Encoding": header}
        )

    return handler


def drip(every: float = 0.05, byte: bytes = b" ") -> Handler:
    """A body that never ends, one byte at a time (slowloris in reverse)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await resp.prepare(request)
        await resp.write(b'<?xml version="1.0"?><rss version="2.0"><channel><title>drip</title>')
        try:
            while True:
                await asyncio.sleep(every)
                await resp.write(byte)
        except (ConnectionError, RuntimeError):
            pass
        return resp

    return handler


def endless(chunk: int = 64 * 1024) -> Handler:
    """An uncompressed body without a Content-Length that never ends."""

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await resp.prepare(request)
        block = b"<!-- " + b"x" * chunk + b" -->"
        try:
            while True:
                await resp.write(block)
        except (ConnectionError, RuntimeError):
            pass
        return resp

    return handler


def lying_length(declared: int = 100_000, sent: bytes = b"<rss version='2.0'><channel>") -> Handler:
    """Promises ``declared`` bytes, sends fewer, then closes the connection."""

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={"Content-Type": "application/rss+xml", "Content-Length": str(declared)}
        )
        await resp.prepare(request)
        await resp.write(sent)
        assert request.transport is not None
        request.transport.close()
        return resp

    return handler


def garbage_encoding(encoding: str = "gzip") -> Handler:
    """Claims ``Content-Encoding: encoding`` but sends bytes that are not."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=b"<rss>this is not compressed at all</rss>",
            headers={"Content-Type": "application/rss+xml", "Content-Encoding": encoding},
        )

    return handler


def stall(seconds: float = 3600) -> Handler:
    """Accepts the request and never answers."""

    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return web.Response(text="too late")

    return handler
