"""The fetch stage against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.addresses import Reach, parse_reach
from bot.config import SettingsError, load_settings
from bot.fetch import Fetcher, retry_after_seconds
from bot.fetch.guard import BlockedAddress, GuardedResolver, address_problem, check_url, guarded_socket
from tests.fakes.feed_host import FeedHost


async def test_conditional_get_returns_not_modified(feed_host: FeedHost) -> None:
    feed_host.set("/f.xml", "<rss/>")
    async with Fetcher(reach=Reach(private=True)) as f:
        first = await f.fetch(feed_host.url("/f.xml"))
        assert first.status == "ok" and first.body == b"<rss/>" and first.etag
        again = await f.fetch(feed_host.url("/f.xml"), etag=first.etag)
    assert again.status == "not_modified" and again.http_status == 304
    assert feed_host.requests[-1].headers["If-None-Match"] == first.etag
    assert "Newshound/" in feed_host.requests[-1].headers["User-Agent"]


async def test_gzip_body_is_decompressed(feed_host: FeedHost) -> None:
    feed_host.set("/g.xml", "<rss>" + "x" * 5000 + "</rss>", gzip=True)
    async with Fetcher(reach=Reach(private=True)) as f:
        r = await f.fetch(feed_host.url("/g.xml"))
    assert r.status == "ok" and r.body.startswith(b"<rss>") and len(r.body) == 5011


async def test_body_over_cap_is_refused_in_words(feed_host: FeedHost) -> None:
    feed_host.set("/big.xml", b"<rss>" + b"a" * 300_000)
    feed_host.set("/bomb.xml", b"<rss>" + b"a" * 300_000, gzip=True)  # 300 KB that compresses to ~300 bytes
    async with Fetcher(reach=Reach(private=True), max_bytes=100_000) as f:
        big = await f.fetch(feed_host.url("/big.xml"))
        bomb = await f.fetch(feed_host.url("/bomb.xml"))
    assert big.status == "error" and big.error == "the feed is larger than the 0.0953674 MB cap"
    assert bomb.status == "error" and "larger than" in (bomb.error or "")


async def test_http_errors_and_retry_after(feed_host: FeedHost) -> None:
    feed_host.set("/busy.xml", "slow down", status=429, headers={"Retry-After": "120"})
    async with Fetcher(reach=Reach(private=True)) as f:
        r = await f.fetch(feed_host.url("/busy.xml"))
    assert r.status == "error" and r.http_status == 429 and r.retry_after == 120.0
    assert r.error == "HTTP 429 Too Many Requests"


async def test_redirects_are_followed_and_loops_stopped(feed_host: FeedHost) -> None:
    feed_host.set("/old.xml", "", status=301, headers={"Location": "/new.xml"})
    feed_host.set("/new.xml", "<rss/>")
    feed_host.set("/a", "", status=302, headers={"Location": "/b"})
    feed_host.set("/b", "", status=302, headers={"Location": "/a"})
    for i in range(7):
        feed_host.set(f"/hop{i}", "", status=302, headers={"Location": f"/hop{i + 1}"})
    async with Fetcher(reach=Reach(private=True)) as f:
        moved = await f.fetch(feed_host.url("/old.xml"))
        loop = await f.fetch(feed_host.url("/a"))
        far = await f.fetch(feed_host.url("/hop0"))
    assert moved.status == "ok" and moved.final_url.endswith("/new.xml")
    assert loop.status == "error" and "redirect loop" in (loop.error or "")
    assert far.status == "error" and far.error == "more than 5 redirects"


async def test_total_deadline(feed_host: FeedHost) -> None:
    feed_host.set("/slow.xml", "<rss/>", delay=3)
    async with Fetcher(reach=Reach(private=True), timeout=0.5) as f:
        r = await f.fetch(feed_host.url("/slow.xml"))
    assert r.status == "error" and r.error == "timed out after 0.5 s"


async def test_private_addresses_refused_unless_allowed(feed_host: FeedHost) -> None:
    feed_host.set("/f.xml", "<rss/>")
    async with Fetcher(reach=Reach()) as f:
        r = await f.fetch(feed_host.url("/f.xml"))
        local = await f.fetch(f"http://localhost:{feed_host.port}/f.xml")
        scheme = await f.fetch("file:///etc/passwd")
    assert r.status == "error" and "127.0.0.1 is a loopback address" in (r.error or "")
    assert "NEWSHOUND_ALLOW_PRIVATE_FEEDS=1" in (r.error or "")
    assert local.status == "error" and "loopback" in (local.error or "")
    assert scheme.status == "error" and "only http and https" in (scheme.error or "")
    assert feed_host.requests == []  # nothing reached the server


@pytest.mark.parametrize(
    ("ip", "words"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not a public address"),
    ],
)
def test_non_public_addresses_are_named(ip: str, words: str) -> None:
    problem = address_problem(ip)
    assert problem is not None and words in problem


@pytest.mark.parametrize("ip", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "1.1.1.1"])
def test_public_addresses_pass(ip: str) -> None:
    assert address_problem(ip) is None


def test_ip_literal_urls_checked_before_any_request() -> None:
    with pytest.raises(BlockedAddress, match="link-local"):
        check_url("http://169.254.169.254/latest/meta-data/", reach=Reach())
    with pytest.raises(BlockedAddress, match="loopback"):
        check_url("http://[::ffff:7f00:1]/feed", reach=Reach())
    check_url("http://127.0.0.1/feed", reach=Reach(private=True))


class _DNS(AbstractResolver):
    """Stands in for DNS (the network edge): answers every name with fixed addresses."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {"hostname": host, "host": a, "port": port, "family": family, "proto": 0, "flags": 0}
            for a in self.addresses
        ]

    async def close(self) -> None:
        return None


