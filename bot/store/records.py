"""What the store takes and gives back: plain records, and the pure helpers that shape them for SQLite
(an item key's 64-bit hash, a safe full-text query, rule outcomes as JSON)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.model import Alert, Entry, RuleOutcome, Target


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
    kind: str  # failing | paused | recovered | quiet | overflow | moved | gone | undeliverable | channel
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
class Retitled:
    """A seen item that came back with another headline, with the pipeline's decision: its new title is
    stored; ``outcomes`` is ``None`` when the rules were not consulted (older than ``max_age``), and
    ``alerts`` are for the rules the new headline made fire (never to a destination that had one for
    this item already)."""

    item_id: int
    entry: Entry
    old_title: str
    reason: str
    outcomes: list[RuleOutcome] | None = None
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
    retitled: list[Retitled] = field(default_factory=list)
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


def outcomes_json(outcomes: Sequence[RuleOutcome]) -> str:
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
