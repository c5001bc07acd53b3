"""The store: the only code that touches SQLite (through sqlite-utils).

It remembers feeds and their health, every item seen (with why it did or did not alert), the alert outbox
and the audit log. ``Store`` is synchronous and owned by one thread; the event loop reaches it through
``StoreThread.run`` so it never waits on a write.

Its parts, one concern each: ``records`` (what goes in and comes out), ``connection`` (opening and
migrating; ``StoreOpenError`` when the database cannot be used), ``feeds`` (feeds, health, polls),
``outbox`` (alerts), ``notices`` (admin notices), ``queries`` (what slash commands ask, full-text search),
``audit`` (audit log, pagers) and ``retention`` (what is forgotten, and when); ``Store`` is all of them on
one connection. ``lock`` keeps a second ``run`` or ``once`` off a database in use (``hold_database``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from bot.store.audit import PAGER_TTL, Audit
from bot.store.connection import StoreOpenError
from bot.store.feeds import Feeds
from bot.store.lock import DatabaseInUse, DatabaseLock, hold_database
from bot.store.outbox import DUPLICATE_WINDOW
from bot.store.queries import SEARCH_INDEX_BATCH, Queries
from bot.store.records import (
    FeedState,
    NewItem,
    Notice,
    NoticeDraft,
    PlannedAlert,
    PollOutcome,
    PollRecord,
    Retitled,
    fts_query,
    key_hash,
)
from bot.store.retention import PRUNE_BATCH, Pruned, Retention, VacuumError

__all__ = [
    "DUPLICATE_WINDOW",
    "PAGER_TTL",
    "PRUNE_BATCH",
    "SEARCH_INDEX_BATCH",
    "DatabaseInUse",
    "DatabaseLock",
    "FeedState",
    "NewItem",
    "Notice",
    "NoticeDraft",
    "PlannedAlert",
    "PollOutcome",
    "PollRecord",
    "Pruned",
    "Retitled",
    "Store",
    "StoreOpenError",
    "StoreThread",
    "VacuumError",
    "fts_query",
    "hold_database",
    "key_hash",
]

T = TypeVar("T")
P = ParamSpec("P")


class Store(Feeds, Queries, Audit, Retention):
    """Synchronous; use from one thread only (see ``StoreThread``)."""


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
