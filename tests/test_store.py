"""The store on real SQLite files."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.model import Alert, AlertMatch, Entry, Target
from bot.store import NewItem, PlannedAlert, PollRecord, Retitled, Store, StoreOpenError
from bot.store.migrations import migrations

A = Target(channel="123456789012345678")
B = Target(channel="234567890123456789")


def alert(title: str, **extra: object) -> Alert:
    return Alert(
        feed="f", title=title, link="", summary="", matches=(AlertMatch("r", ("x",)),), extra=dict(extra)
    )


def entry(key: str, title: str = "t") -> Entry:
    return Entry(key=key, title=title, published=datetime(2026, 1, 1, tzinfo=UTC))


def poll(feed: str, items: list[NewItem], at: float = 1000.0) -> PollRecord:
    return PollRecord(feed=feed, at=at, next_poll_at=at + 60, body_hash="h", items=items)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "nh.db")
    s.sync_feeds([("f", "https://example.org/f"), ("g", "https://example.org/g")], now=0.0)
    return s


def test_migrations_are_named_and_applied_once(tmp_path: Path) -> None:
    Store(tmp_path / "nh.db").close()
    Store(tmp_path / "nh.db").close()
    db = sqlite3.connect(tmp_path / "nh.db")
    names = [r[0] for r in db.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
    assert names[0] == "m001_initial" and len(names) == len(set(names))  # each applied exactly once
    assert migrations.pending(Database(db)) == []
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_database_a_newer_newshound_migrated_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "nh.db"
    Store(path).close()
    db = sqlite3.connect(path)
    with db:
        # a later version's migrations, and one of another set (not ours to judge)
        for migration_set, name in [
            ("newshound", "m098_from_the_future"),
            ("newshound", "m099_further_still"),
            ("plugins", "p001_elsewhere"),
        ]:
            db.execute(
                "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES (?, ?, '2027')",
                (migration_set, name),
            )
        # …and undo m010, which is then pending
        db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm010_no_item_signatures'")
        db.execute("CREATE TABLE item_signatures (feed_id INTEGER, sig_hash INTEGER)")
    with pytest.raises(StoreOpenError) as refused:
        Store(path)
    assert refused.value.reason == (
        "the database was written by a newer Newshound (m098_from_the_future, m099_further_still); "
        "upgrade Newshound or use another NEWSHOUND_DATABASE"
    )
    # nothing was migrated: m010 is still pending
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'item_signatures'").fetchone() == (1,)
    # a database with only our own migrations (and another set's) opens
    with db:
        db.execute("DELETE FROM _sqlite_migrations WHERE name LIKE 'm09%'")
    Store(path).close()
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'item_signatures'").fetchone() == (0,)


def test_only_unseen_entries_are_new_across_a_restart(store: Store, tmp_path: Path) -> None:
    assert store.unseen("f", ["a", "b"]) == {"a", "b"}
    store.record_poll(poll("f", [NewItem(entry("a"), "no_match", "")]))
    assert store.unseen("f", ["a", "b"]) == {"b"}
    assert store.unseen("g", ["a"]) == {"a"}  # identity is per feed
    store.close()
    reopened = Store(tmp_path / "nh.db")
    assert reopened.unseen("f", ["a", "b"]) == {"b"}


def test_a_failed_poll_write_leaves_nothing_behind(store: Store) -> None:
    bad = PlannedAlert(A, alert("x", oops=object()))  # not JSON-serialisable: fails mid-transaction
    with pytest.raises(TypeError):
        store.record_poll(
            poll("f", [NewItem(entry("a"), "no_match", ""), NewItem(entry("b"), "alerted", "", alerts=[bad])])
        )
    assert store.unseen("f", ["a", "b"]) == {"a", "b"}
    assert store.outbox_depth() == 0
    assert store.feed("f").first_polled_at is None  # type: ignore[union-attr]


def test_outbox_holds_later_alerts_behind_one_waiting_to_retry(store: Store) -> None:
    items = [
        NewItem(entry(k), "alerted", "", alerts=[PlannedAlert(t, alert(k))])
        for k, t in (("1", A), ("2", A), ("3", B))
    ]
    ids = store.record_poll(poll("f", items)).alert_ids
    assert [a.id for a in store.pending_alerts(now=2000)] == ids
    store.mark_retry(ids[0], "HTTP 503", next_attempt_at=3000)
    # channel A waits (its second alert must not overtake the first); channel B goes on
    assert [a.id for a in store.pending_alerts(now=2000)] == [ids[2]]
    assert [a.id for a in store.pending_alerts(now=3000)] == ids
    store.mark_sent(ids[0], "m1", at=3000)
    store.mark_failed(ids[1], "403 Missing Access", at=3000)
    assert [a.id for a in store.pending_alerts(now=3000)] == [ids[2]]
    row = store.alert(ids[1])
    assert row is not None and row["status"] == "failed" and row["error"] == "403 Missing Access"
    assert store.alert(ids[0])["message_id"] == "m1"  # type: ignore[index]


def test_same_story_is_not_queued_twice_for_a_target(store: Store) -> None:
    first = NewItem(
        entry("a", "Story"), "alerted", "", alerts=[PlannedAlert(A, alert("Story"), ("link:https://x/1",))]
    )
    store.record_poll(poll("f", [first]))
    again = NewItem(
        entry("z", "Story"),
        "alerted",
        "matched",
        alerts=[
            PlannedAlert(A, alert("Story"), ("link:https://x/1",)),
            PlannedAlert(B, alert("Story"), ("link:https://x/1",)),
        ],
    )
    out = store.record_poll(poll("g", [again]))
    assert len(out.alert_ids) == 1 and out.duplicates == 1  # B still gets it, A does not again
    rows = store.items("g")
    assert (
        rows[0]["verdict"] == "alerted" and "already sent to channel:123456789012345678" in rows[0]["reason"]
    )


def test_url_change_makes_the_next_poll_a_first_poll_again(store: Store) -> None:
    store.record_poll(poll("f", []))
    assert store.feed("f").first_polled_at == 1000.0  # type: ignore[union-attr]
    store.sync_feeds([("f", "https://example.org/moved"), ("g", "https://example.org/g")], now=2000.0)
    assert store.feed("f").first_polled_at is None  # type: ignore[union-attr]
    store.sync_feeds([("g", "https://example.org/g")], now=3000.0)
    assert [f.name for f in store.feeds()] == ["g"]
    assert store.feeds_due(now=4000.0) == ["g"]


def test_failures_degrade_then_fail_and_success_heals(store: Store) -> None:
    states = [
        store.record_failure("f", at=float(i), next_poll_at=float(i + 1), error="HTTP 500").status
        for i in range(3)
    ]
    assert states == ["degraded", "degraded", "failing"]
    assert store.feed("f").failing_since == 0.0  # type: ignore[union-attr]
    store.record_poll(poll("f", []))
    healed = store.feed("f")
    assert (
        healed is not None
        and healed.status == "ok"
        and healed.last_error is None
        and healed.consecutive_failures == 0
    )


def test_audit_log_keeps_before_and_after(store: Store) -> None:
    store.audit("admin#1", "rule.add", "bases", at=5.0, before=None, after={"keywords": ["Tartus"]})
    [row] = store.recent_audit(1)
    assert row["actor"] == "admin#1" and row["after"] == '{"keywords": ["Tartus"]}' and row["before"] is None


def test_page_button_ids_are_never_handed_out_again_even_after_a_quiet_week(store: Store) -> None:
    t0 = 1_700_000_000.0
    old = [store.save_pager("search", {"query": f"q{i}"}, "111", t0 + i) for i in range(2)]
    later = t0 + 8 * 86400  # nobody turned a page for over a week: every pager has expired
    new = store.save_pager("latest", {"count": 50}, "222", later)
    assert new > max(old)
    assert [store.pager(i, later) for i in old] == [None, None]  # old buttons say "expired"
    got = store.pager(new, later)
    assert got is not None and got["command"] == "latest" and got["user_id"] == "222"


def test_next_due_at_is_the_earliest_schedule_of_an_active_feed_not_due_yet(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    try:
        store.sync_feeds(
            [("a", "https://a.example/"), ("b", "https://b.example/"), ("c", "https://c.example/")], 0.0
        )
        store.set_next_poll("a", 100.0)
        store.set_next_poll("b", 50.0)
        store.set_next_poll("c", 10.0)
        assert store.next_due_at(20.0) == 50.0  # c is due already
        store.record_failure("b", 20.0, 50.0, "down", pause=True)
        assert store.next_due_at(20.0) == 100.0  # a paused feed is never due
        assert store.next_due_at(200.0) is None
    finally:
        store.close()


def test_an_item_stored_by_an_earlier_version_is_known_under_a_new_id(tmp_path: Path) -> None:
    from bot.identity import signature

    path = tmp_path / "nh.db"
    old = Database(sqlite3.connect(path))
    migrations.apply(old, stop_before="m009_item_signatures")  # a database of the previous version
    old["feeds"].insert({"id": 1, "name": "f", "url": "https://example.org/f", "status": "ok"})  # type: ignore[union-attr]
    old["items"].insert(  # type: ignore[union-attr]
        {
            "feed_id": 1,
            "key_hash": 1,
            "key": "id:a",
            "title": "Ships  in Tartus",
            "link": "https://e.org/1",
            "published": 1.8e9,
            "seen_at": 1.8e9,
            "verdict": "no_match",
        }
    )
    old.conn.commit()
    old.close()
    store = Store(path)
    try:
        same = signature("https://e.org/1?utm_source=rss", "Ships in Tartus", 1.8e9)
        other = signature("https://e.org/1", "Ships in Tartus", 1.8e9 + 86400)
        assert same is not None and other is not None
        assert store.rekeyed("f", {"id:b": (same, 1.8e9), "id:c": (other, 1.8e9 + 86400)}) == {"id:b"}
    finally:
        store.close()


def test_an_item_is_known_by_its_new_headline_after_a_retitle(store: Store) -> None:
    from bot.identity import signature

    first = Entry(key="id:a", title="Blast at port", link="https://e.org/1", published=entry("a").published)
    store.record_poll(poll("f", [NewItem(first, "no_match", "")]))
    item_id = store.seen_titles("f", ["id:a"])["id:a"][0]
    later = Entry(key="id:a", title="Blast at Tartus", link=first.link, published=first.published)
    retitled = Retitled(item_id, later, first.title, "new headline")
    store.record_poll(PollRecord(feed="f", at=2000.0, next_poll_at=2060.0, retitled=[retitled]))
    when = first.published.timestamp() if first.published else 0.0
    sigs = {"id:b": (signature(first.link, "Blast at Tartus", when) or "", when), "id:c": ("nothing", when)}
    assert store.rekeyed("f", sigs) == {"id:b"}


def test_an_item_under_a_new_id_is_told_apart_by_its_date_and_feed(store: Store) -> None:
    from datetime import timedelta

    from bot.identity import signature

    day = entry("a").published
    assert day is not None
    same_story = [  # the same headline and link on two days (a daily briefing), and on another feed
        Entry(
            key=f"id:{k}",
            title="Daily briefing",
            link="https://e.org/brief",
            published=day + timedelta(days=d),
        )
        for k, d in (("mon", 0), ("tue", 1))
    ]
    store.record_poll(poll("f", [NewItem(e, "no_match", "") for e in same_story]))
    other_feed = Entry(
        key="id:x", title="Elsewhere", link="https://e.org/x", published=day + timedelta(days=2)
    )
    store.record_poll(poll("g", [NewItem(other_feed, "no_match", "")]))

    def candidate(e: Entry) -> tuple[str, float]:
        assert e.published is not None
        return signature(e.link, e.title, e.published.timestamp()) or "", e.published.timestamp()

    wed = Entry(
        key="id:wed", title="Daily briefing", link="https://e.org/brief", published=day + timedelta(days=2)
    )
    found = store.rekeyed(
        "f",
        {
            "id:tue-again": candidate(same_story[1]),  # Tuesday's under a new id
            "id:wed": candidate(wed),  # Wednesday's: new
            "id:x-here": candidate(other_feed),  # feed g's item is not feed f's
        },
    )
    assert found == {"id:tue-again"}
    tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "item_signatures" not in tables  # nothing is kept for it
