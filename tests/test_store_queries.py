"""The questions users ask through slash commands, answered by the store on real SQLite."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.model import Alert, AlertMatch, Entry, Hit, RuleOutcome, Target
from bot.store import NewItem, PlannedAlert, PollRecord, Store, fts_query
from bot.store._sqlite import Database
from bot.store.migrations import migrations
from tests.conftest import fts_consistent

DAY = 86400.0
T0 = datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp()
CH = Target(channel="123456789012345678")


def matched(rule: str, term: str) -> RuleOutcome:
    return RuleOutcome(rule, "matched", (Hit(term, "title", 0, len(term), term),))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "nh.db")
    s.sync_feeds([("wire", "https://example.org/rss")], now=0.0)
    items = [
        NewItem(
            Entry(
                key="id:1",
                title="Russia keeps ships at Tartūs",
                summary="Naval base busy.",
                link="https://n.example/1",
                published=datetime.fromtimestamp(T0 - 2 * DAY, UTC),
            ),
            "alerted",
            "bases: matched 'Tartus' in title",
            [matched("bases", "Tartus")],
            [
                PlannedAlert(
                    CH,
                    Alert(
                        feed="wire",
                        title="Russia keeps ships at Tartūs",
                        link="https://n.example/1",
                        summary="",
                        matches=(AlertMatch("bases", ("Tartus",)),),
                    ),
                )
            ],
        ),
        NewItem(
            Entry(
                key="id:2",
                title="Tartus festival opens",
                summary="Music.",
                link="https://n.example/2",
                published=datetime.fromtimestamp(T0 - 1 * DAY, UTC),
            ),
            "excluded",
            "bases: excluded by 'festival' in title",
            [RuleOutcome("bases", "excluded", (Hit("festival", "title", 7, 15, "festival", "exclude"),))],
        ),
        NewItem(
            Entry(
                key="id:3",
                title="Weather in Tartus",
                summary="Sunny.",
                link="https://n.example/3?id=7",
                published=datetime.fromtimestamp(T0, UTC),
            ),
            "no_match",
            "no rule matched",
        ),
    ]
    s.record_poll(PollRecord(feed="wire", at=T0, next_poll_at=T0 + 60, items=items))
    return s


def test_search_is_accent_insensitive_newest_first_and_paginated(store: Store) -> None:
    rows, total = store.search("tartus")
    assert total == 3 and [r["title"] for r in rows] == [
        "Weather in Tartus",
        "Tartus festival opens",
        "Russia keeps ships at Tartūs",
    ]
    page2, _ = store.search("tartus", limit=2, offset=2)
    assert [r["title"] for r in page2] == ["Russia keeps ships at Tartūs"]
    assert store.search("TARTUS naval")[1] == 1


def test_search_by_rule_and_days(store: Store) -> None:
    assert [r["title"] for r in store.search("tartus", rule="bases")[0]] == ["Russia keeps ships at Tartūs"]
    assert store.search("tartus", since=T0 - 1.5 * DAY)[1] == 2


def test_search_never_passes_fts_syntax_through(store: Store) -> None:
    assert fts_query('tartus OR "x" NEAR(') == '"tartus" "OR" """x""" "NEAR("'
    assert store.search('NEAR( "unbalanced')[1] == 0
    assert store.search("  ")[1] == 0
    assert store.search("tart*")[1] == 3


def test_latest_alerts_by_rule(store: Store) -> None:
    [row] = store.latest_alerts(rule="bases")
    assert (
        row["title"] == "Russia keeps ships at Tartūs"
        and row["status"] == "pending"
        and row["feed"] == "wire"
    )
    assert store.latest_alerts(rule="nope") == []
    # Exactly the name: not a LIKE pattern (`_`, `%`), not another case.
    assert store.latest_alerts(rule="base_") == [] and store.latest_alerts(rule="b%") == []
    assert store.latest_alerts(rule="BASES") == []


def test_why_finds_item_by_link_guid_or_tracking_variant(store: Store) -> None:
    [by_link] = store.why("https://n.example/2")
    assert by_link["verdict"] == "excluded" and by_link["outcomes"][0]["verdict"] == "excluded"
    assert by_link["alerts"] == []
    [by_guid] = store.why("1")
    assert (
        by_guid["alerts"][0]["status"] == "pending"
        and by_guid["alerts"][0]["target_key"] == "channel:123456789012345678"
    )
    [tracked] = store.why("https://n.example/3?utm_source=x&id=7")
    assert tracked["title"] == "Weather in Tartus"
    assert store.why("https://elsewhere.example/") == []
    # A #fragment is not part of the link either, with or without a query.
    [fragment] = store.why("https://n.example/2#comments")
    assert fragment["title"] == "Tartus festival opens"
    assert store.why("https://n.example/3?id=7&utm_medium=rss#top")[0]["title"] == "Weather in Tartus"
    # Nor is the case of the scheme and host.
    assert store.why("HTTPS://N.Example/3?utm_source=x&id=7")[0]["title"] == "Weather in Tartus"
    assert store.why("https://n.example/3?id=8") == []  # another query parameter is another link


def test_why_finds_a_link_whose_query_is_spelt_otherwise(tmp_path: Path) -> None:
    s = Store(tmp_path / "nh.db")
    s.sync_feeds([("wire", "https://example.org/rss")], now=0.0)
    stored = [
        "https://n.example/search?q=a+b&utm_source=rss",
        "https://n.example/s?q=caf%C3%A9&utm_source=rss",
    ]
    items = [
        NewItem(Entry(key=f"id:{i}", title=f"Story {i}", link=link), "no_match", "", [], [])
        for i, link in enumerate(stored)
    ]
    s.record_poll(PollRecord(feed="wire", at=T0, next_poll_at=T0 + 60, items=items))
    assert [r["title"] for r in s.why("https://n.example/search?q=a%20b")] == ["Story 0"]
    assert [r["title"] for r in s.why("https://n.example/s?q=café")] == ["Story 1"]


def test_why_finds_an_item_among_many_links_that_differ_only_in_their_query(tmp_path: Path) -> None:
    s = Store(tmp_path / "nh.db")
    s.sync_feeds([("wire", "https://example.org/rss")], now=0.0)
    items = [
        NewItem(
            Entry(
                key=f"id:urn:story:{i}",
                title=f"Story {i}",
                link=f"https://n.example/story.php?id={i}&utm_source=rss",
            ),
            "no_match",
            "",
            [],
            [],
        )
        for i in range(120)
    ]
    s.record_poll(PollRecord(feed="wire", at=T0, next_poll_at=T0 + 60, items=items))
    for i in (0, 50, 119):  # the oldest are as findable as the newest
        [found] = s.why(f"https://n.example/story.php?id={i}")
        assert found["title"] == f"Story {i}"
    assert s.why("https://n.example/story.php?id=120") == []


def test_trend_counts_every_day(store: Store) -> None:
    assert store.trend("tartus", since=T0 - 3 * DAY, until=T0) == [
        ("2026-11-17", 0),
        ("2026-11-18", 1),
        ("2026-11-19", 1),
        ("2026-11-20", 1),
    ]


def test_status_numbers(store: Store) -> None:
    st = store.status(now=T0)
    assert (
        st["feeds"] == {"ok": 1} and st["outbox"] == 1 and st["alerts_today"] == 0 and st["last_poll"] == T0
    )


def fts_rows(store: Store, word: str) -> int:
    """What the full-text index itself holds (no catch-up), to see when it is written."""
    return int(
        store.db.execute("SELECT COUNT(*) FROM items_fts WHERE items_fts MATCH ?", [word]).fetchone()[0]
    )


def test_polls_leave_indexing_to_the_search_that_needs_it(store: Store) -> None:
    assert fts_rows(store, "tartus") == 0  # the poll's transaction stored the items, nothing more
    assert store.search("tartus")[1] == 3  # the search indexed them first
    assert fts_rows(store, "tartus") == 3
    assert store.index_for_search() == 0
    fts_consistent(store)
    store.record_poll(
        PollRecord(
            feed="wire",
            at=T0 + 60,
            next_poll_at=T0 + 120,
            items=[NewItem(Entry(key="id:4", title="Khmeimim", summary="Tartus too"), "no_match", "")],
        )
    )
    assert [d for d in store.trend("khmeimim", since=T0, until=T0 + 60) if d[1]] == [("2026-11-20", 1)]


def test_index_for_search_goes_in_batches_oldest_first(store: Store) -> None:
    assert [store.index_for_search(2), store.index_for_search(2), store.index_for_search(2)] == [2, 1, 0]
    fts_consistent(store)


def test_an_older_database_keeps_its_index_and_deletes_stay_consistent(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path))
    migrations.apply(db, stop_before="m007_search_index_off_the_poll")  # the schema before m007
    db.execute(
        "INSERT INTO feeds (id, name, url, status) VALUES (1, 'wire', 'https://example.org/rss', 'ok')"
    )
    for i, title in enumerate(["Tartus port", "Khmeimim airbase", "Latakia Tartus road"], start=1):
        db.execute(
            "INSERT INTO items (id, feed_id, key_hash, key, title, summary, seen_at) VALUES (?,1,?,?,?,'',?)",
            [i, i, f"id:{i}", title, T0],
        )  # indexed by m002's trigger
    db.conn.commit()
    db.conn.close()
    s = Store(path)
    assert fts_rows(s, "tartus") == 2  # what was indexed before stays indexed, with no catch-up
    assert s.index_for_search() == 0
    s.record_poll(
        PollRecord(
            feed="wire",
            at=T0,
            next_poll_at=T0,
            items=[NewItem(Entry(key="id:9", title="Tartus"), "no_match", "")],
        )
    )
    with s.db.atomic():  # an indexed item and one not indexed yet, deleted: the index follows
        s.db.execute("DELETE FROM items WHERE key IN ('id:1', 'id:9')")
    s.db.execute("UPDATE items SET title = 'Hmeimim airbase' WHERE key = 'id:2'")
    assert s.index_for_search() == 0
    fts_consistent(s)
    assert [r["title"] for r in s.search("tartus")[0]] == ["Latakia Tartus road"]
    assert s.search("hmeimim")[1] == 1 and s.search("khmeimim")[1] == 0
