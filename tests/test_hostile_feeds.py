"""A bot among hostile feeds, end to end: real servers on 127.0.0.1, the real App, parse workers and SQLite.
It stays up, the healthy feed alerts, and every hostile feed's health says why, in words."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web

from bot.app import App
from bot.config import Settings
from bot.store import key_hash
from tests.conftest import CHANNEL, Captured, make_settings, write_rules
from tests.fakes import hostile
from tests.fakes.feed_host import FeedHost, rss
from tests.test_parse import BILLION_LAUGHS, QUADRATIC

NOW = datetime.now(UTC)
GOOD = {
    "title": "Russia reinforces Tartus naval base",
    "link": "https://news.example/1",
    "guid": "g1",
    "published": NOW - timedelta(minutes=5),
}
HTML = (
    b"<!doctype html><html><head><title>World news</title>"
    b'<link rel="alternate" type="application/rss+xml" title="World" href="/world.rss"></head>'
    b"<body>Not a feed</body></html>"
)

EXPECTED = {
    "bomb": "the feed is larger than the 2 MB cap",
    "deflate-bomb": "the feed is larger than the 2 MB cap",
    "drip": "timed out after 1.5 s",
    "stall": "timed out after 1.5 s",
    "laughs": "refused: the document declares XML entities (entity-expansion guard)",
    "quadratic": "refused: the document declares XML entities (entity-expansion guard)",
    "html": "the URL returned an HTML page, not a feed; the page advertises: {base}/world.rss (RSS: World)",
    "loop": "redirect loop at {base}/loop-a",
    "far": "more than 5 redirects",
    "gone": "HTTP 404 Not Found",
    "broken": "HTTP 500 Internal Server Error",
    "empty": "the response was empty",
    "binary": "not a feed: the document is not RSS, Atom or JSON Feed (no XML element at the start)",
    "json": "not a JSON Feed: JSON without a jsonfeed.org version or an items list",
    "gzip-garbage": "the response says Content-Encoding: gzip but could not be decompressed",
    "short": "the connection closed before the whole body arrived (28 of 100000 bytes)",
    "elements": "refused: the document has 200005 elements, more than the 100000 any feed needs",
    "huge-broken": "not well-formed XML",
}


def serve_hostile(host: FeedHost) -> dict[str, str]:
    host.handle("/bomb.xml", hostile.bomb())
    host.handle("/deflate-bomb.xml", hostile.bomb(encoding="deflate"))
    host.handle("/drip.xml", hostile.drip(every=0.1))
    host.handle("/stall.xml", hostile.stall())
    host.set("/laughs.xml", BILLION_LAUGHS)
    host.set("/quadratic.xml", QUADRATIC.encode("utf-16"), content_type="application/xml")
    host.set("/html", HTML, content_type="text/html; charset=utf-8")
    host.set("/loop-a", "", status=302, headers={"Location": "/loop-b"})
    host.set("/loop-b", "", status=302, headers={"Location": "/loop-a"})
    for i in range(8):
        host.set(f"/far{i}", "", status=301, headers={"Location": f"/far{i + 1}"})
    host.set("/gone.xml", "gone", status=404)
    host.set("/broken.xml", "oops", status=500)
    host.set("/empty.xml", "")
    host.set("/binary.bin", gzip.compress(bytes(range(256)) * 100), content_type="application/octet-stream")
    host.set("/api.json", '{"status": "ok", "data": []}', content_type="application/json")
    host.handle("/gzip-garbage.xml", hostile.garbage_encoding("gzip"))
    host.handle("/short.xml", hostile.lying_length(declared=100_000))
    host.set("/elements.xml", rss([]).replace("</channel>", "<x/>" * 200_000 + "</channel>"))
    broken = rss([{"title": f"item {i}", "description": "y" * 100} for i in range(12_000)])
    host.set("/huge-broken.xml", broken.replace("</channel>", "<b></channel>"))
    paths = {
        "bomb": "/bomb.xml",
        "deflate-bomb": "/deflate-bomb.xml",
        "drip": "/drip.xml",
        "stall": "/stall.xml",
        "laughs": "/laughs.xml",
        "quadratic": "/quadratic.xml",
        "html": "/html",
        "loop": "/loop-a",
        "far": "/far0",
        "gone": "/gone.xml",
        "broken": "/broken.xml",
        "empty": "/empty.xml",
        "binary": "/binary.bin",
        "json": "/api.json",
        "gzip-garbage": "/gzip-garbage.xml",
        "short": "/short.xml",
        "elements": "/elements.xml",
        "huge-broken": "/huge-broken.xml",
    }
    return {name: host.url(path) for name, path in paths.items()}


def rules(settings: Settings, feeds: dict[str, str], interval: str = "5m") -> None:
    lines = ["version: 1", "defaults:", f'  channel: "{CHANNEL}"', f"  interval: {interval}", "feeds:"]
    for name, url in feeds.items():
        lines += [f"  - name: {name}", f"    url: {url}"]
    lines += ["rules:", "  - name: bases", "    keywords: [Tartus]"]
    write_rules(settings.keywords, "\n".join(lines) + "\n")


@pytest.fixture
def hostile_settings(tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return make_settings(tmp_path, NEWSHOUND_FETCH_TIMEOUT="1.5", NEWSHOUND_MAX_BODY_MB="2")


async def test_hostile_feeds_fail_in_words_and_the_good_one_still_alerts(
    feed_host: FeedHost, hostile_settings: Settings, make_app: Callable[..., App]
) -> None:
    good = FeedHost()  # on its own port: a separate host for the per-host limit
    await good.start()
    try:
        good.set("/good.xml", rss([GOOD]))
        feeds = serve_hostile(feed_host)
        rules(hostile_settings, {**feeds, "good": good.url("/good.xml")})
        app = make_app(settings=hostile_settings)
        try:
            await app.start()
            summary = await app.once()
            states = {f.name: f for f in await app.store.run(lambda s: s.feeds())}
        finally:
            await app.close()
    finally:
        await good.stop()

    sink: Captured = app.sink  # type: ignore[assignment]
    assert "Russia reinforces Tartus naval base" in sink.text
    assert summary.delivery.sent == 1
    assert states["good"].status == "ok"
    base = f"http://127.0.0.1:{feed_host.port}"
    for name, expected in EXPECTED.items():
        state = states[name]
        assert state.status == "degraded", (name, state.status)
        assert (state.last_error or "").startswith(expected.format(base=base)), (name, state.last_error)
    errors = {p.feed: p.error for p in summary.polls if p.status == "error"}
    assert set(errors) == set(EXPECTED)


async def test_no_request_reaches_a_private_address_unless_allowed(
    feed_host: FeedHost, tmp_path, make_app: Callable[..., App]
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, NEWSHOUND_ALLOW_PRIVATE_FEEDS="0")
    feed_host.set("/f.xml", rss([GOOD]))
    rules(
        settings,
        {
            "loopback": feed_host.url("/f.xml"),
            "decimal": f"http://2130706433:{feed_host.port}/f.xml",
            "localhost": f"http://localhost:{feed_host.port}/f.xml",
            "mapped": f"http://[::ffff:127.0.0.1]:{feed_host.port}/f.xml",
            "metadata": "http://169.254.169.254/latest/meta-data/",
        },
    )
    app = make_app(settings=settings)
    try:
        await app.start()
        await app.once()
        states = {f.name: f for f in await app.store.run(lambda s: s.feeds())}
    finally:
        await app.close()
    assert feed_host.requests == []
    assert states["metadata"].last_error == (
        "refused: 169.254.169.254 is a link-local address "
        "(list its network in NEWSHOUND_ALLOW_PRIVATE_FEEDS to allow it)"
    )
    for name in ("loopback", "decimal", "localhost", "mapped"):
        assert "loopback" in (states[name].last_error or ""), states[name].last_error
        assert "set NEWSHOUND_ALLOW_PRIVATE_FEEDS=1, or to the networks to allow" in (
            states[name].last_error or ""
        )


async def test_a_running_bot_keeps_alerting_while_hostile_feeds_hang_and_explode(
    feed_host: FeedHost, hostile_settings: Settings, make_app: Callable[..., App]
) -> None:
    good = FeedHost()
    await good.start()
    body = [rss([])]
    polled = asyncio.Event()

    async def good_feed(request: web.Request) -> web.StreamResponse:
        polled.set()
        return web.Response(body=body[0].encode(), content_type="application/rss+xml")

    good.handle("/good.xml", good_feed)
    feeds = serve_hostile(feed_host)
    # `run` spreads first polls over 30 s by a hash of the feed's name: pick a name polled within a second.
    name = next(n for n in (f"good{i}" for i in range(1000)) if key_hash(n) % 10_000 < 300)
    rules(hostile_settings, {**feeds, name: good.url("/good.xml")}, interval="1s")
    arrived = asyncio.Event()

    class Watching(Captured):
        async def send(self, item):  # type: ignore[no-untyped-def]
            result = await super().send(item)
            arrived.set()
            return result

    app = make_app(settings=hostile_settings, sink=Watching())
    stop = asyncio.Event()
    try:
        await app.start()
        running = asyncio.create_task(app.run(stop))
        await asyncio.wait_for(polled.wait(), timeout=30)  # first poll: the empty feed
        body[0] = rss([GOOD])  # then a matching story appears
        await asyncio.wait_for(arrived.wait(), timeout=30)
        assert not running.done()
        stop.set()
        await asyncio.wait_for(running, timeout=15)
    finally:
        stop.set()
        await app.close()
        await good.stop()
    assert "Russia reinforces Tartus naval base" in app.sink.text  # type: ignore[attr-defined]
