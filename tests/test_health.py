"""Feed health over days, polling cadence and shared fetches, end to end: a real feed server on 127.0.0.1,
the real App and SQLite; only the clock is a stand-in (so a week of failures takes no time)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from bot.app import App
from bot.config import Settings
from bot.deliver import OutboxAlert
from bot.deliver.console import ConsoleSink
from tests.conftest import CHANNEL, Captured, make_settings, write_rules
from tests.fakes.feed_host import FeedHost, rss

HOUR = 3600.0
DAY = 86400.0
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    """The time the bot believes it is."""

    def __init__(self, start: datetime = T0) -> None:
        self.t = start.timestamp()

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

    def dt(self, hours_ago: float = 0.0) -> datetime:
        return datetime.fromtimestamp(self.t, UTC) - timedelta(hours=hours_ago)


def setup_rules(settings: Settings, feeds: list[tuple[str, str, str | None]]) -> None:
    lines = ["version: 1", "defaults:", f'  channel: "{CHANNEL}"', "  interval: auto", "feeds:"]
    for name, url, interval in feeds:
        lines += [f"  - name: {name}", f"    url: {url}"]
        if interval:
            lines.append(f"    interval: {interval}")
    lines += ["rules:", "  - name: bases", "    keywords: [Tartus]"]
    write_rules(settings.keywords, "\n".join(lines) + "\n")


def items(clock: Clock, count: int, every_hours: float, start: int = 0) -> list[dict[str, object]]:
    return [
        {
            "title": f"Story {i}",
            "link": f"https://news.example/{i}",
            "guid": f"s{i}",
            "published": clock.dt(hours_ago=(i - start) * every_hours),
        }
        for i in range(start, start + count)
    ]


async def health(app: App, name: str):  # type: ignore[no-untyped-def]
    return await app.store.run(lambda s: s.feed(name))


async def test_a_failing_feed_degrades_notifies_once_pauses_after_a_week_and_resumes(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    clock = Clock()
    feed_host.set("/bad.xml", "down for maintenance", status=500)
    feed_host.set("/good.xml", rss([]))
    setup_rules(
        settings, [("bad", feed_host.url("/bad.xml"), "5m"), ("good", feed_host.url("/good.xml"), "5m")]
    )
    app = make_app(clock=clock)
    sink: Captured = app.sink  # type: ignore[assignment]
    try:
        await app.start()
        await app.once()
        state = await health(app, "bad")
        assert state.status == "degraded" and state.last_error == "HTTP 500 Internal Server Error"
        for _ in range(2):
            clock.advance(2 * HOUR)
            await app.once()
        assert (await health(app, "bad")).status == "failing"
        assert sink.admin == []

        clock.advance(DAY - 4 * HOUR + 60)  # a day after the first failure
        await app.once()
        assert len(sink.admin) == 1
        assert sink.admin[0].startswith(
            "Feed bad has been failing for 1 day (since 2026-03-02 09:00 UTC): HTTP 500"
        )
        for _ in range(3):
            clock.advance(6 * HOUR)
            await app.once()
        assert len(sink.admin) == 1  # said once

        clock.advance(7 * DAY)
        summary = await app.once()
        state = await health(app, "bad")
        assert state.status == "paused" and state.paused_at == clock.t
        assert len(sink.admin) == 2 and sink.admin[1].startswith(
            "Feed bad is paused: it has failed for 9 days"
        )
        assert "newshound feeds resume bad" in sink.admin[1]
        assert summary.notices == 1 and "; 1 admin notice(s)" in summary.lines()[0]

        hits = feed_host.hits("/bad.xml")
        clock.advance(HOUR)
        summary = await app.once()
        assert feed_host.hits("/bad.xml") == hits  # a paused feed is not fetched
        assert "1 paused (not polled)" in summary.lines()[0]
        assert await app.store.run(lambda s: s.feeds_due(clock.t + 30 * DAY)) == ["good"]

        feed_host.set("/bad.xml", rss([]))
        resumed = await app.store.run(lambda s: s.resume_feed("bad", clock.t))
        assert (
            resumed is not None and resumed.status == "new" and resumed.consecutive_failures == 0
        )  # never worked
        await app.once()
        assert (await health(app, "bad")).status == "ok"
        assert (await health(app, "good")).status == "ok"
    finally:
        await app.close()

    # A restart sends nothing again.
    again = make_app(clock=clock)
    try:
        await again.start()
        await again.once()
    finally:
        await again.close()
    assert again.sink.admin == []  # type: ignore[attr-defined]


async def test_a_feed_that_works_again_after_its_notice_says_so_once(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    clock = Clock()
    feed_host.set("/flaky.xml", "", status=503, headers={"Retry-After": "60"})
    setup_rules(settings, [("flaky", feed_host.url("/flaky.xml"), "10m")])
    app = make_app(clock=clock)
    try:
        await app.start()
        await app.once()
        clock.advance(DAY + 1)
        await app.once()
        feed_host.set("/flaky.xml", rss([]))
        clock.advance(HOUR)
        await app.once()
        clock.advance(HOUR)
        await app.once()
    finally:
        await app.close()
    admin: list[str] = app.sink.admin  # type: ignore[attr-defined]
    assert len(admin) == 2
    assert admin[1] == "Feed flaky works again, after failing for 1 day."


class FlakyAdmin(Captured):
    """An admin channel that is unreachable at first."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def notify_admin(self, text: str) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("admin channel unreachable")
        await super().notify_admin(text)


