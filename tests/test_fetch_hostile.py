"""The fetch stage against hostile servers on 127.0.0.1: every one ends in an error in words, within the
deadline and the memory cap, and never takes the fetcher down."""

from __future__ import annotations

import asyncio
import socket
import tracemalloc

import pytest
from aiohttp import web

from bot.addresses import Reach
from bot.fetch import Fetcher, host_key
from bot.fetch.guard import BlockedAddress, check_url, guarded_socket, parse_ip
from bot.model import FetchResult
from tests.fakes import hostile
from tests.fakes.feed_host import FeedHost, rss

CAP = 10 * 1024 * 1024


async def fetch_measured(fetcher: Fetcher, url: str) -> tuple[FetchResult, int]:
    """The fetch result and the peak of Python memory allocated while fetching."""
    tracemalloc.start()
    try:
        result = await fetcher.fetch(url)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.mark.parametrize(
    "handler",
    [
        pytest.param(hostile.bomb(), id="gzip-1GB-of-zeros"),
        pytest.param(hostile.bomb(encoding="deflate"), id="zlib-deflate-1GB"),
        pytest.param(hostile.bomb(encoding="deflate", raw_deflate=True), id="raw-deflate-1GB"),
        pytest.param(hostile.multi_member_bomb(), id="2000-gzip-members-of-1MB"),
        pytest.param(hostile.endless(), id="endless-uncompressed"),
    ],
)
async def test_bombs_stop_at_the_cap_without_inflating_the_rest(
    feed_host: FeedHost, handler: hostile.Handler
) -> None:
    feed_host.handle("/bomb.xml", handler)
    async with Fetcher(reach=Reach(private=True), max_bytes=CAP) as f:
        result, peak = await fetch_measured(f, feed_host.url("/bomb.xml"))
    assert result.status == "error"
    assert result.error == "the feed is larger than the 10 MB cap"
    assert peak < CAP + 4 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB for a 10 MB cap"


async def test_nested_gzip_is_inflated_once_only(feed_host: FeedHost) -> None:
    feed_host.handle("/nested.xml", hostile.nested_bomb())
    feed_host.handle("/double.xml", hostile.nested_bomb(header="gzip, gzip"))
    async with Fetcher(reach=Reach(private=True), max_bytes=CAP) as f:
        nested, peak = await fetch_measured(f, feed_host.url("/nested.xml"))
        double = await f.fetch(feed_host.url("/double.xml"))
    # The outer layer is undone; the inner 1 GB bomb stays ~1 MB of compressed bytes nobody inflates.
    assert nested.status == "ok" and nested.body[:2] == b"\x1f\x8b" and len(nested.body) < 2 * 1024 * 1024
    assert peak < 8 * 1024 * 1024
    assert double.status == "ok" and len(double.body) < 2 * 1024 * 1024


async def test_slow_drip_and_stalled_servers_hit_the_total_deadline(feed_host: FeedHost) -> None:
    feed_host.handle("/drip.xml", hostile.drip(every=0.05))
    feed_host.handle("/stall.xml", hostile.stall())
    async with Fetcher(reach=Reach(private=True), timeout=0.6) as f:
        drip, stall = await asyncio.gather(
            f.fetch(feed_host.url("/drip.xml")), f.fetch(feed_host.url("/stall.xml"))
        )
    assert drip.status == "error" and drip.error == "timed out after 0.6 s"
    assert stall.status == "error" and stall.error == "timed out after 0.6 s"


async def test_broken_bodies_are_named(feed_host: FeedHost) -> None:
    feed_host.handle("/short.xml", hostile.lying_length(declared=100_000))
    feed_host.handle("/gzip.xml", hostile.garbage_encoding("gzip"))
    feed_host.handle("/deflate.xml", hostile.garbage_encoding("deflate"))
    feed_host.handle("/br.xml", hostile.garbage_encoding("br"))
    feed_host.set("/nolocation", "", status=302)
    feed_host.set("/teapot", "no", status=418)
    async with Fetcher(reach=Reach(private=True)) as f:
        short, gz, deflate, br, noloc, teapot = [
            await f.fetch(feed_host.url(p))
            for p in ("/short.xml", "/gzip.xml", "/deflate.xml", "/br.xml", "/nolocation", "/teapot")
        ]
    assert short.error == "the connection closed before the whole body arrived (28 of 100000 bytes)"
    assert gz.error == "the response says Content-Encoding: gzip but could not be decompressed"
    assert deflate.error == "the response says Content-Encoding: deflate but could not be decompressed"
    assert br.status == "error" and "could not be decompressed" in (br.error or "")
    assert noloc.error == "HTTP 302 redirect without a Location"
    assert teapot.error == "HTTP 418 I'm a Teapot" and teapot.http_status == 418


async def test_redirect_hops_are_checked_one_by_one(feed_host: FeedHost) -> None:
    feed_host.set("/to-file", "", status=302, headers={"Location": "file:///etc/passwd"})
    feed_host.set("/to-gopher", "", status=301, headers={"Location": "gopher://example.org/"})
    async with Fetcher(reach=Reach(private=True)) as f:
        to_file = await f.fetch(feed_host.url("/to-file"))
        to_gopher = await f.fetch(feed_host.url("/to-gopher"))
    assert to_file.error == "refused: only http and https URLs are fetched, not file:"
    assert to_gopher.error == "refused: only http and https URLs are fetched, not gopher:"


