"""The fetch stage against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.fetch import Fetcher, retry_after_seconds
from bot.fetch.guard import BlockedAddress, GuardedResolver, address_problem, check_url
from tests.fakes.feed_host import FeedHost


async def test_conditional_get_returns_not_modified(feed_host: FeedHost) -> None:
    feed_host.set("/f.xml", "<rss/>")
    async with Fetcher(allow_private=True) as f:
        first = await f.fetch(feed_host.url("/f.xml"))
        assert first.status == "ok" and first.body == b"<rss/>" and first.etag
        again = await f.fetch(feed_host.url("/f.xml"), etag=first.etag)
    assert again.status == "not_modified" and again.http_status == 304
    assert feed_host.requests[-1].headers["If-None-Match"] == first.etag
    assert "Newshound/" in feed_host.requests[-1].headers["User-Agent"]


async def test_gzip_body_is_decompressed(feed_host: FeedHost) -> None:
    feed_host.set("/g.xml", "<rss>" + "x" * 5000 + "</rss>", gzip=True)
    async with Fetcher(allow_private=True) as f:
        r = await f.fetch(feed_host.url("/g.xml"))
    assert r.status == "ok" and r.body.startswith(b"<rss>") and len(r.body) == 5011


async def test_body_over_cap_is_refused_in_words(feed_host: FeedHost) -> None:
    feed_host.set("/big.xml", b"<rss>" + b"a" * 300_000)
    feed_host.set("/bomb.xml", b"<rss>" + b"a" * 300_000, gzip=True)  # 300 KB that compresses to ~300 bytes
    async with Fetcher(allow_private=True, max_bytes=100_000) as f:
        big = await f.fetch(feed_host.url("/big.xml"))
        bomb = await f.fetch(feed_host.url("/bomb.xml"))
    assert big.status == "error" and big.error == "the feed is larger than the 0.0953674 MB cap"
    assert bomb.status == "error" and "larger than" in (bomb.error or "")


async def test_http_errors_and_retry_after(feed_host: FeedHost) -> None:
    feed_host.set("/busy.xml", "slow down", status=429, headers={"Retry-After": "120"})
    async with Fetcher(allow_private=True) as f:
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
    async with Fetcher(allow_private=True) as f:
        moved = await f.fetch(feed_host.url("/old.xml"))
        loop = await f.fetch(feed_host.url("/a"))
        far = await f.fetch(feed_host.url("/hop0"))
    assert moved.status == "ok" and moved.final_url.endswith("/new.xml")
    assert loop.status == "error" and "redirect loop" in (loop.error or "")
    assert far.status == "error" and far.error == "more than 5 redirects"


async def test_total_deadline(feed_host: FeedHost) -> None:
    feed_host.set("/slow.xml", "<rss/>", delay=3)
    async with Fetcher(allow_private=True, timeout=0.5) as f:
        r = await f.fetch(feed_host.url("/slow.xml"))
    assert r.status == "error" and r.error == "timed out after 0.5 s"


async def test_private_addresses_refused_unless_allowed(feed_host: FeedHost) -> None:
    feed_host.set("/f.xml", "<rss/>")
    async with Fetcher(allow_private=False) as f:
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
        check_url("http://169.254.169.254/latest/meta-data/", allow_private=False)
    with pytest.raises(BlockedAddress, match="loopback"):
        check_url("http://[::ffff:7f00:1]/feed", allow_private=False)
    check_url("http://127.0.0.1/feed", allow_private=True)


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
    guard = GuardedResolver(allow_private=False, inner=_DNS("10.0.0.5", "93.184.215.14"))
    answers = await guard.resolve("feeds.example", 443)
    assert [a["host"] for a in answers] == ["93.184.215.14"]
    only_private = GuardedResolver(allow_private=False, inner=_DNS("169.254.169.254"))
    with pytest.raises(BlockedAddress, match=r"feeds\.example resolves to 169\.254\.169\.254 is a link"):
        await only_private.resolve("feeds.example", 80)


def test_retry_after_forms() -> None:
    assert retry_after_seconds("30") == 30.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past
