"""Feeds, their health and their polls: which feeds exist and are due, which items are new, and each
poll's result written in one transaction (items, verdicts, alerts, notices, feed health)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from bot.identity import signature
from bot.model import STORED_TEXT
from bot.store.notices import Notices
from bot.store.outbox import Outbox
from bot.store.records import (
    FeedState,
    NoticeDraft,
    PlannedAlert,
    PollOutcome,
    PollRecord,
    Retitled,
    key_hash,
    outcomes_json,
)


class Feeds(Notices, Outbox):
    # -- feeds -------------------------------------------------------------------------------------
    def sync_feeds(
        self,
        feeds: Iterable[tuple[str, str]],
        now: float,
        spread: float = 0.0,
        longest_wait: Mapping[str, float] | None = None,
    ) -> None:
        """Make the feeds table match the configured ``(name, url)`` pairs. A feed whose URL changed
        starts over (its first poll is silent again); a removed feed is kept for history, and when it is
        added back its next poll is a first poll again (its items stay seen).

        ``longest_wait`` (name → seconds): a healthy feed polled next later than that after its last fetch
        — its interval was shortened — is polled that long after its last fetch instead (at once when that
        has passed), so a shorter interval is in force at once, not after the old wait.

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
                    self._resume(name, now)  # adding a feed back brings it back from a pause
                    # … and gives it a first poll again (read in full): what it published while it was
                    # gone is backfill, not a flood. The items it had are still seen.
                    self.db["feeds"].update(  # type: ignore[union-attr]
                        row["id"],
                        {
                            "removed_at": None,
                            "first_polled_at": None,
                            "etag": None,
                            "last_modified": None,
                            "body_hash": None,
                            "next_poll_at": now,
                        },
                    )
            for name, row in existing.items():
                if name not in wanted and row["removed_at"] is None:
                    self.db["feeds"].update(row["id"], {"removed_at": now})  # type: ignore[union-attr]
            self.db.conn.executemany(
                "UPDATE feeds SET next_poll_at = last_fetch_at + ? WHERE name = ? AND status = 'ok' "
                "AND removed_at IS NULL AND last_fetch_at IS NOT NULL AND next_poll_at > last_fetch_at + ?",
                [(wait, name, wait) for name, wait in (longest_wait or {}).items()],
            )
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
        seen = {k for k, _ in self._seen_rows(feed, keys, "")}
        return {k for k in keys if k not in seen}

    def seen_titles(self, feed: str, keys: Sequence[str]) -> dict[str, tuple[int, str]]:
        """For the keys in ``keys`` seen on ``feed``: the item's id and its stored headline (what a later
        poll compares to notice an item that came back with another headline)."""
        return {k: (int(row[0]), row[1] or "") for k, row in self._seen_rows(feed, keys, ", id, title")}

    def rekeyed(self, feed: str, candidates: Mapping[str, tuple[str, float]]) -> set[str]:
        """Of ``candidates`` (an unseen key → its entry's ``bot.identity.signature`` and publication time),
        the keys whose signature an item stored for ``feed`` has: that item under a new guid/id, not a new
        one. A signature holds the publication time, so only the feed's items published in the same second
        (give or take one) are read — through the feed's index, nothing stored for it — and signed here."""
        state = self.feed(feed)
        if state is None:
            raise KeyError(f"unknown feed {feed!r}")
        wanted: dict[str, list[str]] = {}
        for key, (sig, _) in candidates.items():
            wanted.setdefault(sig, []).append(key)
        seconds = sorted({int(when) + d for _, when in candidates.values() for d in (-1, 0, 1)})
        found: set[str] = set()
        for i in range(0, len(seconds), 500):
            chunk = seconds[i : i + 500]
            marks = ",".join("?" * len(chunk))
            cur = self.db.execute(
                "SELECT link, title, published FROM items WHERE feed_id = ? "  # noqa: S608
                f"AND published IS NOT NULL AND CAST(published AS INTEGER) IN ({marks})",
                [state.id, *chunk],
            )
            for link, title, published in cur:
                stored = signature(link, title, published)
                if stored is not None and stored in wanted:
                    found.update(wanted[stored])
        return found

    def _seen_rows(
        self, feed: str, keys: Sequence[str], columns: str
    ) -> Iterator[tuple[str, tuple[Any, ...]]]:
        """(key, the row's ``columns``) for each key in ``keys`` seen on ``feed``, 500 keys a query (the
        index on feed and key hash answers ``unseen`` without reading the table)."""
        state = self.feed(feed)
        if state is None:
            raise KeyError(f"unknown feed {feed!r}")
        by_hash = {key_hash(k): k for k in keys}
        hashes = list(by_hash)
        for i in range(0, len(hashes), 500):
            chunk = hashes[i : i + 500]
            marks = ",".join("?" * len(chunk))
            cur = self.db.execute(
                f"SELECT key_hash{columns} FROM items WHERE feed_id = ? AND key_hash IN ({marks})",  # noqa: S608
                [state.id, *chunk],
            )
            for row in cur.fetchall():
                yield by_hash[row[0]], tuple(row[1:])

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
                        None if item.outcomes is None else outcomes_json(item.outcomes),
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
            for changed in rec.retitled:
                alert_ids.extend(self._record_retitled(changed, rec.at))
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

    def _record_retitled(self, changed: Retitled, at: float) -> list[int]:
        """Store a seen item's new headline and the verdict on it; queue the alerts it earned, but none to
        a destination that already had one for this item, nor a story sent there within the week."""
        already = {
            r[0]
            for r in self.db.execute("SELECT target_key FROM alerts WHERE item_id = ?", [changed.item_id])
        }
        reason = changed.reason
        kept: list[PlannedAlert] = []
        for planned in changed.alerts:
            if planned.target.key in already or self._duplicate_of(planned, at) is not None:
                reason = f"{reason}; already sent to {planned.target.key}"
            else:
                kept.append(planned)
        if changed.outcomes is None:
            self.db.execute(
                "UPDATE items SET title = ?, reason = ? WHERE id = ?",
                [changed.entry.title, reason, changed.item_id],
            )
        else:
            self.db.execute(
                "UPDATE items SET title = ?, reason = ?, outcomes = ?, verdict = CASE WHEN ? THEN 'alerted' "
                "ELSE verdict END WHERE id = ?",
                [changed.entry.title, reason, outcomes_json(changed.outcomes), bool(kept), changed.item_id],
            )
            for o in changed.outcomes:
                if o.verdict in ("matched", "excluded", "missing_all"):
                    self.db.execute(
                        "INSERT OR REPLACE INTO item_rules (item_id, rule, verdict, at) VALUES (?,?,?,?)",
                        [changed.item_id, o.rule, o.verdict, at],
                    )
        return [self._enqueue(changed.item_id, planned, at) for planned in kept]

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