async def test_resolver_drops_private_answers_so_rebinding_cannot_connect() -> None:
    guard = GuardedResolver(reach=Reach(), inner=_DNS("10.0.0.5", "93.184.215.14"))
    answers = await guard.resolve("feeds.example", 443)
    assert [a["host"] for a in answers] == ["93.184.215.14"]
    only_private = GuardedResolver(reach=Reach(), inner=_DNS("169.254.169.254"))
    with pytest.raises(BlockedAddress, match=r"feeds\.example resolves to 169\.254\.169\.254 is a link"):
        await only_private.resolve("feeds.example", 80)


# -- NEWSHOUND_ALLOW_PRIVATE_FEEDS: what "1" opens, and exactly the networks listed ------------------------


def test_the_setting_reads_on_off_and_networks() -> None:
    assert load_settings(NEWSHOUND_ALLOW_PRIVATE_FEEDS="yes").feed_reach == Reach(private=True)
    assert load_settings(NEWSHOUND_ALLOW_PRIVATE_FEEDS="0").feed_reach.public_only
    assert load_settings(NEWSHOUND_ALLOW_PRIVATE_FEEDS="").feed_reach.public_only
    listed = load_settings(NEWSHOUND_ALLOW_PRIVATE_FEEDS=" 127.0.0.1, 10.20.0.0/16 [fd00::1]")
    assert listed.allow_private_feeds == "127.0.0.1/32,10.20.0.0/16,fd00::1/128"
    assert listed.feed_reach == parse_reach("127.0.0.1/32,10.20.0.0/16,fd00::1/128")
    with pytest.raises(SettingsError) as bad:
        load_settings(NEWSHOUND_ALLOW_PRIVATE_FEEDS="10.0.0.0/8,intranet")
    assert str(bad.value) == (
        "invalid setting NEWSHOUND_ALLOW_PRIVATE_FEEDS='10.0.0.0/8,intranet': 'intranet' is not an IP "
        "address or network; use 1 (loopback and private addresses), 0, or addresses and networks such as "
        "127.0.0.1,10.20.0.0/16"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/f.xml",
        "http://10.1.2.3/f.xml",
        "http://192.168.0.10/f.xml",
        "http://[::1]/f.xml",
        "http://[fd12::1]/f.xml",
        "http://100.100.1.1/f.xml",  # carrier-grade NAT, as VPNs such as Tailscale use
        "http://2130706433/f.xml",
        "http://localhost/f.xml",
    ],
)
def test_private_feeds_allowed_open_loopback_and_private_addresses(url: str) -> None:
    check_url(url, reach=parse_reach("1"))


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://[fe80::1]/", "fe80::1 is a link-local address"),
        ("http://[::ffff:169.254.169.254]/", "embeds 169.254.169.254 is a link-local address"),
        ("http://0.0.0.0:8080/", "0.0.0.0 is an unspecified address"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "Teredo"),
    ],
)
def test_private_feeds_allowed_still_refuse_cloud_metadata_and_the_like(url: str, words: str) -> None:
    with pytest.raises(BlockedAddress) as refused:
        check_url(url, reach=parse_reach("1"))
    assert words in str(refused.value)
    assert "list its network in NEWSHOUND_ALLOW_PRIVATE_FEEDS to allow it" in str(refused.value)


