"""Admin notices: the store's notices outbox → ``Sink.notify_admin``, oldest first.

The poller queues a notice in the same transaction as the poll that called for it (a feed failing for a
day, paused after a week, working again, gone quiet), under a unique key, so a notice is never queued
twice. This sender marks a notice sent only after ``notify_admin`` returned; when it raises, the notice
stays queued and is retried later, with backoff. So a notice is neither lost nor repeated —
short of a crash between sending and marking, when it is sent once more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot.cadence import doubling
from bot.deliver import Sink
from bot.store import Store, StoreThread

log = logging.getLogger(__name__)


class NoticeSender:
    def __init__(
        self,
        store: StoreThread,
        sink: Sink,
        *,
        clock: Callable[[], float] = time.time,
        backoff_base: float = 30.0,
        backoff_max: float = 3600.0,
    ) -> None:
        self.store = store
        self.sink = sink
        self.clock = clock
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._lock = asyncio.Lock()
        #: Notices this sender has delivered, by whichever caller (the app's job or the delivery worker).
        self.sent = 0

    async def drain(self) -> int:
        """Send every notice that is due; returns how many were sent. Concurrent calls take turns."""
        async with self._lock:
            now = self.clock()
            pending = await self.store.run(lambda s: s.pending_notices(now))
            sent = 0
            for notice in pending:
                try:
                    await self.sink.notify_admin(notice.text)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the admin channel is unreachable: keep the notice, try later
                    delay = doubling(notice.attempts, self.backoff_base, self.backoff_max)
                    error = f"{type(exc).__name__}: {exc}"
                    await self.store.call(Store.mark_notice_retry, notice.id, error, self.clock() + delay)
                    log.warning(
                        "admin notice %d not delivered (%s); retrying in %.0f s", notice.id, error, delay
                    )
                    break
                await self.store.call(Store.mark_notice_sent, notice.id, self.clock())
                sent += 1
                self.sent += 1
            return sent
