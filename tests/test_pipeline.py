"""End to end on the embedded default: a real feed server on 127.0.0.1 → App → SQLite → console sink."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.app import App
from bot.config import Settings
from bot.parse import parse_feed
from tests.conftest import CHANNEL, OTHER_CHANNEL, Captured, write_rules
from tests.fakes.feed_host import FeedHost, rss

NOW = datetime.now(UTC)


def rules_for(settings: Settings, feeds: dict[str, str], extra_rules: str = "") -> None:
    lines = ["version: 1", "defaults:", f'  channel: "{CHANNEL}"', "  interval: 5m", "  backfill: 24h"]
    lines += ["  max_age: 7d", "feeds:"]
    for name, url in feeds.items():
        lines += [f"  - name: {name}", f"    url: {url}"]
    lines += [
        "rules:",
        "  - name: bases",
        "    keywords: [Tartus, Tartous, Khmeimim, Hmeimim]",
        "    all: [Russia]",
        "    exclude: [festival]",
        "    severity: high",
    ]
    write_rules(settings.keywords, "\n".join(lines) + "\n" + extra_rules.strip("\n") + "\n")


def item(n: int, title: str, desc: str = "", *, hours_ago: float = 1, **kw: object) -> dict[str, object]:
    return {
        "title": title,
        "link": f"https://news.example/{n}",
        "guid": f"urn:test:{n}",
        "description": desc,
        "published": NOW - timedelta(hours=hours_ago),
        **kw,
    }


TRAPS = [
    item(1, "Russia reinforces Tartus naval base", "Ships arrived in Tartus on Monday."),
    item(2, "Tartuse ülikool avab uue hoone", "Russia is mentioned, but Tartuse is Estonian for 'of Tartu'."),
    item(3, "Tartus summer festival opens", "Russia sends a delegation to the festival."),
    item(4, "Khmeimim air base sees heavy traffic", "Cargo planes land daily."),  # no `all` term
    item(
        5, "Russia and Syria talk about Hmeimim", "Negotiations continue.", hours_ago=48
    ),  # older than backfill
]


async def test_first_poll_alerts_matches_not_traps_and_not_old_items(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    feed_host.set("/levant.xml", rss(TRAPS))
    rules_for(settings, {"levant-wire": feed_host.url("/levant.xml")})
    app = make_app()
    try:
        await app.start()
        summary = await app.once()
    finally:
        await app.close()
    sink: Captured = app.sink  # type: ignore[assignment]
    assert "Russia reinforces Tartus naval base" in sink.text
    for trap in ("Tartuse", "festival opens", "Khmeimim air base", "Hmeimim"):
        assert trap not in sink.text
    assert summary.delivery.sent == 1
    assert [p.status for p in summary.polls] == ["ok"]

    db = sqlite3.connect(settings.database)
    verdicts = dict(db.execute("SELECT key, verdict FROM items").fetchall())
    assert verdicts == {
        "id:urn:test:1": "alerted",
        "id:urn:test:2": "no_match",
        "id:urn:test:3": "excluded",
        "id:urn:test:4": "no_match",
        "id:urn:test:5": "backfill",
    }
    reasons = dict(db.execute("SELECT key, reason FROM items").fetchall())
    assert "festival" in reasons["id:urn:test:3"]
    assert "Russia" in reasons["id:urn:test:4"]  # explains the missing `all` term
    # The backfill item would match, but it is recorded before the rules are asked: no outcomes at all.
    outcomes = dict(db.execute("SELECT key, outcomes FROM items").fetchall())
    assert outcomes["id:urn:test:5"] is None and outcomes["id:urn:test:3"] is not None
    judged = {
        k for (k,) in db.execute("SELECT key FROM items JOIN item_rules ON item_rules.item_id = items.id")
    }
    assert judged == {"id:urn:test:1", "id:urn:test:3", "id:urn:test:4"}


async def test_second_poll_and_restart_alert_nothing_twice(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    feed_host.set("/levant.xml", rss(TRAPS[:1]), etag=False)  # no ETag: the body itself must be compared
    rules_for(settings, {"levant-wire": feed_host.url("/levant.xml")})
    first = make_app()
    try:
        await first.start()
        s1 = await first.once()
        s2 = await first.once()
    finally:
        await first.close()
    assert s1.delivery.sent == 1
    assert s2.delivery.sent == 0 and s2.polls[0].status == "unchanged"

    # A new item appears beside the old one; a restarted bot alerts only the new one.
    feed_host.set("/levant.xml", rss([item(9, "Russia moves ships out of Tartus"), *TRAPS[:1]]), etag=False)
    second = make_app()
    try:
        await second.start()
        s3 = await second.once()
    finally:
        await second.close()
    text: str = second.sink.text  # type: ignore[attr-defined]
    assert "Russia moves ships out of Tartus" in text
    assert "Russia reinforces Tartus naval base" not in text
    assert s3.delivery.sent == 1


async def test_not_modified_path_sends_conditional_get(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    feed_host.set("/levant.xml", rss(TRAPS[:1]))
    rules_for(settings, {"levant-wire": feed_host.url("/levant.xml")})
    app = make_app()
    try:
        await app.start()
        await app.once()
        again = await app.once()
    finally:
        await app.close()
    assert again.polls[0].status == "not_modified"
    assert feed_host.requests[-1].headers.get("If-None-Match", "").startswith('"')


async def test_items_whose_links_have_a_malformed_port_do_not_take_the_feed_down(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    """A port out of range or not a number is kept as written in the item's identity and story key."""
    odd = [
        {"title": "Russia reinforces Tartus naval base", "link": "https://news.example:99999/1"},  # no guid
        {"title": "Russia sends ships to Tartus", "link": "https://news.example:8o8o/2"},
        item(3, "Russia flies jets to Hmeimim", link="https://news.example:99999/3"),  # a guid, and it fires
        item(4, "Russia resupplies Khmeimim air base"),
    ]
    for it in odd[:2]:
        it["published"] = NOW - timedelta(hours=1)
    feed_host.set("/levant.xml", rss(odd))
    rules_for(settings, {"levant-wire": feed_host.url("/levant.xml")})
    app = make_app()
    try:
        await app.start()
        summary = await app.once()
    finally:
        await app.close()
    assert [(p.status, p.error, p.alerts) for p in summary.polls] == [("ok", None, 4)]
    db = sqlite3.connect(settings.database)
    keys = {k for (k,) in db.execute("SELECT key FROM items WHERE verdict = 'alerted'")}
    assert keys == {
        "link:https://news.example:99999/1",
        "link:https://news.example:8o8o/2",
        "id:urn:test:3",
        "id:urn:test:4",
    }


