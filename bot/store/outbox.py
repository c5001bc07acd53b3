"""The alert outbox: alerts queued with the poll that found them (unless the same story went to the same
target within ``DUPLICATE_WINDOW``), then marked sending, sent, retried or failed by the delivery worker."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.model import Alert, OutboxAlert, Target
from bot.store.connection import Connection
from bot.store.records import (
    PlannedAlert,
)

#: How long a story's link/headline blocks a repeat alert to the same target.
DUPLICATE_WINDOW = 7 * 86400.0


class Outbox(Connection):
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

    def next_retry_at(self, after: float | None = None, skip: Sequence[str] = ()) -> float | None:
        """The earliest retry time of a pending alert (later than ``after``, of a target not in ``skip``:
        the delivery worker leaves out what it has started already)."""
        sql = (
            "SELECT MIN(next_attempt_at) FROM alerts WHERE status = 'pending' AND next_attempt_at IS NOT NULL"
        )
        args: list[object] = []
        if after is not None:
            sql += " AND next_attempt_at > ?"
            args.append(after)
        if skip:
            sql += f" AND target_key NOT IN ({', '.join('?' * len(skip))})"
            args.extend(skip)
        row = self.db.execute(sql, args).fetchone()
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

    def sent_since(self, target_key: str, since: float) -> tuple[list[float], float | None]:
        """For burst detection: when messages went to ``target_key`` at or after ``since``, oldest first —
        a digest (several alerts sent as one message: one message id) is one message —, and when the
        latest digest among them went out, or None. Read from the outbox, so a restart forgets neither."""
        rows = self.db.execute(
            "SELECT sent_at, message_id FROM alerts "
            "WHERE status = 'sent' AND target_key = ? AND sent_at >= ? ORDER BY sent_at",
            [target_key, since],
        ).fetchall()
        times: list[float] = []
        seen: set[str] = set()
        digest = None
        for at, message_id in rows:
            if message_id is None:  # delivered, but no id known: one message each
                times.append(float(at))
            elif message_id in seen:
                digest = float(at)
            else:
                seen.add(message_id)
                times.append(float(at))
        return times, digest

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
