"""The admin channel's outbox: each notice is queued once (by its key) and sent with retries."""

from __future__ import annotations

from typing import Any

from bot.store.connection import Connection
from bot.store.records import (
    Notice,
    NoticeDraft,
)


class Notices(Connection):
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
