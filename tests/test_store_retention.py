"""Retention on real SQLite: old items lose their text, never their identity."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.model import Alert, AlertMatch, Entry, Hit, RuleOutcome, Target
from bot.store import DUPLICATE_WINDOW, NewItem, PlannedAlert, PollRecord, Store, VacuumError
from bot.store._sqlite import Database
from bot.store.migrations import migrations
from tests.conftest import fts_consistent

DAY = 86400.0
T0 = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
KEEP = 90 * DAY
CH = Target(channel="123456789012345678")


def item(key: str, title: str, summary: str, *, alert: bool = False) -> NewItem:
    outcome = RuleOutcome("bases", "matched", (Hit("tartus", "title", 0, 6, "Tartus"),))
    story = Alert(
        feed="wire",
        title=title,
        link=f"https://n.example/{key}",
        summary=summary,
        matches=(AlertMatch("bases", ("Tartus",)),),
    )
    planned = [PlannedAlert(CH, story, dedup_keys=(f"title:{title.lower()}",))] if alert else []
    return NewItem(
        Entry(key=f"id:{key}", title=title, summary=summary, link=f"https://n.example/{key}"),
        "alerted" if alert else "no_match",
        "bases: matched 'Tartus' in title" if alert else "no rule matched",
        [outcome] if alert else [],
        planned,
    )


def record(store: Store, at: float, *items: NewItem) -> list[int]:
    rec = PollRecord(feed="wire", at=at, next_poll_at=at + 60, body_hash=str(at), items=list(items))
    return store.record_poll(rec).alert_ids


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "nh.db")
    s.sync_feeds([("wire", "https://example.org/rss")], now=0.0)
    return s


def test_old_items_lose_text_and_details_but_stay_seen_and_findable(store: Store) -> None:
    (sent,) = record(store, T0, item("1", "Tartus port expands", "Dredging the harbour.", alert=True))
    record(store, T0 + 1, item("2", "Harbour news", "Tartus is mentioned only in the text."))
    record(store, T0 + 100 * DAY, item("3", "Tartus again", "Recent text stays."))
    store.mark_sent(sent, "999", at=T0 + 10)
    store.index_for_search()

    pruned = store.prune(T0 + 100 * DAY, KEEP)

    assert (pruned.items, pruned.alert_bodies, pruned.more) == (2, 1, False)
    rows = {r["key"]: r for r in store.items("wire")}
    old = rows["id:1"]
    assert old["summary"] is None and old["outcomes"] is None and old["pruned_at"] == T0 + 100 * DAY
    assert (old["title"], old["link"], old["verdict"]) == (
        "Tartus port expands",
        "https://n.example/1",
        "alerted",
    )
    assert rows["id:3"]["summary"] == "Recent text stays." and rows["id:3"]["pruned_at"] is None
    # never new again: the feed can still carry them without alerting twice
    assert store.unseen("wire", ["id:1", "id:2", "id:4"]) == {"id:4"}
    # found by headline (and by rule), no longer by the dropped text
    found, total = store.search("tartus")
    assert total == 2 and {r["title"] for r in found} == {"Tartus port expands", "Tartus again"}
    assert store.search("dredging") == ([], 0)
    assert [r["title"] for r in store.search("port", rule="bases")[0]] == ["Tartus port expands"]
    fts_consistent(store)
    # /why still knows what happened to it
    (why,) = store.why("https://n.example/1")
    assert why["pruned_at"] == T0 + 100 * DAY and why["outcomes"] is None
    assert [(a["status"], a["message_id"]) for a in why["alerts"]] == [("sent", "999")]
    assert store.alert(sent)["payload"] is None  # type: ignore[index]


def test_pending_and_failed_alerts_keep_what_they_would_send(store: Store) -> None:
    pending, failed = record(
        store, T0, item("1", "Tartus one", "a", alert=True), item("2", "Tartus two", "b", alert=True)
    )
    store.mark_failed(failed, "HTTP 403", at=T0 + 5)
    store.prune(T0 + 100 * DAY, KEEP)
    assert [a.id for a in store.pending_alerts(now=T0 + 100 * DAY)] == [pending]  # still sendable
    assert store.alert(failed)["payload"] is not None  # type: ignore[index]


def test_pruning_goes_in_batches_from_where_it_stopped(store: Store) -> None:
    for i in range(7):
        record(store, T0 + i, item(str(i), f"Story {i}", f"text {i}"))
    record(store, T0 + 95 * DAY, item("new", "Fresh", "fresh text"))
    now = T0 + 95 * DAY
    done = [store.prune(now, KEEP, batch=3) for _ in range(4)]
    assert [(d.items, d.more) for d in done] == [(3, True), (3, True), (1, False), (0, False)]
    pruned = [r["key"] for r in store.items("wire", limit=50) if r["pruned_at"] is not None]
    assert sorted(pruned) == sorted(f"id:{i}" for i in range(7))
    # the mark: the next pass does not look at what is already pruned
    assert store.db.execute("SELECT upto FROM prune_mark").fetchone()[0] == T0 + 6
    # items seen after the cut-off moves on are pruned by a later pass
    assert store.prune(T0 + 186 * DAY, KEEP).items == 1


def test_unindexed_items_are_pruned_and_indexed_by_headline(store: Store) -> None:
    record(store, T0, item("1", "Khmeimim runway", "Airbase lengthens its runway."))
    store.prune(T0 + 100 * DAY, KEEP)  # pruned before any search indexed it
    assert store.search("airbase") == ([], 0)
    assert store.search("khmeimim")[1] == 1
    fts_consistent(store)


def test_duplicate_keys_expire_after_the_window_only(store: Store) -> None:
    record(store, T0, item("1", "Tartus one", "a", alert=True))
    keys = store.db.execute("SELECT COUNT(*) FROM alert_keys").fetchone()[0]
    assert keys >= 1
    assert store.prune(T0 + DUPLICATE_WINDOW - 1, KEEP).alert_keys == 0
    # still suppressing a repeat within the window
    assert record(store, T0 + DUPLICATE_WINDOW - 2, item("1b", "Tartus one", "a", alert=True)) == []
    assert store.prune(T0 + 30 * DAY, KEEP).alert_keys == keys


def test_vacuum_gives_the_space_back(store: Store) -> None:
    big = "x " * 1000
    for i in range(300):
        record(store, T0 + i, item(str(i), f"Story {i}", big))
    store.index_for_search()
    assert store.prune_all(T0 + 100 * DAY, KEEP, batch=64).items == 300
    before, after = store.vacuum()
    assert after < before / 4  # the index's tombstones merged away, the free pages given back
    assert store.unseen("wire", ["id:1"]) == set()
    assert store.search("story")[1] == 300 and store.search("x")[1] == 0
    fts_consistent(store)


def test_an_older_database_gains_retention_and_prunes_what_it_held(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path))
    migrations.apply(db, stop_before="m008_retention")  # the schema before retention
    db.execute(
        "INSERT INTO feeds (id, name, url, status) VALUES (1, 'wire', 'https://example.org/rss', 'ok')"
    )
    db.execute(
        "INSERT INTO items (id, feed_id, key_hash, key, title, summary, outcomes, seen_at) "
        "VALUES (1, 1, 1, 'id:1', 'Tartus port', 'Old text', '[]', ?)",
        [T0],
    )
    db.conn.commit()
    db.conn.close()
    store = Store(path)
    assert store.index_for_search() == 1
    assert store.prune(T0 + 100 * DAY, KEEP).items == 1
    (row,) = store.items("wire")
    assert (row["title"], row["summary"], row["outcomes"]) == ("Tartus port", None, None)
    assert store.search("tartus")[1] == 1 and store.search("old")[1] == 0
    fts_consistent(store)


def test_a_vacuum_that_cannot_run_says_why(store: Store) -> None:
    store.db.execute("BEGIN")  # VACUUM cannot run inside a transaction (as when another writer holds one)
    with pytest.raises(VacuumError, match="could not shrink the database file: cannot VACUUM"):
        store.vacuum()
    store.db.execute("ROLLBACK")
    before, after = store.vacuum()
    assert after <= before
