"""Who changed what (the audit log), and what a paginated slash-command reply shows (its pager)."""

from __future__ import annotations

import json
from typing import Any

from bot.store.connection import Connection

#: How long the page buttons of a slash-command reply keep working.
PAGER_TTL = 7 * 86400.0


class Audit(Connection):
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
            # The newest row always stays: SQLite gives a new row the highest id + 1, so an emptied
            # table would hand out ids old buttons still carry, and they would turn someone else's pages.
            self.db.execute(
                "DELETE FROM pagers WHERE created_at < ? AND id < (SELECT MAX(id) FROM pagers)",
                [at - PAGER_TTL],
            )
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
