"""The questions users ask through slash commands, answered by the store on real SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.model import Alert, AlertMatch, Entry, Hit, RuleOutcome, Target
from bot.store import NewItem, PlannedAlert, PollRecord, Store, fts_query

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