async def test_a_feed_added_back_after_removal_gets_a_first_poll_again_not_a_flood(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    url = feed_host.url("/levant.xml")
    old = item(0, "Russia and Syria talk about Hmeimim", hours_ago=30)

    async def once() -> tuple[App, list[tuple[str, int, dict[str, int]]]]:
        app = make_app()
        try:
            await app.start()
            summary = await app.once()
        finally:
            await app.close()
        return app, [(p.feed, p.alerts, p.verdicts) for p in summary.polls]

    feed_host.set("/levant.xml", rss([old]))
    rules_for(settings, {"levant-wire": url})
    assert (await once())[1] == [("levant-wire", 0, {"backfill": 1})]
    feed_host.set("/other.xml", rss([]))
    rules_for(settings, {"other": feed_host.url("/other.xml")})  # removed from keywords.yaml …
    await once()
    # … while it was gone, it published five stories; the last one an hour ago.
    gone = [item(n, f"Russia moves ships to Tartus, day {n}", hours_ago=30 + 10 * n) for n in range(1, 5)]
    fresh = item(5, "Russia moves ships out of Tartus")
    feed_host.set("/levant.xml", rss([fresh, *gone, old]))
    requests = len(feed_host.requests)
    rules_for(settings, {"levant-wire": url})  # … and added back
    app, polls = await once()
    assert polls == [("levant-wire", 1, {"backfill": 4, "alerted": 1})]
    text: str = app.sink.text  # type: ignore[attr-defined]
    assert "ships out of Tartus" in text and "day 1" not in text
    asked = [r for r in feed_host.requests[requests:] if r.path == "/levant.xml"]
    assert len(asked) == 1 and "If-None-Match" not in asked[0].headers  # read in full
    db = sqlite3.connect(settings.database)
    assert db.execute("SELECT verdict FROM items WHERE key = 'id:urn:test:0'").fetchall() == [("backfill",)]


async def test_failing_feed_does_not_stop_healthy_one_and_health_says_why(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    feed_host.set("/good.xml", rss(TRAPS[:1]))
    feed_host.set("/bad.xml", "oops", status=500)
    feed_host.set(
        "/html.xml", "<!doctype html><html><body>Not a feed</body></html>", content_type="text/html"
    )
    rules_for(
        settings,
        {
            "bad": feed_host.url("/bad.xml"),
            "good": feed_host.url("/good.xml"),
            "html": feed_host.url("/html.xml"),
            "gone": "http://127.0.0.1:9/nothing-listens-here.xml",
        },
    )
    app = make_app()
    try:
        await app.start()
        summary = await app.once()
        health = {f.name: f for f in await app.store.run(lambda s: s.feeds())}
    finally:
        await app.close()
    assert "Russia reinforces Tartus naval base" in app.sink.text  # type: ignore[attr-defined]
    assert health["good"].status == "ok"
    assert health["bad"].status == "degraded" and health["bad"].last_error == "HTTP 500 Internal Server Error"
    assert health["html"].last_error == "the URL returned an HTML page, not a feed"
    assert "cannot connect" in (health["gone"].last_error or "")
    assert sorted(p.feed for p in summary.polls if p.status == "error") == ["bad", "gone", "html"]


async def test_same_story_from_two_feeds_alerts_once_per_channel(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    story = item(1, "Russia reinforces Tartus naval base", "Ships arrived.")
    feed_host.set("/a.xml", rss([story]))
    feed_host.set("/b.xml", rss([{**story, "guid": "other-guid", "link": story["link"] + "?utm_source=rss"}]))
    rules_for(
        settings,
        {"a": feed_host.url("/a.xml"), "b": feed_host.url("/b.xml")},
        f"""
  - name: copy
    keywords: [Tartus]
    channel: "{OTHER_CHANNEL}"
""",
    )
    app = make_app()
    try:
        await app.start()
        summary = await app.once()
    finally:
        await app.close()
    text: str = app.sink.text  # type: ignore[attr-defined]
    # one alert in each channel, although two feeds carried the story and two rules matched it
    assert summary.delivery.sent == 2
    assert text.count(f"channel:{CHANNEL}") == 1 and text.count(f"channel:{OTHER_CHANNEL}") == 1


async def test_console_alert_is_readable(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    long_desc = (
        "The ministry held a briefing on regional matters. "
        + "Filler sentence about other things. " * 20
        + "Russia keeps two warships at Tartus for now."
    )
    feed_host.set("/levant.xml", rss([item(1, "Naval update", long_desc)]))
    rules_for(settings, {"levant-wire": feed_host.url("/levant.xml")})
    app = make_app()
    try:
        await app.start()
        await app.once()
    finally:
        await app.close()
    text: str = app.sink.text  # type: ignore[attr-defined]
    assert "[HIGH] Naval update" in text
    assert "https://news.example/1" in text
    assert "matched: bases · Tartus" in text
    # the summary keeps the lead sentence and the sentence that matched, and skips the filler
    assert "The ministry held a briefing" in text and "Russia keeps two warships at Tartus" in text
    assert "Filler" not in text


async def test_items_that_cannot_alert_are_stored_and_searchable_like_any_other(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    """Backfill items are parsed brief (only the text the store keeps): what is stored is the same."""
    long_desc = "<p>Opening words about the harbour.</p>" + "<p>Filler sentence number.</p>" * 300
    old = [item(n, f"Old story {n}", long_desc + f" Trailing {n}.", hours_ago=48 + n) for n in range(3)]
    feed_host.set("/levant.xml", rss([item(9, "Fresh story", long_desc), *old]))
    rules_for(settings, {"levant-wire": feed_host.url("/levant.xml")})
    app = make_app()
    try:
        await app.start()
        await app.once()
        hits, _ = await app.store.run(lambda s: s.search("harbour opening"))
    finally:
        await app.close()
    reference = parse_feed(rss([item(9, "Fresh story", long_desc), *old]).encode(), "", {})
    assert {h["title"] for h in hits} == {"Fresh story", "Old story 0", "Old story 1", "Old story 2"}
    db = sqlite3.connect(settings.database)
    stored = dict(db.execute("SELECT key, summary FROM items").fetchall())
    assert stored == {e.key: e.summary[:2000] for e in reference.entries}


async def test_the_running_bot_indexes_polled_items_for_search_in_the_background(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    """A poll stores items without tokenising them; the background job (every ``SEARCH_INDEX_EVERY``
    seconds in ``run``) adds them to the full-text index a batch at a time."""
    feed_host.set("/levant.xml", rss([item(n, f"Harbour story {n}", hours_ago=48 + n) for n in range(7)]))
    rules_for(settings, {"levant-wire": feed_host.url("/levant.xml")})
    app = make_app()
    try:
        await app.start()
        await app.once()
        db = sqlite3.connect(settings.database)
        indexed = "SELECT COUNT(*) FROM items_fts WHERE items_fts MATCH 'harbour'"
        assert db.execute(indexed).fetchone()[0] == 0
        assert await app.index_for_search(batch=3) == 7  # 3 + 3 + 1, each its own store call
        assert db.execute(indexed).fetchone()[0] == 7
        assert await app.index_for_search() == 0
    finally:
        await app.close()


async def test_a_feed_sharing_its_url_with_a_new_feed_still_judges_its_own_new_items(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    """A new feed's first poll keeps its backfill brief; another feed with the same URL, polled before,
    must still judge (in full) an item that is backfill for the new feed but new and recent enough for
    it."""
    url = feed_host.url("/levant.xml")
    feed_host.set("/levant.xml", rss([item(1, "Nothing to see", hours_ago=100)]), etag=False)
    rules_for(settings, {"old-wire": url})
    app = make_app()
    try:
        await app.start()
        await app.once()
    finally:
        await app.close()
    deep = "Background. " * 400 + "Russia keeps warships at Tartus."  # the match is past the stored text
    feed_host.set(
        "/levant.xml",
        rss([item(2, "Naval update", deep, hours_ago=48), item(1, "Nothing to see", hours_ago=100)]),
        etag=False,
    )
    rules_for(settings, {"new-wire": url, "old-wire": url})  # the new feed first: its parse is shared
    app = make_app()
    try:
        await app.start()
        summary = await app.once()
    finally:
        await app.close()
    by_feed = {p.feed: p for p in summary.polls}
    assert by_feed["old-wire"].status == "ok" and by_feed["old-wire"].alerts == 1
    assert by_feed["new-wire"].status == "ok" and by_feed["new-wire"].alerts == 0
    assert "Naval update" in app.sink.text  # type: ignore[attr-defined]


async def test_a_feed_sharing_its_url_with_a_new_feed_still_judges_its_retitled_items(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    """The new feed's first poll keeps an item older than backfill brief; for the other feed it is a seen
    item with another headline, within max_age: judged in full, it alerts."""
    url = feed_host.url("/levant.xml")
    feed_host.set("/levant.xml", rss([item(1, "Explosion reported at Syrian port", hours_ago=30)]))
    rules_for(settings, {"old-wire": url})
    app = make_app()
    try:
        await app.start()
        await app.once()
    finally:
        await app.close()
    feed_host.set("/levant.xml", rss([item(1, "Russia: explosion at naval base in Tartus", hours_ago=30)]))
    rules_for(settings, {"new-wire": url, "old-wire": url})  # the new feed first: its parse is shared
    app = make_app()
    try:
        await app.start()
        summary = await app.once()
    finally:
        await app.close()
    assert {p.feed: (p.alerts, p.retitled) for p in summary.polls} == {"new-wire": (0, 0), "old-wire": (1, 1)}
    assert "explosion at naval base in Tartus" in app.sink.text  # type: ignore[attr-defined]


# -- a seen item that comes back with another headline ----------------------------------------------------


async def _poll(app: App) -> tuple[list[str], int]:
    """One ``once`` on a started app: the alert titles sent, and how many seen items were retitled."""
    sink: Captured = app.sink  # type: ignore[assignment]
    before = sink.text
    summary = await app.once()
    new_text = sink.text[len(before) :]
    return [line for line in new_text.splitlines() if line.startswith("[")], sum(
        p.retitled for p in summary.polls
    )


async def test_a_seen_item_retitled_into_a_match_alerts_once(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    quiet = item(1, "Explosion reported at Syrian port", "Russia's navy has a presence there.")
    other = item(2, "Markets close higher", "Nothing to see.")
    feed_host.set("/levant.xml", rss([quiet, other]))
    rules_for(settings, {"levant-wire": feed_host.url("/levant.xml")})
    app = make_app()
    try:
        await app.start()
        assert await _poll(app) == ([], 0)  # judged: no rule fires
        retitled = {**quiet, "title": "Explosion at naval base in Tartus"}
        feed_host.set("/levant.xml", rss([retitled, other]))
        sent, changed = await _poll(app)
        assert changed == 1 and len(sent) == 1 and "Explosion at naval base in Tartus" in sent[0], sent
        assert "(headline updated; it was: Explosion reported at Syrian port)" in app.sink.text  # type: ignore[attr-defined]
        # another change that adds nothing a rule did not already fire on: no second alert
        feed_host.set(
            "/levant.xml", rss([{**quiet, "title": "Explosion at naval base in Tartus: 3 hurt"}, other])
        )
        assert await _poll(app) == ([], 1)
        # spacing is not a change; a new item beside it is judged as usual
        feed_host.set(
            "/levant.xml",
            rss([{**quiet, "title": " Explosion at naval  base in Tartus: 3 hurt "}, other, item(3, "Rain")]),
        )
        assert await _poll(app) == ([], 0)
    finally:
        await app.close()
    db = sqlite3.connect(settings.database)
    title, verdict, reason = db.execute(
        "SELECT title, verdict, reason FROM items WHERE key = 'id:urn:test:1'"
    ).fetchone()
    assert title == "Explosion at naval base in Tartus: 3 hurt" and verdict == "alerted"
    assert reason.startswith("headline changed from 'Explosion at naval base in Tartus'; the rules that")
    assert db.execute("SELECT COUNT(*) FROM alerts").fetchone() == (1,)


async def test_retitling_never_floods_what_backfill_and_max_age_kept_quiet(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    relevant = item(1, "Russia keeps ships at Tartus", hours_ago=48)  # older than backfill: recorded quietly
    dull = item(2, "Quiet day in the port", "Russia says little.", hours_ago=48)
    ancient = item(3, "Old news from the coast", "Russia was there.", hours_ago=24 * 10)  # beyond max_age
    feed_host.set("/levant.xml", rss([relevant, dull, ancient]))
    rules_for(settings, {"levant-wire": feed_host.url("/levant.xml")})
    app = make_app()
    try:
        await app.start()
        assert await _poll(app) == ([], 0)
        feed_host.set(
            "/levant.xml",
            rss(
                [
                    {**relevant, "title": "Russia keeps ships at Tartus, officials say"},  # fired before too
                    {**dull, "title": "Russia moves ships out of Tartus"},  # the news is in the change
                    {**ancient, "title": "Old news from Tartus"},
                ]
            ),
        )
        sent, changed = await _poll(app)
    finally:
        await app.close()
    assert changed == 3
    assert len(sent) == 1 and "Russia moves ships out of Tartus" in sent[0], sent
    db = sqlite3.connect(settings.database)
    reasons = dict(db.execute("SELECT key, reason FROM items").fetchall())
    assert "fired on the old headline too" in reasons["id:urn:test:1"]
    assert reasons["id:urn:test:3"].endswith("older than max_age: not judged again")
    assert db.execute("SELECT title FROM items WHERE key = 'id:urn:test:3'").fetchone() == (
        "Old news from Tartus",
    )


async def test_a_retitled_item_alerts_only_where_it_has_not_been_sent(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    talks = item(1, "Syria: talks resume in Geneva", "Russia attends.")
    feed_host.set("/levant.xml", rss([talks]))
    rules_for(
        settings,
        {"levant-wire": feed_host.url("/levant.xml")},
        f"""
  - name: syria
    keywords: [Syria]
    channel: "{OTHER_CHANNEL}"
""",
    )
    app = make_app()
    try:
        await app.start()
        sent, _ = await _poll(app)
        assert len(sent) == 1  # syria → the other channel
        feed_host.set("/levant.xml", rss([{**talks, "title": "Syria: talks resume as Russia leaves Tartus"}]))
        sent, changed = await _poll(app)
    finally:
        await app.close()
    assert changed == 1 and len(sent) == 1
    db = sqlite3.connect(settings.database)
    targets = [r[0] for r in db.execute("SELECT target_key FROM alerts ORDER BY id")]
    assert targets == [f"channel:{OTHER_CHANNEL}", f"channel:{CHANNEL}"]


async def test_a_json_feed_with_half_a_surrogate_pair_is_stored_and_alerts(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    # JSON can escape half of a surrogate pair alone; no UTF-8 text (SQLite's, Discord's) can hold it.
    published = (NOW - timedelta(hours=1)).isoformat()
    body = (
        '{"version": "https://jsonfeed.org/version/1.1", "title": "Wire \\ud800", "items": ['
        '{"id": "1", "url": "https://news.example/1", "title": "Russia reinforces Tartus \\udfff base",'
        f' "content_text": "Ships \\ud83d\\ude80 arrive \\ud83d.", "date_published": "{published}"}}]}}'
    )
    feed_host.set("/wire.json", body, content_type="application/feed+json")
    rules_for(settings, {"wire": feed_host.url("/wire.json")})
    app = make_app()
    try:
        await app.start()
        summary = await app.once()
    finally:
        await app.close()
    assert [p.status for p in summary.polls] == ["ok"] and summary.delivery.sent == 1
    sink: Captured = app.sink  # type: ignore[assignment]
    assert "Russia reinforces Tartus \ufffd base" in sink.text
    db = sqlite3.connect(settings.database)
    [(title, summary_text)] = db.execute("SELECT title, summary FROM items").fetchall()
    assert title == "Russia reinforces Tartus \ufffd base"
    assert "Ships \U0001f680 arrive \ufffd." in summary_text  # the pair stays one character


async def test_a_shortened_interval_is_in_force_at_once_not_after_the_old_wait(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    from bot.rules.load import load_rules

    feed_host.set("/wire.xml", rss([item(1, "Quiet day")]))
    rules_for(settings, {"wire": feed_host.url("/wire.xml")})
    settings.keywords.write_text(settings.keywords.read_text().replace("interval: 5m", "interval: 1h"))
    now = [1_800_000_000.0]
    app = make_app(clock=lambda: now[0])
    try:
        await app.start()
        await app.once()
        polled = app.store.run_sync(lambda s: s.feed("wire"))
        assert polled is not None and polled.last_fetch_at is not None
        assert polled.next_poll_at == polled.last_fetch_at + 3600
        now[0] += 600  # ten minutes later, the interval is edited down to 5 minutes: due now
        settings.keywords.write_text(settings.keywords.read_text().replace("interval: 1h", "interval: 5m"))
        await app.apply_config(load_rules(settings.keywords))
        edited = app.store.run_sync(lambda s: s.feed("wire"))
        assert edited is not None and edited.next_poll_at == polled.last_fetch_at + 300
        assert await app._due() == ["wire"]
        # Lengthening it again leaves the next poll where it is (it comes sooner, never later).
        settings.keywords.write_text(settings.keywords.read_text().replace("interval: 5m", "interval: 2h"))
        await app.apply_config(load_rules(settings.keywords))
        again = app.store.run_sync(lambda s: s.feed("wire"))
        assert again is not None and again.next_poll_at == polled.last_fetch_at + 300
    finally:
        await app.close()


async def test_a_feed_that_moves_keeps_its_items_though_its_relative_guids_now_resolve_elsewhere(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    from aiohttp import web

    # <guid>1000</guid> is resolved against the feed's address, as feedparser does: after a permanent
    # redirect every item has a new id. It is the same item (same link, headline and date): not new.
    stories = [
        item(i, f"Russia moves ships at Tartus, part {i}", hours_ago=20 * i + 2, guid=str(1000 + i))
        for i in range(6)
    ]
    feed_host.set("/feeds/rss.xml", rss(stories))
    rules_for(settings, {"wire": feed_host.url("/feeds/rss.xml")})
    now = [NOW.timestamp()]
    app = make_app(clock=lambda: now[0])
    try:
        await app.start()
        first = await app.once()
        assert first.polls[0].new_items == 6 and first.delivery.sent == 2  # 4 older than backfill

        async def moved(_: web.Request) -> web.Response:
            return web.Response(status=301, headers={"Location": "/v2/rss.xml"})

        feed_host.handle("/feeds/rss.xml", moved)
        weather = item(9, "Weather today", guid="999", hours_ago=0.1)
        feed_host.set("/v2/rss.xml", rss([weather, *stories]))
        now[0] += 600
        second = await app.once()
    finally:
        await app.close()
    assert second.polls[0].new_items == 1 and second.delivery.sent == 0  # only the weather is new
    db = sqlite3.connect(settings.database)
    assert db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 7


async def test_an_undated_item_under_a_new_guid_is_new_even_with_the_same_headline_and_link(
    feed_host: FeedHost, settings: Settings, make_app: Callable[..., App]
) -> None:
    def update(n: int) -> dict[str, object]:  # a live page: each update its own guid, no date
        return {
            "title": "Russia live: Tartus port updates",
            "link": "https://news.example/live",
            "guid": f"urn:live:{n}",
            "description": f"update {n}",
        }

    feed_host.set("/live.xml", rss([update(1)]))
    rules_for(settings, {"live": feed_host.url("/live.xml")})
    now = [NOW.timestamp()]
    app = make_app(clock=lambda: now[0])
    try:
        await app.start()
        await app.once()  # first poll: undated, so recorded silently (backfill)
        feed_host.set("/live.xml", rss([update(2), update(1)]))
        now[0] += 600
        second = await app.once()
    finally:
        await app.close()
    assert second.polls[0].new_items == 1 and second.delivery.sent == 1