async def test_notices_survive_an_unreachable_admin_channel(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    clock = Clock()
    feed_host.set("/bad.xml", "", status=404)
    setup_rules(settings, [("bad", feed_host.url("/bad.xml"), "1h")])
    app = make_app(clock=clock, sink=FlakyAdmin(failures=1))
    try:
        await app.start()
        await app.once()
        clock.advance(DAY + 1)
        first = await app.once()
        assert first.notices == 0 and app.sink.admin == []  # type: ignore[attr-defined]
        [queued] = await app.store.run(lambda s: s.notices())
        assert queued.sent_at is None and queued.error == "ConnectionError: admin channel unreachable"
        clock.advance(HOUR)
        second = await app.once()
    finally:
        await app.close()
    assert second.notices == 1
    assert len(app.sink.admin) == 1  # type: ignore[attr-defined]


async def test_a_feed_gone_quiet_gets_one_notice_per_silence(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    clock = Clock()
    feed_host.set("/hourly.xml", rss(items(clock, 12, every_hours=1)))
    setup_rules(settings, [("hourly", feed_host.url("/hourly.xml"), "30m")])
    app = make_app(clock=clock)
    sink: Captured = app.sink  # type: ignore[assignment]
    try:
        await app.start()
        await app.once()
        clock.advance(20 * HOUR)
        await app.once()
        assert sink.admin == []  # 20 h of silence for an hourly feed: under a day, not yet
        clock.advance(5 * HOUR)
        await app.once()
        assert len(sink.admin) == 1
        assert sink.admin[0].startswith(
            "Feed hourly has gone quiet: nothing new for 1 day (last item 2026-03-02 09:00"
        )
        assert "usually publishes every 1 h" in sink.admin[0]
        clock.advance(2 * HOUR)
        await app.once()
        assert len(sink.admin) == 1
        # It publishes again, then falls silent again: a new silence, a new notice.
        feed_host.set("/hourly.xml", rss(items(clock, 1, every_hours=1, start=100) + items(clock, 12, 1)))
        await app.once()
        clock.advance(3 * DAY)  # after a 27 h gap, three days is within three times its longest gap
        await app.once()
        assert len(sink.admin) == 1
        clock.advance(DAY)
        await app.once()
    finally:
        await app.close()
    assert len(sink.admin) == 2 and "nothing new for 4 days" in sink.admin[1]


async def test_retry_after_is_obeyed(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    clock = Clock()
    feed_host.set("/busy.xml", "slow down", status=429, headers={"Retry-After": "7200"})
    feed_host.set("/later.xml", "", status=503, headers={"Retry-After": "Mon, 02 Mar 2026 12:00:00 GMT"})
    setup_rules(
        settings, [("busy", feed_host.url("/busy.xml"), "1m"), ("later", feed_host.url("/later.xml"), "1m")]
    )
    app = make_app(clock=clock)
    try:
        await app.start()
        await app.once()
        busy, later = await health(app, "busy"), await health(app, "later")
    finally:
        await app.close()
    assert busy.last_error == "HTTP 429 Too Many Requests"
    assert 7200 <= busy.next_poll_at - clock.t <= 7200 * 1.1
    # An HTTP date is read against the real clock; it is in the past here, so backoff applies (≥ 1 min).
    assert later.next_poll_at - clock.t >= 60


async def test_a_fixed_interval_is_honoured_exactly_even_below_a_minute(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App], caplog
) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    feed_host.set("/a.xml", rss(items(clock, 3, every_hours=1)))
    feed_host.set("/fast.xml", rss([]))
    setup_rules(settings, [("a", feed_host.url("/a.xml"), "5m"), ("fast", feed_host.url("/fast.xml"), "20s")])
    app = make_app(clock=clock)
    try:
        await app.start()
        start = clock.t
        await app.once()
        assert (await health(app, "a")).next_poll_at == start + 300
        assert (await health(app, "fast")).next_poll_at == start + 20
        clock.advance(300.8)  # the scheduler picked it up a little late
        await app.poller.poll("a", if_due=True)
        state = await health(app, "a")
    finally:
        await app.close()
    assert state.next_poll_at == start + 600 and state.poll_interval == 300
    assert "feed fast is polled every 20s (its own interval), more often than once a minute" in caplog.text


async def test_adaptive_polling_follows_the_feed_and_its_cache_hints(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    clock = Clock()
    feed_host.set("/busy.xml", rss(items(clock, 30, every_hours=1 / 6)))  # every 10 minutes
    feed_host.set(
        "/cached.xml", rss(items(clock, 30, every_hours=1 / 6)), headers={"Cache-Control": "max-age=5400"}
    )
    ttl = rss(items(clock, 30, every_hours=1 / 6)).replace(
        "<description>test</description>", "<ttl>180</ttl>"
    )
    feed_host.set("/ttl.xml", ttl)
    feed_host.set("/old.xml", rss(items(clock, 5, every_hours=24 * 30)))
    setup_rules(
        settings,
        [
            ("busy", feed_host.url("/busy.xml"), None),
            ("cached", feed_host.url("/cached.xml"), "auto"),
            ("ttl", feed_host.url("/ttl.xml"), None),
            ("old", feed_host.url("/old.xml"), None),
        ],
    )
    app = make_app(clock=clock)
    try:
        await app.start()
        await app.once()
        states = {n: await health(app, n) for n in ("busy", "cached", "ttl", "old")}
    finally:
        await app.close()
    for name, interval in (("busy", 600.0), ("cached", 5400.0), ("ttl", 10800.0), ("old", 6 * HOUR)):
        state = states[name]
        assert abs(state.poll_interval - interval) < 30, (name, state.poll_interval)
        assert state.poll_interval <= state.next_poll_at - clock.t <= state.poll_interval * 1.1
    assert states["ttl"].ttl_seconds == 10800


async def test_feeds_with_the_same_url_are_fetched_once_and_recorded_each(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    clock = Clock()
    story = {
        "title": "Russia leaves Tartus",
        "link": "https://news.example/t",
        "guid": "t1",
        "published": clock.dt(0.5),
    }
    feed_host.set("/shared.xml", rss([story]))
    url = feed_host.url("/shared.xml")
    setup_rules(settings, [("a", url, "5m"), ("b", url, "10m"), ("c", url, None)])
    app = make_app(clock=clock)
    try:
        await app.start()
        first = await app.once()
        assert feed_host.hits("/shared.xml") == 1
        assert sorted(p.new_items for p in first.polls) == [1, 1, 1]
        recorded = {n: [i["title"] for i in await app.store.run(lambda s, n=n: s.items(n))] for n in "abc"}
        assert recorded == {
            "a": ["Russia leaves Tartus"],
            "b": ["Russia leaves Tartus"],
            "c": ["Russia leaves Tartus"],
        }
        assert first.delivery.sent == 1  # one story, one channel: alerted once

        clock.advance(301)
        second = await app.once()
        assert feed_host.hits("/shared.xml") == 2  # again one fetch (conditional) for all three
        assert {p.status for p in second.polls} == {"not_modified"}
        # The scheduler asks for "b" too, but the shared fetch just served it: it is not due.
        skipped = await app.poller.poll("b", if_due=True)
        assert skipped.status == "skipped" and feed_host.hits("/shared.xml") == 2
    finally:
        await app.close()


async def test_console_sink_prints_admin_notices_to_stderr(capsys) -> None:  # type: ignore[no-untyped-def]
    await ConsoleSink().notify_admin("Feed x is paused")
    assert capsys.readouterr().err == "[admin] Feed x is paused\n"
    assert OutboxAlert  # the sink interface the notices share


def test_resume_and_re_adding_bring_a_paused_feed_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bot.store import NoticeDraft, PollRecord, Store

    store = Store(tmp_path / "nh.db")
    try:
        store.sync_feeds([("f", "https://e.org/f")], now=0.0)
        store.record_poll(PollRecord(feed="f", at=1.0, next_poll_at=2.0))  # it worked once
        notice = NoticeDraft("paused:f:5", "paused", "Feed f is paused", "f")
        store.record_failure("f", 5.0, 6.0, "HTTP 410 Gone", 410, pause=True, notices=[notice, notice])
        state = store.feed("f")
        assert state is not None and state.status == "paused" and state.paused_at == 5.0
        assert [n.key for n in store.pending_notices(10.0)] == ["paused:f:5"]  # queued once
        assert store.feeds_due(1e12) == []

        resumed = store.resume_feed("f", 20.0)
        assert resumed is not None and resumed.status == "degraded" and resumed.last_error == "HTTP 410 Gone"
        assert (
            resumed.next_poll_at == 20.0 and resumed.consecutive_failures == 0 and resumed.paused_at is None
        )
        assert store.feeds_due(20.0) == ["f"]

        store.record_failure("f", 30.0, 40.0, "HTTP 410 Gone", 410, pause=True)
        store.sync_feeds([], now=50.0)  # removed from keywords.yaml …
        store.sync_feeds([("f", "https://e.org/f")], now=60.0)  # … and added back
        state = store.feed("f")
        assert state is not None and state.status == "degraded" and state.next_poll_at == 60.0
        assert store.resume_feed("nope", 1.0) is None
    finally:
        store.close()


async def test_once_prunes_items_past_retention_and_they_never_alert_again(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    clock = Clock()
    story = {"title": "Tartus port expands", "link": "https://news.example/p", "guid": "urn:p",
             "description": "Dredging at Tartus.", "published": clock.dt(hours_ago=1)}  # fmt: skip
    feed_host.set("/wire.xml", rss([story]))
    setup_rules(settings, [("wire", feed_host.url("/wire.xml"), "5m")])
    app = make_app(clock=clock)
    sink: Captured = app.sink  # type: ignore[assignment]
    try:
        await app.start()
        await app.once()
        assert sink.buffer.getvalue().count("Tartus port expands") == 1
        clock.advance(100 * DAY)
        # The feed still carries the old story, beside a new one; the store forgets the old one's text.
        fresh = {"title": "Tartus again", "link": "https://news.example/q", "guid": "urn:q",
                 "published": clock.dt(hours_ago=1)}  # fmt: skip
        feed_host.set("/wire.xml", rss([fresh, story]))
        await app.once()
        rows = {r["key"]: r for r in await app.store.run(lambda s: s.items("wire"))}
        old, new = rows["id:urn:p"], rows["id:urn:q"]
        assert old["summary"] is None and old["pruned_at"] == clock.t and old["verdict"] == "alerted"
        assert new["summary"] is not None and new["pruned_at"] is None
        # The pruned story comes round again in a changed feed: still not new, never alerted twice.
        clock.advance(DAY)
        feed_host.set("/wire.xml", rss([{**fresh, "title": "Tartus again (updated)"}, story]))
        await app.once()
        printed = sink.buffer.getvalue()
        assert printed.count("Tartus port expands") == 1 and printed.count("Tartus again") == 1
    finally:
        await app.close()


async def test_retention_zero_keeps_everything(
    feed_host: FeedHost, tmp_path: Path, make_app: Callable[..., App]
) -> None:
    clock = Clock()
    settings = make_settings(tmp_path, NEWSHOUND_RETENTION_DAYS=0)
    feed_host.set("/wire.xml", rss(items(clock, 3, 1.0)))
    setup_rules(settings, [("wire", feed_host.url("/wire.xml"), "5m")])
    app = make_app(clock=clock, settings=settings)
    try:
        await app.start()
        await app.once()
        clock.advance(3650 * DAY)
        assert (await app.prune()).items == 0
        assert all(r["pruned_at"] is None for r in await app.store.run(lambda s: s.items("wire")))
    finally:
        await app.close()


async def test_a_feed_that_overflowed_between_polls_is_reported_and_polled_sooner(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    clock = Clock()
    feed_host.set("/busy.xml", rss(items(clock, 8, every_hours=2)))  # adaptive: polled every ~2 h
    feed_host.set("/fixed.xml", rss(items(clock, 8, every_hours=2, start=500)))
    feed_host.set("/quick.xml", rss(items(clock, 8, every_hours=2, start=700)))
    feed_host.set("/empty.xml", rss([]))  # a feed with nothing in it yet
    setup_rules(
        settings,
        [
            ("busy", feed_host.url("/busy.xml"), None),
            ("fixed", feed_host.url("/fixed.xml"), "1h"),
            ("quick", feed_host.url("/quick.xml"), "30s"),
            ("empty", feed_host.url("/empty.xml"), "1h"),
        ],
    )
    app = make_app(clock=clock)
    sink: Captured = app.sink  # type: ignore[assignment]
    try:
        await app.start()
        await app.once()  # first polls: everything is new, nothing to say
        clock.advance(HOUR)
        # Half the items new: no gap.
        feed_host.set("/busy.xml", rss(items(clock, 4, 0.2, start=100) + items(Clock(), 4, every_hours=2)))
        await app.once()
        assert sink.admin == []
        clock.advance(HOUR)
        # Every item new, on both feeds: stories were pushed out unseen.
        feed_host.set("/busy.xml", rss(items(clock, 8, every_hours=0.1, start=200)))
        feed_host.set("/fixed.xml", rss(items(clock, 8, every_hours=0.1, start=600)))
        feed_host.set("/quick.xml", rss(items(clock, 8, every_hours=0.1, start=800)))
        feed_host.set("/empty.xml", rss(items(clock, 8, every_hours=0.1, start=900)))  # its first items
        await app.once()
        busy = next(t for t in sink.admin if t.startswith("Feed busy "))
        assert busy.startswith(
            "Feed busy may have dropped stories before they were seen: all 8 items it carries were new "
            "since it was last read 1 h ago (2026-03-02 10:00 UTC)"
        )
        assert busy.endswith("It is polled adaptively: the next poll is in 30 min.")
        fixed = next(t for t in sink.admin if t.startswith("Feed fixed "))
        assert "Its interval is fixed at 1h: set `interval: 30m` (or `auto`) on it in keywords.yaml" in fixed
        quick = next(t for t in sink.admin if t.startswith("Feed quick "))  # shorter, not "1m"
        assert "fixed at 30s: set `interval: 15s` (or `auto`)" in quick and "with a warning" in quick
        assert not any(t.startswith("Feed empty ") for t in sink.admin)  # empty until now: nothing dropped
        state = await health(app, "busy")
        assert state.poll_interval <= 1800 and state.next_poll_at - clock.t <= 1800 * 1.1
        assert (await health(app, "fixed")).next_poll_at == T0.timestamp() + 3 * HOUR  # as written
        # Again the same day: said once a day at most.
        clock.advance(HOUR)
        feed_host.set("/busy.xml", rss(items(clock, 8, every_hours=0.1, start=300)))
        await app.once()
        assert sum(t.startswith("Feed busy ") for t in sink.admin) == 1
    finally:
        await app.close()


async def test_the_failing_notice_comes_a_day_after_the_first_failure_not_a_backoff_step_later(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    """Polled only when due: the backoff (5 min doubling to 6 h) would first poll ~28.6 h into the streak;
    the retry is brought forward to the day mark, and the notice goes out then."""
    clock = Clock()
    feed_host.set("/bad.xml", "down", status=503)
    setup_rules(settings, [("bad", feed_host.url("/bad.xml"), "5m")])
    app = make_app(clock=clock)
    sink: Captured = app.sink  # type: ignore[assignment]
    try:
        await app.start()
        await app.once()
        since = clock.t
        while not sink.admin:
            clock.t = (await health(app, "bad")).next_poll_at  # the next poll, when it is due
            await app.once()
            assert clock.t <= since + DAY
        assert clock.t == since + DAY
        assert sink.admin[0].startswith("Feed bad has been failing for 1 day")
    finally:
        await app.close()


async def test_a_feed_that_moved_for_good_is_followed_and_reported_once(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    clock = Clock()
    feed_host.set("/new.xml", rss(items(clock, 2, 1)))
    feed_host.set("/old.xml", status=301, headers={"Location": "/new.xml"}, etag=False)
    feed_host.set("/hop.xml", status=308, headers={"Location": feed_host.url("/old.xml")}, etag=False)
    feed_host.set("/temp.xml", status=302, headers={"Location": "/old.xml"}, etag=False)
    setup_rules(
        settings,
        [
            ("moved", feed_host.url("/old.xml"), "10m"),
            ("moved-twice", feed_host.url("/hop.xml"), "10m"),
            ("borrowed", feed_host.url("/temp.xml"), "10m"),  # a temporary redirect first: not a move
        ],
    )
    app = make_app(clock=clock)
    try:
        await app.start()
        first = await app.once()
        clock.advance(HOUR)
        feed_host.set("/new.xml", rss(items(clock, 3, 1)))
        again = await app.once()
        states = {n: await health(app, n) for n in ("moved", "moved-twice", "borrowed")}
    finally:
        await app.close()
    assert all(p.status == "ok" for p in first.polls + again.polls)
    assert all(s.status == "ok" for s in states.values())
    admin: list[str] = app.sink.admin  # type: ignore[attr-defined]
    new = feed_host.url("/new.xml")
    assert sorted(admin) == [
        f"Feed moved has moved: {feed_host.url('/old.xml')} redirects permanently to {new}. Newshound "
        "follows the redirect on every poll; to poll the new address directly, change the feed's url in "
        "keywords.yaml.",
        f"Feed moved-twice has moved: {feed_host.url('/hop.xml')} redirects permanently to {new}. "
        "Newshound follows the redirect on every poll; to poll the new address directly, change the "
        "feed's url in keywords.yaml.",
    ]


async def test_a_feed_answering_410_gone_is_reported_at_once_not_a_day_later(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    clock = Clock()
    feed_host.set("/gone.xml", "", status=410)
    feed_host.set("/down.xml", "", status=503)
    setup_rules(
        settings, [("gone", feed_host.url("/gone.xml"), "10m"), ("down", feed_host.url("/down.xml"), "10m")]
    )
    app = make_app(clock=clock)
    try:
        await app.start()
        await app.once()
        clock.advance(HOUR)
        await app.once()
        gone = await health(app, "gone")
    finally:
        await app.close()
    admin: list[str] = app.sink.admin  # type: ignore[attr-defined]
    assert admin == [
        "Feed gone is gone: its server answers HTTP 410 Gone, which means the feed was removed for good. "
        "Newshound keeps retrying, less and less often, and pauses it after 7 days; remove it from "
        "keywords.yaml, or give it the feed's new address."
    ]  # once, and nothing yet for the feed that is merely down
    assert gone.status == "degraded" and gone.last_error == "HTTP 410 Gone"


async def test_a_feed_that_keeps_meeting_an_internal_error_backs_off_is_reported_and_paused(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    """A failure of the bot's own (here the database refuses to store the feed's items) is a failure like
    any other: it backs off, is reported after a day and pauses the feed after a week."""
    clock = Clock()
    feed_host.set("/f.xml", rss(items(clock, 3, every_hours=1)))
    setup_rules(settings, [("wire", feed_host.url("/f.xml"), None)])
    app = make_app(clock=clock)
    sink: Captured = app.sink  # type: ignore[assignment]
    try:
        await app.start()
        db = sqlite3.connect(settings.database)
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON items BEGIN SELECT RAISE(ABORT, 'no room'); END")
        db.commit()
        db.close()
        await app.once()
        since = clock.t
        state = await health(app, "wire")
        assert state.status == "degraded" and (state.last_error or "").startswith("internal error: ")
        assert "no room" in (state.last_error or "")
        polls, noticed_at = 1, None
        while (await health(app, "wire")).status != "paused":
            clock.t = (await health(app, "wire")).next_poll_at  # the next poll, when it is due
            await app.once()
            polls += 1
            noticed_at = noticed_at or (clock.t if sink.admin else None)
            assert clock.t <= since + 7 * DAY
        assert noticed_at == since + DAY and clock.t == since + 7 * DAY
        assert polls < 40  # backed off up to 6 h, not retried every 10 min (over 1,000 polls a week)
        assert [t.split(":")[0] for t in sink.admin] == [
            "Feed wire has been failing for 1 day (since 2026-03-02 09",
            "Feed wire is paused",
        ]
    finally:
        await app.close()


async def test_items_back_under_new_guids_are_not_new_but_new_stories_among_them_are(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    """One feed makes up new guids on every fetch, another's publisher changes its guid format once: an
    entry with the link, headline and date of an item the feed had is that item — not alerted (not even
    when backfill kept it quiet), not stored again, not counted by adaptive polling or as an overflow."""
    clock = Clock()

    def stories(site: str, guid: Callable[[int], str], new: bool = False) -> str:
        return rss(
            [
                {
                    "title": f"Tartus story {i}",
                    "link": f"https://{site}.example/{i}",
                    "guid": guid(i),
                    "published": T0 - timedelta(hours=5 * i + 1) if i < 100 else clock.dt(),
                }
                for i in ([100] if new else []) + list(range(8))  # 1, 6, … 36 h old: 5 within backfill
            ]
        )

    fetches = 0
    fresh = False

    async def junk(request: web.Request) -> web.Response:
        nonlocal fetches
        fetches += 1
        body = stories("junk", lambda i: f"urn:uuid:{fetches}-{i}", fresh)
        return web.Response(body=body.encode(), content_type="application/rss+xml")

    feed_host.handle("/junk.xml", junk)
    feed_host.set("/moved.xml", stories("moved", lambda i: f"post-{i}"))
    home = {"link": "https://home.example/", "title": "Tartus daily, Monday", "guid": "d1"}
    feed_host.set("/home.xml", rss([{**home, "published": clock.dt()}]))
    setup_rules(
        settings,
        [(n, feed_host.url(f"/{n}.xml"), None) for n in ("junk", "moved", "home")],
    )
    app = make_app(clock=clock)
    sink: Captured = app.sink  # type: ignore[assignment]
    try:
        await app.start()
        first = {p.feed: (p.new_items, p.alerts) for p in (await app.once()).polls}
        assert first == {"junk": (8, 5), "moved": (8, 5), "home": (1, 1)}
        interval = (await health(app, "junk")).poll_interval
        assert interval is not None and interval > 2 * HOUR

        clock.advance(HOUR)
        feed_host.set("/moved.xml", stories("moved", lambda i: f"https://moved.example/?p={i}"))
        # Every item links to the home page: a new guid with another headline is a new item.
        feed_host.set("/home.xml", rss([{**home, "title": "Tartus daily, Tuesday", "guid": "d2"}]))
        second = {p.feed: (p.new_items, p.alerts, p.verdicts) for p in (await app.once()).polls}
        assert second["junk"] == second["moved"] == (0, 0, {})
        assert second["home"][0] == 1

        clock.advance(HOUR)
        fresh = True
        feed_host.set("/moved.xml", stories("moved", lambda i: f"https://moved.example/?p={i}", True))
        third = {p.feed: (p.new_items, p.alerts) for p in (await app.once()).polls}
        assert third["junk"] == third["moved"] == (1, 1)
        assert "Tartus story 100" in sink.text
        assert sink.admin == []  # no overflow
        state = await health(app, "junk")
        assert state.items_total == 9 and state.poll_interval is not None and state.poll_interval > 2 * HOUR
        assert (await health(app, "moved")).items_total == 9
    finally:
        await app.close()
