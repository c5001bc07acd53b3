"""Store benchmark: N seen items written through ``bot.store`` (the real API and schema), then added to
the full-text index (what a running bot's background job does, ``Store.index_for_search``), then the
"is it new?" question asked the way the poller asks it, then the file size.

Items are synthetic but shaped like real ones (a guid, a link, a 60-character title, a 400-character
summary); they belong to 1,000 feeds named ``store-0000`` …, so the database can afterwards serve as the
"1,000,000 items" backdrop of the poll benchmark.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.model import Entry
from bot.store import SEARCH_INDEX_BATCH, NewItem, PollRecord, Store

FEEDS = 1000
WORDS = (
    "russia",
    "syria",
    "tartus",
    "naval",
    "base",
    "port",
    "ship",
    "fleet",
    "minister",
    "talks",
    "agreement",
    "withdrawal",
    "troops",
    "air",
    "khmeimim",
    "moscow",
    "damascus",
    "government",
    "forces",
    "report",
    "officials",
    "said",
    "on",
    "monday",
    "the",
    "a",
    "of",
    "and",
    "in",
    "to",
)


@dataclass(slots=True)
class StoreResult:
    items: int
    insert_seconds: float
    index_seconds: float
    lookup_us_per_item: float
    lookup_batch: int
    file_bytes: int
    titles_us_per_item: float = 0.0

    @property
    def insert_rate(self) -> float:
        return self.items / self.insert_seconds

    @property
    def index_rate(self) -> float:
        return self.items / self.index_seconds


class _Texts:
    """A few thousand made-up titles and summaries, cycled (generating text must not dominate the run)."""

    def __init__(self, rng: random.Random, count: int = 4001) -> None:
        self.titles = [" ".join(rng.choice(WORDS) for _ in range(9)).capitalize() for _ in range(count)]
        self.summaries = [" ".join(rng.choice(WORDS) for _ in range(70)) for _ in range(count)]

    def entry(self, feed: int, n: int, when: datetime) -> Entry:
        i = (feed * 7919 + n) % len(self.titles)
        link = f"https://news{feed}.example/{n}"
        return Entry(
            key=f"id:{link}",
            title=self.titles[i],
            link=link,
            summary=self.summaries[i],
            published=when,
            guid=link,
        )


def run(path: Path, items: int = 1_000_000, batch: int = 1000, lookup_batch: int = 50) -> StoreResult:
    """Write ``items`` items (``batch`` per poll record, as one poll of a busy feed would), then time
    ``Store.unseen`` on batches of ``lookup_batch`` keys, half of them known."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    rng = random.Random(1)
    store = Store(path)
    now = time.time()
    store.sync_feeds([(f"store-{i:04d}", f"https://news{i}.example/rss") for i in range(FEEDS)], now)
    per_feed = max(1, items // FEEDS)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    texts = _Texts(rng)
    written = 0
    elapsed = 0.0
    for n in range(0, per_feed, batch):
        k = min(batch, per_feed - n)
        for f in range(FEEDS):
            entries = [texts.entry(f, n + j, base + timedelta(minutes=n + j)) for j in range(k)]
            rec = PollRecord(
                feed=f"store-{f:04d}",
                at=now,
                next_poll_at=now + 600,
                http_status=200,
                items=[NewItem(e, "no_match", "no rule matched") for e in entries],
            )
            t0 = time.perf_counter()
            store.record_poll(rec)
            elapsed += time.perf_counter() - t0
            written += k
    t0 = time.perf_counter()
    while store.index_for_search(SEARCH_INDEX_BATCH):
        pass
    indexing = time.perf_counter() - t0
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # "Is it new?": what the poller asks after each parse — one feed's keys at a time: on a feed's first
    # poll which keys are unseen; on later polls also the stored headline of the seen ones.
    lookups = []
    for ask in (store.unseen, store.seen_titles):
        asked = 0
        t0 = time.perf_counter()
        for c in range(2000):
            f = rng.randrange(FEEDS)
            known = [
                f"id:https://news{f}.example/{rng.randrange(per_feed)}" for _ in range(lookup_batch // 2)
            ]
            fresh = [f"id:https://news{f}.example/new-{c}-{j}" for j in range(lookup_batch - len(known))]
            answer = ask(f"store-{f:04d}", known + fresh)
            assert len(answer) >= len(fresh) if ask == store.unseen else len(answer) <= len(known)
            asked += lookup_batch
        lookups.append((time.perf_counter() - t0) / asked * 1e6)
    store.close()
    size = sum(Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists())
    return StoreResult(written, elapsed, indexing, lookups[0], lookup_batch, size, lookups[1])


@dataclass(slots=True)
class PruneResult:
    items: int
    seconds: float
    bytes_before: int
    bytes_after: int
    vacuum_seconds: float

    @property
    def rate(self) -> float:
        return self.items / self.seconds


def prune_all(path: Path) -> PruneResult:
    """Retention on a database ``run`` wrote: every item pruned (``Store.prune`` in its batches, as the
    running bot does once they are older than ``NEWSHOUND_RETENTION_DAYS``), then the file shrunk
    (``Store.vacuum``, as ``newshound prune --vacuum`` does)."""
    store = Store(path)
    later = time.time() + 365 * 86400.0
    t0 = time.perf_counter()
    pruned = store.prune_all(later, 90 * 86400.0).items
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    before, after = store.vacuum()
    vacuum_seconds = time.perf_counter() - t0
    store.close()
    return PruneResult(pruned, seconds, before, after, vacuum_seconds)
