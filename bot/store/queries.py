"""What users ask of the store (slash commands): stored items, full-text search (and its index, brought up
to date here rather than in the polls), the latest alerts, why an item did or did not alert, trends and
status."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.identity import TRACKING_PARAMS, normalise_link
from bot.store.outbox import Outbox
from bot.store.records import (
    fts_query,
)

#: Items indexed for search per store call by the running bot's background job (``App.index_for_search``):
#: ~40 ms of the store thread each, so polls waiting for the store are not held up for long.
SEARCH_INDEX_BATCH = 1000
#: ``/why``: how many of the newest links like the one asked about are compared when its query parameters
#: are not found as written (they may be spelt otherwise: ``a+b``, ``a%20b``).
WHY_SCAN = 5000


class Queries(Outbox):
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
            # Exactly that name (LIKE would take `_` and `%` in it for wildcards, and ignore case).
            where = "WHERE instr(',' || alerts.rules || ',', ?) > 0"
            params.append(f",{rule},")
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
        if not rows and ref.lower().startswith(("http://", "https://")):
            # The same link with other tracking parameters, another #fragment or another case in its host:
            # the stored links that start like it (up to its query, case aside) and hold each of its other
            # query parameters as written are normalised and compared, newest first, until enough. (The
            # parameters are compared in SQL, so a site whose links differ only in their query, like
            # WordPress's ?p=123, does not make the store normalise every link it has.) A parameter may be
            # spelt otherwise in the stored link (a+b, a%20b): then the newest WHY_SCAN links that start
            # like it are compared instead.
            norm = normalise_link(ref)
            head, _, query = ref.split("#", 1)[0].partition("?")
            params = [q for q in query.split("&") if q and not TRACKING_PARAMS.match(q.split("=", 1)[0])]
            rows = self._same_link(norm, head, params, limit)
            if not rows and params:
                rows = self._same_link(norm, head, [], limit, scan=WHY_SCAN)
        for r in rows:
            r["outcomes"] = None if r["outcomes"] is None else json.loads(r["outcomes"] or "[]")
            r["alerts"] = self._rows(
                "SELECT id, target_key, rules, status, created_at, sent_at, message_id, error, attempts "
                "FROM alerts WHERE item_id = ? ORDER BY id",
                [r["id"]],
            )
        return rows

    def _same_link(
        self, norm: str, head: str, params: list[str], limit: int, scan: int | None = None
    ) -> list[dict[str, Any]]:
        """Stored items whose link normalises to ``norm``, among those starting with ``head`` (case aside)
        and holding each of ``params``, newest first; at most ``limit``, looking at ``scan`` at most."""
        where = " AND instr(items.link, ?) > 0" * len(params)
        cur = self.db.execute(
            "SELECT items.*, feeds.name AS feed, feeds.url AS feed_url FROM items "  # noqa: S608
            "JOIN feeds ON feeds.id = items.feed_id WHERE lower(substr(items.link, 1, ?)) = lower(?)"
            f"{where} ORDER BY items.id DESC" + (" LIMIT ?" if scan else ""),
            [len(head), head, *params, *([scan] if scan else [])],
        )
        cols = [c[0] for c in cur.description]
        found: list[dict[str, Any]] = []
        for row in cur:
            r = dict(zip(cols, row, strict=True))
            if r["link"] and normalise_link(r["link"]) == norm:
                found.append(r)
                if len(found) == limit:
                    break
        return found

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
