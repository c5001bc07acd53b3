"""The schema, as named sqlite-utils migrations. Append new ones; never edit an applied one."""

from __future__ import annotations

from bot.store._sqlite import Database, Migrations

migrations = Migrations("newshound")


def unknown_applied(db: Database) -> list[str]:
    """The migrations ``db`` records as applied that this version does not have, in the order they were
    applied: the database was written by a newer Newshound, whose schema this version must not use."""
    empty = Database(memory=True)
    try:  # every migration is pending on an empty database: the names this version knows
        known = {m.name for m in migrations.pending(empty)}
    finally:
        empty.close()
    return [m.name for m in migrations.applied(db) if m.name not in known]


@migrations()
def m001_initial(db: Database) -> None:
    db["feeds"].create(  # type: ignore[union-attr]
        {
            "id": int,
            "name": str,
            "url": str,
            "title": str,
            "added_at": float,
            "removed_at": float,
            "first_polled_at": float,
            "last_fetch_at": float,
            "last_ok_at": float,
            "last_new_item_at": float,
            "next_poll_at": float,
            "etag": str,
            "last_modified": str,
            "body_hash": str,
            "status": str,  # new | ok | degraded | failing | paused
            "last_error": str,
            "last_warning": str,
            "last_http_status": int,
            "consecutive_failures": int,
            "failing_since": float,
            "items_total": int,
        },
        pk="id",
        not_null={"name", "url", "status"},
        defaults={"status": "new", "consecutive_failures": 0, "items_total": 0},
    )
    db["feeds"].create_index(["name"], unique=True)  # type: ignore[union-attr]

    db["items"].create(  # type: ignore[union-attr]
        {
            "id": int,
            "feed_id": int,
            "key_hash": int,  # 64-bit hash of key: the "is it new?" index stays small
            "key": str,
            "title": str,
            "link": str,
            "summary": str,
            "author": str,
            "source": str,
            "published": float,
            "seen_at": float,
            "verdict": str,  # alerted | no_match | excluded | backfill | too_old | duplicate
            "reason": str,
            "outcomes": str,  # JSON: every rule's verdict and hits
        },
        pk="id",
        foreign_keys=[("feed_id", "feeds", "id")],
    )
    db["items"].create_index(["feed_id", "key_hash"], unique=True)  # type: ignore[union-attr]
    db["items"].create_index(["seen_at"])  # type: ignore[union-attr]

    db["alerts"].create(  # type: ignore[union-attr]
        {
            "id": int,
            "item_id": int,
            "target_key": str,  # loggable: channel:<id> | webhook:<id>
            "channel": str,
            "webhook": str,  # a secret; never logged
            "username": str,
            "avatar": str,
            "rules": str,  # comma-separated rule names
            "severity": str,
            "payload": str,  # JSON of bot.model.Alert
            "status": str,  # pending | sent | failed
            "created_at": float,
            "attempts": int,
            "next_attempt_at": float,
            "sent_at": float,
            "message_id": str,
            "error": str,
        },
        pk="id",
        foreign_keys=[("item_id", "items", "id")],
        not_null={"target_key", "status"},
        defaults={"attempts": 0},
    )
    db["alerts"].create_index(["status", "target_key", "id"])  # type: ignore[union-attr]
    db["alerts"].create_index(["item_id"])  # type: ignore[union-attr]

    # Cross-feed duplicate suppression: the same story (same link, or same headline) goes to a
    # target at most once.
    db["alert_keys"].create(  # type: ignore[union-attr]
        {"target_key": str, "key": str, "alert_id": int, "at": float},
        pk=("target_key", "key"),
    )

    db["audit"].create(  # type: ignore[union-attr]
        {
            "id": int,
            "at": float,
            "actor": str,
            "action": str,
            "target": str,
            "before": str,
            "after": str,
            "detail": str,
        },
        pk="id",
    )
    db["audit"].create_index(["at"])  # type: ignore[union-attr]


@migrations()
def m002_search_and_rule_index(db: Database) -> None:
    """Full-text search over items (FTS5, accents and case folded) and an index of which rules matched,
    were excluded or missed an `all` term on which item — for /search, /latest, /why and /trend."""
    db["items"].enable_fts(  # type: ignore[union-attr]
        ["title", "summary"],
        fts_version="FTS5",
        create_triggers=True,
        tokenize="unicode61 remove_diacritics 2",
    )
    db["item_rules"].create(  # type: ignore[union-attr]
        {"item_id": int, "rule": str, "verdict": str, "at": float},
        pk=("item_id", "rule"),
        foreign_keys=[("item_id", "items", "id")],
    )
    db["item_rules"].create_index(["rule", "at"])  # type: ignore[union-attr]


@migrations()
def m003_feed_health_and_notices(db: Database) -> None:
    """Feed health (issue 6): the interval in force, the feed's <ttl>, when it was paused; the notices
    outbox for the admin channel; an index for a feed's recent items (rhythm and adaptive polling)."""
    feeds = db["feeds"]
    feeds.add_column("poll_interval", float)  # type: ignore[union-attr]
    feeds.add_column("ttl_seconds", int)  # type: ignore[union-attr]
    feeds.add_column("paused_at", float)  # type: ignore[union-attr]
    db["notices"].create(  # type: ignore[union-attr]
        {
            "id": int,
            "key": str,  # unique: the same notice is never queued twice (failing:<feed>:<since>, …)
            "feed": str,
            "kind": str,  # failing | paused | recovered | quiet
            "text": str,
            "created_at": float,
            "sent_at": float,
            "attempts": int,
            "next_attempt_at": float,
            "error": str,
        },
        pk="id",
        not_null={"key", "kind", "text"},
        defaults={"attempts": 0},
    )
    db["notices"].create_index(["key"], unique=True)  # type: ignore[union-attr]
    db["notices"].create_index(["sent_at", "id"])  # type: ignore[union-attr]
    db["items"].create_index(["feed_id", "seen_at"])  # type: ignore[union-attr]