async def test_at_most_two_requests_at_a_time_per_host_across_feeds_and_redirects() -> None:
    front, back = FeedHost(), FeedHost()
    await front.start()
    await back.start()
    try:
        for i in range(6):
            back.set(f"/feed{i}.xml", rss([]), delay=0.1)
            front.set(f"/old{i}.xml", "", status=301, headers={"Location": back.url(f"/feed{i}.xml")})
            front.set(f"/direct{i}.xml", rss([]), delay=0.1)
        urls = [front.url(f"/old{i}.xml") for i in range(6)] + [
            front.url(f"/direct{i}.xml") for i in range(6)
        ]
        async with Fetcher(reach=Reach(private=True), per_host=2) as f:
            results = await asyncio.gather(*(f.fetch(u) for u in urls))
            busiest = dict(f.hosts.busiest)
    finally:
        await front.stop()
        await back.stop()
    assert all(r.status == "ok" for r in results), [r.error for r in results]
    assert front.busiest == 2 and back.busiest == 2
    assert busiest == {host_key(front.url("/")): 2, host_key(back.url("/")): 2}


def test_host_key_is_host_and_port() -> None:
    assert host_key("https://Example.org/feed") == "example.org:443"
    assert host_key("http://example.org/feed") == "example.org:80"
    assert host_key("http://example.org:8080/a") == "example.org:8080"


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "127.1",
        "0x7f.1",
        "017700000001",
        "127.0.0.1.",
        "[::ffff:7f00:1]",
    ],
)
async def test_every_spelling_of_loopback_is_refused_before_any_request(
    feed_host: FeedHost, host: str
) -> None:
    feed_host.set("/f.xml", rss([]))
    url = f"http://{host}:{feed_host.port}/f.xml"
    async with Fetcher(reach=Reach()) as f:
        result = await f.fetch(url)
    assert result.status == "error" and "127.0.0.1 is a loopback address" in (result.error or ""), (
        result.error
    )
    assert feed_host.requests == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("10.1", "10.0.0.1"),
        ("[fe80::1%eth0]", "fe80::1"),
        ("example.org", None),
        ("1e2", None),
        ("deadbeef", None),
    ],
)
def test_parse_ip_reads_what_the_c_library_reads(text: str, expected: str | None) -> None:
    parsed = parse_ip(text)
    assert (str(parsed) if parsed else None) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://0xa9fea9fe/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of the metadata address
        "http://[2002:a9fe:a9fe::1]/",  # 6to4 of it
        "http://[::a9fe:a9fe]/",  # IPv4-compatible
        "http://[::ffff:0:a9fe:a9fe]/",  # IPv4-translated
        "http://[fd00::1]/",
        "http://[ff02::1]/",
        "http://[::]/",
        "http://0.0.0.0/",
        "http://[64:ff9b:1::a]/",
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo
        "http://localhost./",
        "http://app.localhost/",
    ],
)
def test_non_public_urls_are_refused(url: str) -> None:
    with pytest.raises(BlockedAddress, match="refused"):
        check_url(url, reach=Reach())


@pytest.mark.parametrize(
    "url", ["http://[64:ff9b::808:808]/", "http://[2002:808:808::1]/", "https://8.8.8.8/"]
)
def test_ipv6_forms_of_public_ipv4_pass(url: str) -> None:
    check_url(url, reach=Reach())


def test_the_socket_factory_refuses_the_address_it_is_about_to_connect_to() -> None:
    for sockaddr in (("127.0.0.1", 80), ("169.254.169.254", 80), ("2130706433", 80), ("::1", 80, 0, 0)):
        family = socket.AF_INET6 if ":" in str(sockaddr[0]) else socket.AF_INET
        with pytest.raises(BlockedAddress, match="refused to connect"):
            guarded_socket(Reach())((family, socket.SOCK_STREAM, 6, "", sockaddr))
    sock = guarded_socket(Reach())((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443)))
    sock.close()


async def test_waiting_behind_a_slow_host_does_not_eat_the_deadline(feed_host: FeedHost) -> None:
    feed_host.handle("/stall1.xml", hostile.stall())
    feed_host.handle("/stall2.xml", hostile.stall())
    for i in range(3):
        feed_host.set(f"/fast{i}.xml", rss([]))
    urls = [
        feed_host.url(p) for p in ("/stall1.xml", "/stall2.xml", "/fast0.xml", "/fast1.xml", "/fast2.xml")
    ]
    async with Fetcher(reach=Reach(private=True), timeout=0.5) as f:
        stall1, stall2, *fast = await asyncio.gather(*(f.fetch(u) for u in urls))
    assert stall1.error == stall2.error == "timed out after 0.5 s"
    assert [r.status for r in fast] == ["ok", "ok", "ok"]  # they waited for a slot, then had their own 0.5 s


async def test_the_wait_for_a_busy_host_is_bounded_too(feed_host: FeedHost) -> None:
    started = asyncio.Event()

    async def stall(request: web.Request) -> web.StreamResponse:
        started.set()
        await asyncio.sleep(3600)
        return web.Response(text="too late")

    feed_host.handle("/stall.xml", stall)
    feed_host.set("/fast.xml", rss([]))
    async with Fetcher(reach=Reach(private=True), timeout=5, per_host=1, queue_timeout=0.2) as f:
        stalled = asyncio.ensure_future(f.fetch(feed_host.url("/stall.xml")))
        await started.wait()
        queued = await f.fetch(feed_host.url("/fast.xml"))
        stalled.cancel()
    key = host_key(feed_host.url("/"))
    assert queued.error == f"gave up after waiting 0.2 s for other requests to {key} to finish"
