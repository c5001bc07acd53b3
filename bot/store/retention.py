"""Retention: what the store forgets, and what it never forgets.

An item older than the retention period (``NEWSHOUND_RETENTION_DAYS``) is *pruned*: its stored text
(``summary``) and each rule's explanation (``outcomes``) are dropped, and ``pruned_at`` says when.
What stays is what keeps the promises: its key (so it is never taken for new and never alerts again),
headline, link, dates, verdict and reason, which rules matched it (``item_rules``: small) and its
alerts — so /why still says what happened to it, and /search (``rule:`` too) and /trend still find it by
its headline. Alongside, the message bodies of alerts that were sent (only pending and failed alerts
can be sent again) and the duplicate-suppression keys older than ``DUPLICATE_WINDOW`` (never consulted
again) are dropped.

Freed space is reused by new items; the file does not shrink unless vacuumed (``newshound prune
--vacuum``). The audit log, feed health and admin notices are kept.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from bot.store.connection import Connection
from bot.store.outbox import DUPLICATE_WINDOW

#: Items pruned per store call: 15–60 ms of the store thread (the bench: 16,000–65,000 items/s, slower in a
#: larger store), so polls and commands waiting for the store are not held up for long.
PRUNE_BATCH = 1000


class VacuumError(Exception):
    """The database file could not be rewritten (busy, or no disk space); ``str()`` says why."""


@dataclass(slots=True)
class Pruned:
    """What one ``Store.prune`` call dropped. ``more``: items older than the cut-off remain (call again)."""

    items: int = 0
    alert_bodies: int = 0
    alert_keys: int = 0
    more: bool = False

    def __iadd__(self, other: Pruned) -> Pruned:
        self.items += other.items
        self.alert_bodies += other.alert_bodies
        self.alert_keys += other.alert_keys
        self.more = other.more
        return self


class Retention(Connection):
    def prune(self, now: float, keep_seconds: float, batch: int = PRUNE_BATCH) -> Pruned:
        """Prune (see the module docstring) at most ``batch`` items seen before ``now - keep_seconds``,
        oldest first, in one transaction. Items are pruned in ``seen_at`` order from a mark kept in the
        database, so a call costs the same however many items were pruned before."""
        cutoff = now - keep_seconds
        out = Pruned()
        with self.db.atomic():
            upto = float(self.db.execute("SELECT upto FROM prune_mark WHERE id = 1").fetchone()[0])
            rows = self.db.execute(
                "SELECT id, seen_at FROM items WHERE seen_at >= ? AND seen_at < ? AND pruned_at IS NULL "
                "ORDER BY seen_at LIMIT ?",
                [upto, cutoff, batch + 1],
            ).fetchall()
            out.more = len(rows) > batch
            rows = rows[:batch]
            if rows:
                ids = json.dumps([int(r[0]) for r in rows])
                self.db.execute(
                    "UPDATE items SET summary = NULL, outcomes = NULL, pruned_at = ? "
                    "WHERE id IN (SELECT value FROM json_each(?))",
                    [now, ids],
                )
                out.items = len(rows)
                self.db.execute("UPDATE prune_mark SET upto = ? WHERE id = 1", [float(rows[-1][1])])
            if not out.more:  # the rest once per pass, with its last batch
                out.alert_bodies = self.db.execute(
                    "UPDATE alerts SET payload = NULL WHERE status = 'sent' AND created_at < ? "
                    "AND payload IS NOT NULL",
                    [cutoff],
                ).rowcount
                out.alert_keys = self.db.execute(
                    "DELETE FROM alert_keys WHERE at < ?", [now - DUPLICATE_WINDOW]
                ).rowcount
        return out

    def prune_all(self, now: float, keep_seconds: float, batch: int = PRUNE_BATCH) -> Pruned:
        """``prune`` until nothing older than the cut-off is left, a transaction per batch (for one-off
        callers; the running bot awaits each batch on its own, so other store work goes in between)."""
        total = Pruned()
        while True:
            total += self.prune(now, keep_seconds, batch)
            if not total.more:
                return total

    def vacuum(self) -> tuple[int, int]:
        """Compact the full-text index and rewrite the database file without its free pages; returns its
        size in bytes (before, after). Needs as much free disk as the file's size, and waits for other
        connections to finish writing; ``VacuumError`` says why it could not."""
        before = self._file_size()
        try:
            # Pruning leaves the full-text index's old entries as tombstones in its segments (nine tenths
            # of it, once everything was pruned): merge them away first.
            with self.db.atomic():
                self.db.execute("INSERT INTO items_fts (items_fts) VALUES ('optimize')")
            self.db.execute("VACUUM")
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError as exc:
            raise VacuumError(f"could not shrink the database file: {exc}") from None
        return before, self._file_size()

    def _file_size(self) -> int:
        page_size = int(self.db.execute("PRAGMA page_size").fetchone()[0])
        pages = int(self.db.execute("PRAGMA page_count").fetchone()[0])
        return page_size * pages
