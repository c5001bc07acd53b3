"""A loopback feed server for the benchmarks: N feeds cycled from the real-feed corpus.

Run as its own process (``python -m bench.feedserver --feeds N``) so that its CPU and memory never mix
with the bot's. It prints one line, ``READY <port>``, then serves until stdin closes.

``/f/<i>.xml`` is real feed ``i % len(corpus)``. The ETag names the body's generation; ``If-None-Match``
with the current ETag gets a 304. ``POST /_cycle`` starts the next steady-state cycle: for each feed,
deterministically by its number, 80 % keep their ETag (→ 304), 15 % get a new ETag for the same body
(the bot must recognise the unchanged body by its hash) and 5 % get a changed body with one new item.
``POST /_change/<i>`` changes feed ``i`` alone (for the latency benchmark). Feeds are served from
several loopback addresses (127.0.0.1 … 127.0.0.K) on one port, like feeds on different hosts.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from datetime import UTC, datetime
from email.utils import format_datetime

from aiohttp import web

from bench.corpus import real_feeds

_FIRST_ITEM = re.compile(rb"<(item|entry)[\s>]")


def _fresh_item(body: bytes, stamp: str, now: datetime) -> bytes:
    m = _FIRST_ITEM.search(body)
    if m is None:
        return body + f"<!-- changed {stamp} -->".encode()
    if m.group(1) == b"item":
        new = (
            f"<item><title>Fresh story {stamp}: Russian navy ship leaves Tartus</title>"
            f"<link>https://news.example.org/fresh/{stamp}</link><guid>fresh-{stamp}</guid>"
            f"<pubDate>{format_datetime(now, usegmt=True)}</pubDate>"
            f"<description>Breaking: a story published at {now.isoformat()} for the benchmark.</description>"
            "</item>"
        )
    else:
        new = (
            f"<entry><id>urn:fresh:{stamp}</id><title>Fresh story {stamp}: Russian navy ship leaves "
            f'Tartus</title><link href="https://news.example.org/fresh/{stamp}"/>'
            f"<updated>{now.strftime('%Y-%m-%dT%H:%M:%SZ')}</updated>"
            f"<summary>Breaking: a story published at {now.isoformat()} for the benchmark.</summary></entry>"
        )
    return body[: m.start()] + new.encode() + body[m.start() :]


class FeedServer:
    def __init__(self, feeds: int) -> None:
        self.corpus = [(body, ctype) for _name, body, ctype in real_feeds()]
        self.n = feeds
        self.bodies: list[bytes] = [self.corpus[i % len(self.corpus)][0] for i in range(feeds)]
        self.gen = [0] * feeds  # ETag generation per feed
        self.cycle = 0
        self.hits = 0
        self.not_modified = 0

    def _etag(self, i: int) -> str:
        return f'"{i}-{self.gen[i]}"'

    async def feed(self, request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        if not 0 <= i < self.n:
            return web.Response(status=404)
        self.hits += 1
        etag = self._etag(i)
        if request.headers.get("If-None-Match") == etag:
            self.not_modified += 1
            return web.Response(status=304, headers={"ETag": etag})
        ctype = self.corpus[i % len(self.corpus)][1]
        return web.Response(body=self.bodies[i], headers={"ETag": etag, "Content-Type": ctype})

    def change(self, i: int) -> None:
        now = datetime.now(UTC)
        self.gen[i] += 1
        self.bodies[i] = _fresh_item(self.bodies[i], f"{i}-{self.gen[i]}", now)

    async def next_cycle(self, request: web.Request) -> web.Response:
        self.cycle += 1
        counts = {"not_modified": 0, "same_body_new_etag": 0, "changed": 0}
        for i in range(self.n):
            slot = (i * 7 + self.cycle) % 20  # deterministic, rotating with the cycle
            if slot == 0:
                self.change(i)
                counts["changed"] += 1
            elif slot <= 3:
                self.gen[i] += 1
                counts["same_body_new_etag"] += 1
            else:
                counts["not_modified"] += 1
        return web.json_response(counts)

    async def change_one(self, request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        self.change(i)
        return web.json_response({"feed": i, "etag": self._etag(i)})

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response({"hits": self.hits, "not_modified": self.not_modified})


async def serve(feeds: int, hosts: int) -> None:
    server = FeedServer(feeds)
    app = web.Application()
    app.router.add_get("/f/{i:\\d+}.xml", server.feed)
    app.router.add_post("/_cycle", server.next_cycle)
    app.router.add_post("/_change/{i:\\d+}", server.change_one)
    app.router.add_get("/_stats", server.stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    first = web.TCPSite(runner, "127.0.0.1", 0)
    await first.start()
    port = first._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    for h in range(2, hosts + 1):
        await web.TCPSite(runner, f"127.0.0.{h}", port).start()
    print(f"READY {port}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    await runner.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--feeds", type=int, default=2000)
    ap.add_argument("--hosts", type=int, default=1)
    args = ap.parse_args()
    asyncio.run(serve(args.feeds, args.hosts))


if __name__ == "__main__":
    main()