def test_listed_networks_are_exactly_what_is_reachable_besides_public_addresses() -> None:
    reach = parse_reach("127.0.0.1, 10.20.0.0/16, 169.254.10.0/24")
    for ok in ("127.0.0.1", "10.20.3.4", "169.254.10.5", "::ffff:127.0.0.1", "93.184.215.14"):
        assert reach.allows(ok), ok
    for refused in ("127.0.0.2", "10.21.0.1", "::1", "192.168.1.1", "169.254.169.254"):
        assert not reach.allows(refused), refused
    check_url("http://localhost/f.xml", reach=reach)  # 127.0.0.1 is listed
    with pytest.raises(BlockedAddress, match="is loopback"):
        check_url("http://localhost/f.xml", reach=parse_reach("10.0.0.0/8"))
    factory = guarded_socket(reach)
    factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.20.0.9", 80))).close()
    with pytest.raises(BlockedAddress, match=r"refused to connect: 10\.21\.0\.9 is a private address"):
        factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.21.0.9", 80)))


async def test_the_resolver_keeps_only_what_the_reach_allows() -> None:
    guard = GuardedResolver(reach=parse_reach("1"), inner=_DNS("169.254.169.254", "10.0.0.5"))
    assert [a["host"] for a in await guard.resolve("intranet.example", 80)] == ["10.0.0.5"]
    metadata = GuardedResolver(reach=parse_reach("1"), inner=_DNS("169.254.169.254"))
    with pytest.raises(BlockedAddress, match=r"resolves to 169\.254\.169\.254 is a link-local address"):
        await metadata.resolve("metadata.example", 80)


async def test_a_redirect_from_an_allowed_intranet_feed_to_cloud_metadata_is_refused(
    feed_host: FeedHost,
) -> None:
    feed_host.set("/ok.xml", "<rss/>")
    for target, words in (
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://[::ffff:a9fe:a9fe]/", "::ffff:a9fe:a9fe embeds 169.254.169.254 is a link-local address"),
        ("http://0.0.0.0/", "0.0.0.0 is an unspecified address"),
    ):
        feed_host.set("/r.xml", status=302, headers={"Location": target}, etag=False)
        async with Fetcher(reach=parse_reach("1")) as f:
            result = await f.fetch(feed_host.url("/r.xml"))
        assert result.status == "error" and (result.error or "").startswith(f"refused: {words}"), result.error
    # only the loopback address listed: the feed is fetched, a hop to another private address is not
    feed_host.set("/r.xml", status=302, headers={"Location": "http://10.0.0.1/f.xml"}, etag=False)
    async with Fetcher(reach=parse_reach("127.0.0.1")) as f:
        assert (await f.fetch(feed_host.url("/ok.xml"))).status == "ok"
        hop = await f.fetch(feed_host.url("/r.xml"))
    assert hop.status == "error" and "10.0.0.1 is a private address" in (hop.error or ""), hop.error


async def test_a_name_is_reachable_only_through_an_allowed_address(feed_host: FeedHost) -> None:
    feed_host.set("/f.xml", "<rss/>")
    url = f"http://feeds.intranet.example:{feed_host.port}/f.xml"
    async with Fetcher(reach=parse_reach("127.0.0.1"), resolver=_DNS("127.0.0.1")) as f:
        assert (await f.fetch(url)).status == "ok"
    before = len(feed_host.requests)
    async with Fetcher(reach=parse_reach("127.0.0.1"), resolver=_DNS("127.0.0.2")) as f:
        refused = await f.fetch(url)
    assert refused.status == "error" and "127.0.0.2 is a loopback address" in (refused.error or "")
    assert len(feed_host.requests) == before


def test_retry_after_forms() -> None:
    assert retry_after_seconds("30") == 30.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past
