"""The store: the only code that touches SQLite (through sqlite-utils).

It remembers feeds and their health, every item seen (with why it did or did not alert), the alert outbox
and the audit log. ``Store`` is synchronous and owned by one thread; the event loop reaches it through
``StoreThread.run`` so it never waits on a write.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from bot.identity import normalise_link
from bot.model import STORED_TEXT, Alert, Entry, OutboxAlert, RuleOutcome, Target
from bot.store._sqlite import Database
from bot.store.migrations import migrations

T = TypeVar("T")
P = ParamSpec("P")

#: How long a story's link/headline blocks a repeat alert to the same target.
DUPLICATE_WINDOW = 7 * 86400.0
#: How long the page buttons of a slash-command reply keep working.
PAGER_TTL = 7 * 86400.0
#: Items indexed for search per store call by the running bot's background job (``App.index_for_search``):
#: ~40 ms of the store thread each, so polls waiting for the store are not held up for long.
SEARCH_INDEX_BATCH = 1000


def key_hash(key: str) -> int:
    """A signed 64-bit hash of an item key; (feed, key_hash) is the "is it new?" index."""
    return int.from_bytes(
        hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big", signed=True
    )


@dataclass(slots=True)
class FeedState:
    id: int
    name: str
    url: str
    status: str
    title: str | None = None
    first_polled_at: float | None = None
    last_fetch_at: float | None = None
    last_ok_at: float | None = None
    last_new_item_at: float | None = None
    next_poll_at: float | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_error: str | None = None
    last_warning: str | None = None
    last_http_status: int | None = None
    consecutive_failures: int = 0
    failing_since: float | None = None
    items_total: int = 0
    removed_at: float | None = None
    added_at: float | None = None
    poll_interval: float | None = None
    ttl_seconds: int | None = None
    paused_at: float | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> FeedState:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in row.items() if k in known})


@dataclass(frozen=True, slots=True)
class NoticeDraft:
    """A notice for the admin channel. ``key`` makes it unique: queuing the same key twice does nothing,
    so a notice is never repeated (``failing:<feed>:<since>``, ``paused:…``, ``quiet:<feed>:<last item>``)."""

    key: str
    kind: str  # failing | paused | recovered | quiet
    text: str
    feed: str | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """A queued notice, as the delivery side sees it."""

    id: int
    key: str
    kind: str
    text: str
    feed: str | None
    created_at: float
    attempts: int = 0
    sent_at: float | None = None
    error: str | None = None


@dataclass(slots=True)
class PlannedAlert:
    target: Target
    alert: Alert
    dedup_keys: tuple[str, ...] = ()


@dataclass(slots=True)
class NewItem:
    """An unseen entry with the pipeline's decision about it. ``outcomes`` is ``None`` when the rules
    were not consulted (``backfill`` and ``too_old`` are decided before matching)."""

    entry: Entry
    verdict: str
    reason: str
    outcomes: list[RuleOutcome] | None = field(default_factory=list)
    alerts: list[PlannedAlert] = field(default_factory=list)


@dataclass(slots=True)
class PollRecord:
    """Everything one successful poll of one feed learned, written in one transaction."""

    feed: str
    at: float
    next_poll_at: float
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    title: str | None = None
    warning: str | None = None
    items: list[NewItem] = field(default_factory=list)
    poll_interval: float | None = None
    ttl_seconds: int | None = None
    notices: list[NoticeDraft] = field(default_factory=list)


@dataclass(slots=True)
class PollOutcome:
    alert_ids: list[int]
    duplicates: int = 0


def fts_query(text: str) -> str:
    """User text as a safe FTS5 query: every word must appear (each quoted, so no FTS syntax leaks in);
    a trailing ``*`` on a word keeps its prefix meaning."""
    terms = []
    for word in text.split():
        prefix = word.endswith("*")
        core = word.rstrip("*").replace('"', '""')
        if any(ch.isalnum() for ch in core):
            terms.append(f'"{core}"' + ("*" if prefix else ""))
    return " ".join(terms[:32])


def _outcomes_json(outcomes: Sequence[RuleOutcome]) -> str:
    return json.dumps(
        [
            {
                "rule": o.rule,
                "verdict": o.verdict,
                "reason": o.reason(),
                "missing": list(o.missing),
                "hits": [
                    {
                        "term": h.term,
                        "field": h.field,
                        "start": h.start,
                        "end": h.end,
                        "text": h.text,
                        "kind": h.kind,
                    }
                    for h in o.hits
                ],
            }
            for o in outcomes
            if o.verdict not in ("no_match", "other_feed", "disabled")
        ],
        ensure_ascii=False,
    )


class Store:
    """Synchronous; use from one thread only (see ``StoreThread``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30)
        self.db = Database(conn)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=30000")
        migrations.apply(self.db)

    def close(self) -> None:
        try:
            self.db.execute("PRAGMA optimize")
        finally:
            self.db.close()

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        cur = self.db.execute(sql, params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    # -- feeds -------------------------------------------------------------------------------------
    def sync_feeds(self, feeds: Iterable[tuple[str, str]], now: float, spread: float = 0.0) -> None:
        """Make the feeds table match the configured ``(name, url)`` pairs. A feed whose URL changed
        starts over (its first poll is silent again); a removed feed is kept for history.

        Feeds already due are spread over the next ``spread`` seconds (by a stable hash of their name),
        so that after a start-up they don't all fire together and keep distinct phases afterwards."""
        wanted = dict(feeds)
        with self.db.atomic():
            existing = {r["name"]: r for r in self._rows("SELECT * FROM feeds")}
            for name, url in wanted.items():
                row = existing.get(name)
                if row is None:
                    self.db["feeds"].insert(  # type: ignore[union-attr]
                        {"name": name, "url": url, "added_at": now, "status": "new", "next_poll_at": now}
                    )
                elif row["url"] != url:
                    self.db["feeds"].update(  # type: ignore[union-attr]
                        row["id"],
                        {
                            "url": url,
                            "removed_at": None,
                            "first_polled_at": None,
                            "etag": None,
                            "last_modified": None,
                            "body_hash": None,
                            "status": "new",
                            "consecutive_failures": 0,
                            "failing_since": None,
                            "last_error": None,
                            "next_poll_at": now,
                        },
                    )
                elif row["removed_at"] is not None:
                    self.db["feeds"].update(row["id"], {"removed_at": None, "next_poll_at": now})  # type: ignore[union-attr]
                    self._resume(name, now)  # adding a feed back brings it back from a pause
            for name, row in existing.items():
                if name not in wanted and row["removed_at"] is None:
                    self.db["feeds"].update(row["id"], {"removed_at": now})  # type: ignore[union-attr]
            if spread > 0:
                for name in wanted:
                    phase = (key_hash(name) % 10_000) / 10_000
                    self.db.execute(
                        "UPDATE feeds SET next_poll_at = ? "
                        "WHERE name = ? AND (next_poll_at IS NULL OR next_poll_at <= ?)",
                        [now + spread * phase, name, now],
                    )

    def feed(self, name: str) -> FeedState | None:
        rows = self._rows("SELECT * FROM feeds WHERE name = ?", [name])
        return FeedState.from_row(rows[0]) if rows else None

    def feeds(self, *, include_removed: bool = False) -> list[FeedState]:
        where = "" if include_removed else "WHERE removed_at IS NULL"
        return [FeedState.from_row(r) for r in self._rows(f"SELECT * FROM feeds {where} ORDER BY name")]  # noqa: S608

    def feeds_due(self, now: float) -> list[str]:
        """Names of active feeds whose next poll time has come, most overdue first."""
        rows = self.db.execute(
            "SELECT name FROM feeds WHERE removed_at IS NULL AND status != 'paused' "
            "AND (next_poll_at IS NULL OR next_poll_at <= ?) ORDER BY next_poll_at",
            [now],
        ).fetchall()
        return [r[0] for r in rows]

    def next_due_at(self, now: float) -> float | None:
        """When the next active feed that is not due yet at ``now`` will be, or None."""
        row = self.db.execute(
            "SELECT MIN(next_poll_at) FROM feeds WHERE next_poll_at > ? AND removed_at IS NULL "
            "AND status != 'paused'",
            [now],
        ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def set_next_poll(self, name: str, when: float) -> None:
        self.db.execute("UPDATE feeds SET next_poll_at = ? WHERE name = ?", [when, name])

    def unseen(self, feed: str, keys: Sequence[str]) -> set[str]:
        """The keys in ``keys`` never seen on ``feed``: the store returns only new entries."""
        state = self.feed(feed)
        if state is None:
            raise KeyError(f"unknown feed {feed!r}")
        by_hash = {key_hash(k): k for k in keys}
        seen: set[int] = set()
        hashes = list(by_hash)
        for i in range(0, len(hashes), 500):
            chunk = hashes[i : i + 500]
            marks = ",".join("?" * len(chunk))
            cur = self.db.execute(
                f"SELECT key_hash FROM items WHERE feed_id = ? AND key_hash IN ({marks})",  # noqa: S608
                [state.id, *chunk],
            )
            seen.update(r[0] for r in cur.fetchall())
        return {k for h, k in by_hash.items() if h not in seen}

    def record_not_modified(
        self,
        feed: str,
        at: float,
        next_poll_at: float,
        *,
        etag: str | None,
        last_modified: str | None,
        http_status: int | None = 304,
        poll_interval: float | None = None,
        notices: Sequence[NoticeDraft] = (),
    ) -> None:
        with self.db.atomic():
            self.db.execute(
                "UPDATE feeds SET last_fetch_at = ?, last_ok_at = ?, next_poll_at = ?, status = 'ok', "
                "last_error = NULL, consecutive_failures = 0, failing_since = NULL, last_http_status = ?, "
                "etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified), "
                "poll_interval = COALESCE(?, poll_interval), paused_at = NULL, "
                "first_polled_at = COALESCE(first_polled_at, ?) WHERE name = ?",
                [at, at, next_poll_at, http_status, etag, last_modified, poll_interval, at, feed],
            )
            for notice in notices:
                self.add_notice(notice, at)

    def record_failure(
        self,
        feed: str,
        at: float,
        next_poll_at: float,
        error: str,
        http_status: int | None = None,
        *,
        pause: bool = False,
        notices: Sequence[NoticeDraft] = (),
    ) -> FeedState:
        """Note a failed poll; the feed is ``degraded`` after one failure, ``failing`` after three, and
        ``paused`` (no longer polled) when ``pause`` — with the notices, in one transaction."""
        with self.db.atomic():
            self.db.execute(
                "UPDATE feeds SET last_fetch_at = ?, next_poll_at = ?, last_error = ?, "
                "last_http_status = ?, consecutive_failures = consecutive_failures + 1, "
                "failing_since = COALESCE(failing_since, ?), "
                "paused_at = CASE WHEN ? THEN COALESCE(paused_at, ?) ELSE paused_at END, "
                "status = CASE WHEN status = 'paused' OR ? THEN 'paused' "
                "WHEN consecutive_failures + 1 >= 3 THEN 'failing' ELSE 'degraded' END WHERE name = ?",
                [at, next_poll_at, error[:500], http_status, at, pause, at, pause, feed],
            )
            for notice in notices:
                self.add_notice(notice, at)
            state = self.feed(feed)
        assert state is not None
        return state

    def record_poll(self, rec: PollRecord) -> PollOutcome:
        """Write one poll's result in a single transaction: feed health and caching headers, every new
        item with its verdict and explanation, and the outbox rows for its alerts. A crash before the
        commit leaves nothing half-done: the next poll sees the same items as new again."""
        alert_ids: list[int] = []
        duplicates = 0
        with self.db.atomic():
            state = self.feed(rec.feed)
            if state is None:
                raise KeyError(f"unknown feed {rec.feed!r}")
            inserted = 0
            newest_seen = None
            for item in rec.items:
                e = item.entry
                verdict, reason = item.verdict, item.reason
                kept: list[PlannedAlert] = []
                for planned in item.alerts:
                    dup = self._duplicate_of(planned, rec.at)
                    if dup is not None:
                        duplicates += 1
                        reason = f"{reason}; same story already sent to {planned.target.key} as alert {dup}"
                    else:
                        kept.append(planned)
                if item.alerts and not kept:
                    verdict = "duplicate"
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO items (feed_id, key_hash, key, title, link, summary, author, "
                    "source, published, seen_at, verdict, reason, outcomes) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [
                        state.id,
                        key_hash(e.key),
                        e.key,
                        e.title,
                        e.link,
                        (e.summary or e.content)[:STORED_TEXT],
                        e.author,
                        e.source,
                        e.published.timestamp() if e.published else None,
                        rec.at,
                        verdict,
                        reason,
                        None if item.outcomes is None else _outcomes_json(item.outcomes),
                    ],
                )
                if cur.rowcount == 0:
                    continue  # seen meanwhile (same key twice in one feed body)
                item_id = cur.lastrowid
                inserted += 1
                for o in item.outcomes or ():
                    if o.verdict in ("matched", "excluded", "missing_all"):
                        self.db.execute(
                            "INSERT OR IGNORE INTO item_rules (item_id, rule, verdict, at) VALUES (?,?,?,?)",
                            [item_id, o.rule, o.verdict, rec.at],
                        )
                newest_seen = rec.at
                for planned in kept:
                    alert_ids.append(self._enqueue(item_id, planned, rec.at))
            self.db.execute(
                "UPDATE feeds SET title = COALESCE(?, title), last_fetch_at = ?, last_ok_at = ?, "
                "next_poll_at = ?, etag = ?, last_modified = ?, body_hash = COALESCE(?, body_hash), "
                "last_http_status = ?, last_warning = ?, status = 'ok', last_error = NULL, "
                "consecutive_failures = 0, failing_since = NULL, paused_at = NULL, "
                "first_polled_at = COALESCE(first_polled_at, ?), "
                "last_new_item_at = COALESCE(?, last_new_item_at), items_total = items_total + ?, "
                "poll_interval = COALESCE(?, poll_interval), ttl_seconds = ? "
                "WHERE id = ?",
                [
                    rec.title or None,
                    rec.at,
                    rec.at,
                    rec.next_poll_at,
                    rec.etag,
                    rec.last_modified,
                    rec.body_hash,
                    rec.http_status,
                    rec.warning,
                    rec.at,
                    newest_seen,
                    inserted,
                    rec.poll_interval,
                    rec.ttl_seconds,
                    state.id,
                ],
            )
            for notice in rec.notices:
                self.add_notice(notice, rec.at)
        return PollOutcome(alert_ids, duplicates)

    # -- feed health -------------------------------------------------------------------------------
    def item_times(self, feed: str, limit: int = 200) -> list[tuple[float | None, float]]:
        """``(published, seen_at)`` of the feed's ``limit`` most recently seen items, newest first: what
        adaptive polling and the "gone quiet" check judge a feed's rhythm by."""
        rows = self.db.execute(
            "SELECT items.published, items.seen_at FROM items JOIN feeds ON feeds.id = items.feed_id "
            "WHERE feeds.name = ? ORDER BY items.seen_at DESC, items.id DESC LIMIT ?",
            [feed, limit],
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def resume_feed(self, name: str, now: float) -> FeedState | None:
        """Bring a paused feed back (``/feed add`` of a paused feed, ``newshound feeds resume``): it is
        polled again at once, its failure count starts over and its last error stays visible until the
        next poll. Harmless on a feed that is not paused (it is just polled now). None if unknown."""
        with self.db.atomic():
            self._resume(name, now)
            return self.feed(name)

    def _resume(self, name: str, now: float) -> None:
        self.db.execute(
            "UPDATE feeds SET status = CASE WHEN status != 'paused' THEN status "
            "WHEN first_polled_at IS NULL THEN 'new' ELSE 'degraded' END, "
            "consecutive_failures = CASE WHEN status = 'paused' THEN 0 ELSE consecutive_failures END, "
            "failing_since = CASE WHEN status = 'paused' THEN NULL ELSE failing_since END, "
            "paused_at = NULL, next_poll_at = ? WHERE name = ?",
            [now, name],
        )

    # -- notices (admin channel outbox) --------------------------------------------------------------
    def add_notice(self, notice: NoticeDraft, at: float) -> bool:
        """Queue ``notice`` unless one with its key was ever queued. True when queued now."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO notices (key, feed, kind, text, created_at, attempts) "
            "VALUES (?,?,?,?,?,0)",
            [notice.key, notice.feed, notice.kind, notice.text, at],
        )
        return cur.rowcount > 0

    def pending_notices(self, now: float, limit: int = 50) -> list[Notice]:
        """Unsent notices that are due, oldest first."""
        rows = self._rows(
            "SELECT * FROM notices WHERE sent_at IS NULL "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id LIMIT ?",
            [now, limit],
        )
        return [self._notice(r) for r in rows]

    def notices(self, limit: int = 50) -> list[Notice]:
        """The most recent notices, sent or not, newest first."""
        return [
            self._notice(r) for r in self._rows("SELECT * FROM notices ORDER BY id DESC LIMIT ?", [limit])
        ]

    @staticmethod
    def _notice(r: dict[str, Any]) -> Notice:
        return Notice(
            id=r["id"],
            key=r["key"],
            kind=r["kind"],
            text=r["text"],
            feed=r["feed"],
            created_at=r["created_at"] or 0.0,
            attempts=r["attempts"] or 0,
            sent_at=r["sent_at"],
            error=r["error"],
        )

    def mark_notice_sent(self, notice_id: int, at: float) -> None:
        self.db.execute(
            "UPDATE notices SET sent_at = ?, attempts = attempts + 1, error = NULL WHERE id = ?",
            [at, notice_id],
        )

    def mark_notice_retry(self, notice_id: int, error: str, next_attempt_at: float) -> None:
        self.db.execute(
            "UPDATE notices SET attempts = attempts + 1, error = ?, next_attempt_at = ? WHERE id = ?",
            [error[:500], next_attempt_at, notice_id],
        )

    def _duplicate_of(self, planned: PlannedAlert, now: float) -> int | None:
        for key in planned.dedup_keys:
            row = self.db.execute(
                "SELECT alert_id FROM alert_keys WHERE target_key = ? AND key = ? AND at > ?",
                [planned.target.key, key, now - DUPLICATE_WINDOW],
            ).fetchone()
            if row:
                return int(row[0])
        return None

    def _enqueue(self, item_id: int | None, planned: PlannedAlert, now: float) -> int:
        a, t = planned.alert, planned.target
        cur = self.db.execute(
            "INSERT INTO alerts (item_id, target_key, channel, webhook, username, avatar, rules, severity, "
            "payload, status, created_at, attempts) VALUES (?,?,?,?,?,?,?,?,?,'pending',?,0)",
            [
                item_id,
                t.key,
                t.channel,
                t.webhook,
                t.username,
                t.avatar,
                ",".join(m.rule for m in a.matches),
                a.severity,
                json.dumps(a.to_json(), ensure_ascii=False),
                now,
            ],
        )
        alert_id = int(cur.lastrowid or 0)
        for key in planned.dedup_keys:
            self.db.execute(
                "INSERT OR REPLACE INTO alert_keys (target_key, key, alert_id, at) VALUES (?,?,?,?)",
                [t.key, key, alert_id, now],
            )
        return alert_id

    # -- outbox ------------------------------------------------------------------------------------
    def pending_alerts(self, now: float, limit: int = 500) -> list[OutboxAlert]:
        """Pending alerts in order. For each target, alerts after one that is waiting to be retried are
        held back too, so every target receives its alerts in order."""
        rows = self._rows(
            "SELECT * FROM alerts WHERE status = 'pending' ORDER BY id LIMIT ?",
            [limit],
        )
        out: list[OutboxAlert] = []
        blocked: set[str] = set()
        for r in rows:
            if r["target_key"] in blocked:
                continue
            if r["next_attempt_at"] is not None and r["next_attempt_at"] > now:
                blocked.add(r["target_key"])
                continue
            out.append(self._outbox(r))
        return out

    @staticmethod
    def _outbox(r: dict[str, Any]) -> OutboxAlert:
        return OutboxAlert(
            id=r["id"],
            target=Target(
                channel=r["channel"], webhook=r["webhook"], username=r["username"], avatar=r["avatar"]
            ),
            alert=Alert.from_json(json.loads(r["payload"])),
            attempts=r["attempts"] or 0,
            created_at=r["created_at"] or 0.0,
            sending_at=r.get("sending_at"),
        )

    def next_retry_at(self) -> float | None:
        row = self.db.execute(
            "SELECT MIN(next_attempt_at) FROM alerts WHERE status = 'pending' AND next_attempt_at IS NOT NULL"
        ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def mark_sent(self, alert_id: int, message_id: str | None, at: float) -> None:
        self.db.execute(
            "UPDATE alerts SET status = 'sent', message_id = ?, sent_at = ?, attempts = attempts + 1, "
            "error = NULL, sending_at = NULL WHERE id = ?",
            [message_id, at, alert_id],
        )

    def mark_sent_many(self, alert_ids: Sequence[int], message_id: str | None, at: float) -> None:
        """Several alerts delivered by one message (a burst digest), in one transaction."""
        with self.db.atomic():
            for alert_id in alert_ids:
                self.mark_sent(alert_id, message_id, at)

    def mark_sending_many(self, alert_ids: Sequence[int], at: float) -> None:
        with self.db.atomic():
            for alert_id in alert_ids:
                self.mark_sending(alert_id, at)

    def mark_failed_many(self, alert_ids: Sequence[int], error: str, at: float) -> None:
        with self.db.atomic():
            for alert_id in alert_ids:
                self.mark_failed(alert_id, error, at)

    def clear_sending(self, alert_ids: Sequence[int]) -> None:
        """Forget that a send was attempted (the alerts were left out of a digest: never sent)."""
        with self.db.atomic():
            for alert_id in alert_ids:
                self.db.execute("UPDATE alerts SET sending_at = NULL WHERE id = ?", [alert_id])

    def mark_sending(self, alert_id: int, at: float) -> None:
        """Note that a send is about to be attempted (kept from the first attempt until sent/failed)."""
        self.db.execute(
            "UPDATE alerts SET sending_at = COALESCE(sending_at, ?) WHERE id = ?",
            [at, alert_id],
        )

    def due_targets(self, now: float) -> list[str]:
        """Targets whose oldest pending alert may be sent now, oldest first."""
        rows = self.db.execute(
            "SELECT a.target_key FROM alerts a JOIN (SELECT target_key, MIN(id) AS head FROM alerts "
            "WHERE status = 'pending' GROUP BY target_key) h ON a.id = h.head "
            "WHERE a.next_attempt_at IS NULL OR a.next_attempt_at <= ? ORDER BY a.id",
            [now],
        ).fetchall()
        return [r[0] for r in rows]

    def pending_for(self, target_key: str, now: float, limit: int = 100) -> list[OutboxAlert]:
        """The pending alerts of one target in order, up to (not including) the first that must wait."""
        rows = self._rows(
            "SELECT * FROM alerts WHERE status = 'pending' AND target_key = ? ORDER BY id LIMIT ?",
            [target_key, limit],
        )
        out: list[OutboxAlert] = []
        for r in rows:
            if r["next_attempt_at"] is not None and r["next_attempt_at"] > now:
                break
            out.append(self._outbox(r))
        return out

    def sent_times(self, target_key: str, since: float) -> list[float]:
        """When alerts to ``target_key`` were sent at or after ``since``, oldest first (burst detection)."""
        rows = self.db.execute(
            "SELECT sent_at FROM alerts WHERE status = 'sent' AND target_key = ? AND sent_at >= ? "
            "ORDER BY sent_at",
            [target_key, since],
        ).fetchall()
        return [float(r[0]) for r in rows]

    def retry_now(self, target_keys: Sequence[str] | None = None) -> int:
        """Makes waiting retries due at once (after Discord is seen to be back); returns how many."""
        if target_keys is None:
            cur = self.db.execute(
                "UPDATE alerts SET next_attempt_at = NULL "
                "WHERE status = 'pending' AND next_attempt_at IS NOT NULL"
            )
            return cur.rowcount
        total = 0
        for key in target_keys:
            cur = self.db.execute(
                "UPDATE alerts SET next_attempt_at = NULL WHERE status = 'pending' AND target_key = ? "
                "AND next_attempt_at IS NOT NULL",
                [key],
            )
            total += cur.rowcount
        return total

    def mark_retry(self, alert_id: int, error: str, next_attempt_at: float) -> None:
        self.db.execute(
            "UPDATE alerts SET attempts = attempts + 1, error = ?, next_attempt_at = ? WHERE id = ?",
            [error[:500], next_attempt_at, alert_id],
        )

    def mark_failed(self, alert_id: int, error: str, at: float) -> None:
        self.db.execute(
            "UPDATE alerts SET status = 'failed', attempts = attempts + 1, error = ?, sent_at = NULL, "
            "next_attempt_at = ?, sending_at = NULL WHERE id = ?",
            [error[:500], at, alert_id],
        )

    def alert(self, alert_id: int) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM alerts WHERE id = ?", [alert_id])
        return rows[0] if rows else None

    def outbox_depth(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM alerts WHERE status = 'pending'").fetchone()[0])

    # -- items -------------------------------------------------------------------------------------
    def items(self, feed: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        if feed is None:
            return self._rows("SELECT * FROM items ORDER BY id DESC LIMIT ?", [limit])
        return self._rows(
            "SELECT items.* FROM items JOIN feeds ON feeds.id = items.feed_id WHERE feeds.name = ? "
            "ORDER BY items.id DESC LIMIT ?",
            [feed, limit],
        )

    # -- full-text search index ---------------------------------------------------------------------
    def index_for_search(self, limit: int | None = None) -> int:
        """Add the items seen since the last call to the full-text index (at most ``limit`` of them,
        oldest first); return how many. Polls only store items — tokenising them is done here, later:
        by every search before it looks (so a search always sees every stored item) and by the running
        bot's background job (so that look rarely has anything to do)."""
        with self.db.atomic():
            upto = int(self.db.execute("SELECT upto FROM search_index WHERE id = 1").fetchone()[0])
            last, count = self.db.execute(
                "SELECT MAX(id), COUNT(*) FROM (SELECT id FROM items WHERE id > ? ORDER BY id LIMIT ?)",
                [upto, -1 if limit is None else limit],
            ).fetchone()
            if not count:
                return 0
            self.db.execute(
                "INSERT INTO items_fts (rowid, title, summary) "
                "SELECT id, title, summary FROM items WHERE id > ? AND id <= ?",
                [upto, last],
            )
            self.db.execute("UPDATE search_index SET upto = ? WHERE id = 1", [last])
            return int(count)

    # -- questions users ask (slash commands) ------------------------------------------------------
    def search(
        self,
        query: str,
        *,
        rule: str | None = None,
        since: float | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """Items whose title or summary hold every word of ``query`` (accents and case ignored), newest
        first, optionally only those ``rule`` matched and seen after ``since``. Returns (page, total)."""
        match = fts_query(query)
        if not match:
            return [], 0
        self.index_for_search()
        where = ["items_fts MATCH ?"]
        params: list[Any] = [match]
        if rule:
            where.append(
                "items.id IN (SELECT item_id FROM item_rules WHERE rule = ? AND verdict = 'matched')"
            )
            params.append(rule)
        if since is not None:
            where.append("COALESCE(items.published, items.seen_at) >= ?")
            params.append(since)
        sql_from = (
            "FROM items JOIN items_fts ON items_fts.rowid = items.id JOIN feeds ON feeds.id = items.feed_id "
            f"WHERE {' AND '.join(where)}"
        )
        total = int(self.db.execute(f"SELECT COUNT(*) {sql_from}", params).fetchone()[0])
        rows = self._rows(
            "SELECT items.id, items.title, items.link, items.summary, items.published, items.seen_at, "
            f"items.verdict, items.source, feeds.name AS feed {sql_from} "
            "ORDER BY COALESCE(items.published, items.seen_at) DESC, items.id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return rows, total

    def latest_alerts(self, *, rule: str | None = None, count: int = 10) -> list[dict[str, Any]]:
        """The most recent alerts (any status), newest first, optionally for one rule."""
        where, params = "", []
        if rule:
            where = "WHERE (',' || alerts.rules || ',') LIKE ?"
            params.append(f"%,{rule},%")
        return self._rows(
            "SELECT alerts.id, alerts.status, alerts.target_key, alerts.rules, alerts.severity, "  # noqa: S608
            "alerts.created_at, alerts.sent_at, alerts.message_id, alerts.error, items.title, items.link, "
            "items.published, "
            f"feeds.name AS feed FROM alerts JOIN items ON items.id = alerts.item_id "
            f"JOIN feeds ON feeds.id = items.feed_id {where} ORDER BY alerts.id DESC LIMIT ?",
            [*params, count],
        )

    def why(self, ref: str, *, limit: int = 5) -> list[dict[str, Any]]:
        """Every stored item whose link, guid or key is ``ref`` (tracking parameters ignored), with its
        verdict, reason, per-rule outcomes (``None``: the rules were not consulted, see ``NewItem``) and
        alerts. Empty when the bot never saw it."""
        ref = ref.strip().strip("<>")
        keys = {f"id:{ref}", f"link:{normalise_link(ref)}", ref}
        rows = self._rows(
            "SELECT items.*, feeds.name AS feed, feeds.url AS feed_url FROM items "
            "JOIN feeds ON feeds.id = items.feed_id WHERE items.key IN (?,?,?) OR items.link = ? "
            "ORDER BY items.id DESC LIMIT ?",
            [*sorted(keys), ref, limit],
        )
        if not rows and ref.startswith(("http://", "https://")):
            norm = normalise_link(ref)
            candidates = self._rows(
                "SELECT items.*, feeds.name AS feed, feeds.url AS feed_url FROM items "
                "JOIN feeds ON feeds.id = items.feed_id WHERE items.link LIKE ? "
                "ORDER BY items.id DESC LIMIT 50",
                [ref.split("?", 1)[0] + "%"],
            )
            rows = [r for r in candidates if r["link"] and normalise_link(r["link"]) == norm][:limit]
        for r in rows:
            r["outcomes"] = None if r["outcomes"] is None else json.loads(r["outcomes"] or "[]")
            r["alerts"] = self._rows(
                "SELECT id, target_key, rules, status, created_at, sent_at, message_id, error, attempts "
                "FROM alerts WHERE item_id = ? ORDER BY id",
                [r["id"]],
            )
        return rows

    def trend(self, keyword: str, *, since: float, until: float) -> list[tuple[str, int]]:
        """Items per UTC day (``YYYY-MM-DD``) holding ``keyword``, every day in range present (0 if none)."""
        match = fts_query(keyword)
        counts: dict[str, int] = {}
        if match:
            self.index_for_search()
            for day, n in self.db.execute(
                "SELECT date(COALESCE(items.published, items.seen_at), 'unixepoch') AS day, COUNT(*) "
                "FROM items JOIN items_fts ON items_fts.rowid = items.id WHERE items_fts MATCH ? "
                "AND COALESCE(items.published, items.seen_at) BETWEEN ? AND ? GROUP BY day",
                [match, since, until],
            ).fetchall():
                counts[str(day)] = int(n)
        days: list[tuple[str, int]] = []
        day = datetime.fromtimestamp(since, UTC).date()
        last = datetime.fromtimestamp(until, UTC).date()
        while day <= last:
            days.append((day.isoformat(), counts.get(day.isoformat(), 0)))
            day += timedelta(days=1)
        return days

    def status(self, now: float) -> dict[str, Any]:
        """Numbers for /status: feeds by health, alerts sent today (UTC), outbox depth, last poll."""
        by_status = dict(
            self.db.execute(
                "SELECT status, COUNT(*) FROM feeds WHERE removed_at IS NULL GROUP BY status"
            ).fetchall()
        )
        midnight = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        sent_today = self.db.execute(
            "SELECT COUNT(*) FROM alerts WHERE status = 'sent' AND sent_at >= ?", [midnight.timestamp()]
        ).fetchone()[0]
        failed = self.db.execute("SELECT COUNT(*) FROM alerts WHERE status = 'failed'").fetchone()[0]
        last_poll = self.db.execute("SELECT MAX(last_fetch_at) FROM feeds").fetchone()[0]
        items = self.db.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        return {
            "feeds": {str(k): int(v) for k, v in by_status.items()},
            "alerts_today": int(sent_today),
            "alerts_failed": int(failed),
            "outbox": self.outbox_depth(),
            "last_poll": float(last_poll) if last_poll is not None else None,
            "items": int(items),
        }

    # -- audit -------------------------------------------------------------------------------------
    def audit(
        self,
        actor: str,
        action: str,
        target: str,
        *,
        at: float,
        before: Any = None,
        after: Any = None,
        detail: str = "",
    ) -> int:
        cur = self.db.execute(
            "INSERT INTO audit (at, actor, action, target, before, after, detail) VALUES (?,?,?,?,?,?,?)",
            [
                at,
                actor,
                action,
                target,
                None if before is None else json.dumps(before, ensure_ascii=False, default=str),
                None if after is None else json.dumps(after, ensure_ascii=False, default=str),
                detail,
            ],
        )
        return int(cur.lastrowid or 0)

    def recent_audit(self, count: int = 20) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM audit ORDER BY id DESC LIMIT ?", [count])

    # -- slash-command pagers ----------------------------------------------------------------------
    def save_pager(self, command: str, args: dict[str, Any], user_id: str, at: float) -> int:
        """Remembers what a paginated reply shows; returns the id its page buttons carry. Pagers older
        than ``PAGER_TTL`` are pruned."""
        with self.db.atomic():
            self.db.execute("DELETE FROM pagers WHERE created_at < ?", [at - PAGER_TTL])
            cur = self.db.execute(
                "INSERT INTO pagers (command, args, user_id, created_at) VALUES (?,?,?,?)",
                [command, json.dumps(args, ensure_ascii=False), user_id, at],
            )
        return int(cur.lastrowid or 0)

    def pager(self, pager_id: int, now: float) -> dict[str, Any] | None:
        """A saved pager (``command``, ``args`` as a dict, ``user_id``), or None if unknown or expired."""
        rows = self._rows(
            "SELECT * FROM pagers WHERE id = ? AND created_at >= ?", [pager_id, now - PAGER_TTL]
        )
        if not rows:
            return None
        row = rows[0]
        row["args"] = json.loads(row["args"])
        return row


class StoreThread:
    """Runs every ``Store`` call on one dedicated thread, so SQLite work never blocks the event loop
    and all writes go through one connection."""

    def __init__(self, path: str | Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newshound-store")
        self._store: Store | None = None

    def _get(self) -> Store:
        if self._store is None:
            self._store = Store(self.path)
        return self._store

    async def open(self) -> None:
        await self.run(lambda s: None)

    async def run(self, fn: Callable[[Store], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(self._get()))

    async def call(self, fn: Callable[Concatenate[Store, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``await store.call(Store.mark_sent, alert_id, message_id, at)`` — ``run`` with arguments."""
        return await self.run(lambda s: fn(s, *args, **kwargs))

    def run_sync(self, fn: Callable[[Store], T]) -> T:
        """For code without an event loop (CLI helpers): same thread, same connection."""
        return self._executor.submit(lambda: fn(self._get())).result()

    async def close(self) -> None:
        def _close() -> None:
            if self._store is not None:
                self._store.close()
                self._store = None

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, _close)
        self._executor.shutdown(wait=True)