@migrations()
def m004_alert_sending(db: Database) -> None:
    """``alerts.sending_at``: when a send was first attempted and not yet recorded as sent or failed — the
    delivery worker sets it *before* calling Discord, so after a crash it knows the alert may be there."""
    db["alerts"].add_column("sending_at", float)  # type: ignore[union-attr]
    db["alerts"].create_index(["status", "target_key", "sent_at"])  # type: ignore[union-attr]


@migrations()
def m005_pagers(db: Database) -> None:
    """What a paginated slash-command reply shows (command + arguments), so its page buttons keep working
    after a restart. Rows older than a week are pruned."""
    db["pagers"].create(  # type: ignore[union-attr]
        {"id": int, "command": str, "args": str, "user_id": str, "created_at": float},
        pk="id",
        not_null={"command", "args"},
    )
    db["pagers"].create_index(["created_at"])  # type: ignore[union-attr]


@migrations()
def m006_schedule_index(db: Database) -> None:
    """Which feeds are due, and when the next one is: asked up to 20 times a second while running."""
    db["feeds"].create_index(["next_poll_at"])  # type: ignore[union-attr]


@migrations()
def m007_search_index_off_the_poll(db: Database) -> None:
    """Full-text indexing leaves the poll's transaction (a first poll of 200 feeds spent a third of its
    store time tokenising items nobody had searched yet). ``search_index.upto`` is the last ``items.id``
    in ``items_fts``; ``Store.index_for_search`` indexes the rows after it — before every search, and in
    the background while the bot runs. Deleting or editing the text of an item that is already indexed
    still updates the index: the triggers that remain are limited to rows at or below the mark."""
    upto = db.execute("SELECT COALESCE(MAX(id), 0) FROM items").fetchone()[0]
    for trigger in ("items_ai", "items_ad", "items_au"):
        db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    db["search_index"].create({"id": int, "upto": int}, pk="id", not_null={"upto"})  # type: ignore[union-attr]
    db["search_index"].insert({"id": 1, "upto": upto})  # type: ignore[union-attr]
    db.execute(
        "CREATE TRIGGER items_fts_delete AFTER DELETE ON items "
        "WHEN old.id <= (SELECT upto FROM search_index WHERE id = 1) BEGIN "
        "INSERT INTO items_fts (items_fts, rowid, title, summary) "
        "VALUES ('delete', old.id, old.title, old.summary); END"
    )
    db.execute(
        "CREATE TRIGGER items_fts_update AFTER UPDATE OF title, summary ON items "
        "WHEN old.id <= (SELECT upto FROM search_index WHERE id = 1) BEGIN "
        "INSERT INTO items_fts (items_fts, rowid, title, summary) "
        "VALUES ('delete', old.id, old.title, old.summary); "
        "INSERT INTO items_fts (rowid, title, summary) VALUES (new.id, new.title, new.summary); END"
    )


@migrations()
def m008_retention(db: Database) -> None:
    """Retention (``Store.prune``): ``items.pruned_at`` says when an item's text and per-rule details
    were dropped (its key, headline, link, verdict and alerts stay, so it never alerts again and /why
    still answers). ``prune_mark.upto`` is the ``seen_at`` up to which items are pruned, so each pass
    starts where the last ended instead of walking every item already pruned."""
    db["items"].add_column("pruned_at", float)  # type: ignore[union-attr]
    db["prune_mark"].create({"id": int, "upto": float}, pk="id", not_null={"upto"})  # type: ignore[union-attr]
    db["prune_mark"].insert({"id": 1, "upto": 0.0})  # type: ignore[union-attr]


@migrations()
def m009_item_signatures(db: Database) -> None:
    """``item_signatures``: per feed, the 64-bit hash of each stored item's signature (normalised link,
    headline, publication time: ``bot.identity.signature``), so that an entry with an unseen guid that is
    an item the feed already had under another guid is recognised (``Store.rekeyed``) with one indexed
    lookup per entry, like ``unseen``. Written for a feed the first time it is needed (``feeds.signed``),
    so neither this migration nor a first poll computes any."""
    db.execute(
        "CREATE TABLE item_signatures (feed_id INTEGER NOT NULL, sig_hash INTEGER NOT NULL, "
        "PRIMARY KEY (feed_id, sig_hash)) WITHOUT ROWID"
    )
    db["feeds"].add_column("signed", int, not_null_default=0)  # type: ignore[union-attr]


@migrations()
def m010_no_item_signatures(db: Database) -> None:
    """``item_signatures`` and ``feeds.signed`` go: ``Store.rekeyed`` reads the few items of a feed
    published in the same second as an unseen entry and signs them there, so nothing needs writing per
    item (signing a feed's every item the first time it was asked cost a second per 200,000 items)."""
    db.execute("DROP TABLE IF EXISTS item_signatures")
    if "signed" in db["feeds"].columns_dict:
        db.execute("ALTER TABLE feeds DROP COLUMN signed")
