"""Parsing — and matching — off the event loop, on every core: a process pool of ``parse_feed`` workers.

Workers come from a ``forkserver`` that has already imported the parse stage, so no thread, socket or
SQLite handle of the bot is inherited and a worker starts in milliseconds (a fork of a warm process)
instead of re-importing. ``newshound once``/``run`` spawn the forkserver first thing
(``start_forkserver``), so that it imports the parse stage on the other core while the bot starts up;
workers do not import the bot's main module either (``_main_module_hidden``). Measured on the 200 real
feeds (2 cores), parsing them all through two workers takes about three quarters of the time it takes in
one process (``python -m bench``, parse section). Small bodies are *not* parsed inline: the round trip is
cheaper than the main process's time, which the event loop, fetching and the store need. The pool starts
on a thread (the first fork may wait for the forkserver, holding the executor's lock); workers run
``SCHED_BATCH`` so the event loop preempts them, and hand freed heap back after large documents once idle,
or before the next document when they have grown large (``_IdleTrim``). Workers end when the bot ends,
even by ``kill -9`` (``_die_with``); the forkserver and the resource tracker follow.

When the pool knows the rules (``set_rules``), a worker also runs the matcher over every entry it
parsed that can alert (``parse_and_match``; the others are kept brief, see ``Entry.brief``), so the
CPU-heavy match stage is spread over the cores too and never runs on the event loop. The rules travel
once per worker start (the pool restarts when they change), and each result says which rules version it
was matched with, so a result matched with rules that were replaced meanwhile is never used.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from multiprocessing import forkserver
from typing import Any, Protocol

from bot.model import Entry, ParsedFeed, RuleOutcome
from bot.parse import PRELOAD, parse_feed
from bot.rules.model import Config, Feed

__all__ = ["MatchedFeed", "ParsePool", "parse_in_pool", "start_forkserver"]

#: Outcomes per entry, in ``ParsedFeed.entries`` order (``None`` for an entry that cannot alert: it is
#: ``brief`` and not matched); ``None`` for the whole list when not matched in the worker.
MatchedFeed = tuple[ParsedFeed, list[list[RuleOutcome] | None] | None]


class MatcherLike(Protocol):
    def match(
        self, entry: Entry, feed: Feed | None = None, now: datetime | None = None
    ) -> list[RuleOutcome]: ...


#: Builds a matcher from rules, e.g. ``bot.match.Matcher`` (a class: it travels to workers by name).
MatcherFactory = Callable[[Config], MatcherLike]

# Worker-process state: the version of the rules this worker matches with, and its matcher.
_worker_version = -1
_worker_rules: tuple[Config, MatcherFactory] | None = None
_worker_matcher: MatcherLike | None = None


def _init_worker(version: int, rules: tuple[Config, MatcherFactory] | None, owner: int = 0) -> None:
    _die_with(owner)
    # Workers are throughput work, the bot's event loop is latency work: SCHED_BATCH keeps the workers'
    # share of the CPU but lets the main process preempt them when it wakes up (Linux).
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    _install_rules(version, rules)


_PR_SET_PDEATHSIG = 1


def _die_with(owner: int) -> None:
    """End this worker when the bot that owns the pool ends, however it ends (``kill -9`` included).

    A worker's parent is the forkserver, not the bot: the kernel kills the worker when the forkserver
    dies (``PR_SET_PDEATHSIG``, Linux), and a watchdog thread ends it when the bot (``owner``) dies —
    at once through a pidfd (Linux 5.3+), else by checking every second. Without the workers the
    forkserver and the resource tracker see their pipes close and exit by themselves; without this
    they would all live on, holding the dead bot's stdout and stderr open."""
    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the forkserver died before the signal was armed
        os._exit(1)
    if owner > 0:
        threading.Thread(target=_watch, args=(owner,), name="owner-watchdog", daemon=True).start()


def _watch(owner: int) -> None:
    try:
        fd = os.pidfd_open(owner)
    except ProcessLookupError:
        os._exit(1)
    except (OSError, AttributeError):
        while _alive(owner):
            time.sleep(1.0)
        os._exit(1)
    select.select([fd], [], [])  # readable once the owner has exited
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _install_rules(version: int, rules: tuple[Config, MatcherFactory] | None) -> None:
    global _worker_version, _worker_rules, _worker_matcher
    _worker_version, _worker_rules, _worker_matcher = version, rules, None
    if rules is not None:  # build it now, while the bot is still fetching (the first build warms caches)
        _worker_matcher = rules[1](rules[0])


def _release_memory() -> None:
    """Hand freed heap back to the OS (glibc keeps it otherwise: a worker that once parsed a 10 MB feed
    would stay that big)."""
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL("libc.so.6")
            _libc.malloc_trim.argtypes = [ctypes.c_size_t]
        except (OSError, AttributeError):
            _libc = False
    if _libc:
        _libc.malloc_trim(0)


_libc: Any = None
#: A document at least this large marks the worker's heap for a trim once the worker is idle.
TRIM_AFTER_BYTES = 256 * 1024
#: How long a worker must have been idle before its heap is trimmed.
TRIM_IDLE_SECONDS = 0.5
#: A worker larger than this when the next document comes after a large one trims first, idle or not.
TRIM_NOW_RSS = 40 * 1024 * 1024


def _rss() -> int:
    """This process's resident set, in bytes (0 where ``/proc`` cannot tell)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _IdleTrim:
    """Trims the worker's heap after large documents: once no document has been parsed for
    ``TRIM_IDLE_SECONDS``, or before the next document when the worker holds over ``TRIM_NOW_RSS``.
    Trimming after every large document cost ~10 % of the workers' CPU on the 200 real feeds (glibc gives
    the pages back and the next large document faults them in again); trimming only when idle let the
    2,000-feed pass of ``python -m bench`` peak ~25 MB higher. With this bound it peaks within a few MB
    of trimming every time."""

    def __init__(self) -> None:
        self._wanted = threading.Event()
        self._busy = False
        self._last = 0.0
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def working(self, size: int) -> Iterator[None]:
        """Around the parse of one document of ``size`` bytes."""
        self._busy = True
        if self._wanted.is_set() and _rss() > TRIM_NOW_RSS:
            _release_memory()  # the last large document's tree, text and result are all free by now
        try:
            yield
        finally:
            self._last = time.monotonic()
            self._busy = False
            if size >= TRIM_AFTER_BYTES:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="heap-trim", daemon=True)
                    self._thread.start()
                self._wanted.set()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            while True:  # until the worker has been idle long enough
                idle = time.monotonic() - self._last
                if not self._busy and idle >= TRIM_IDLE_SECONDS:
                    break
                time.sleep(max(TRIM_IDLE_SECONDS - idle, 0.05))
            self._wanted.clear()
            _release_memory()


_trim = _IdleTrim()


def _parse_and_match(
    body: bytes,
    url: str,
    headers: dict[str, str],
    feed: Feed | None,
    now: datetime,
    version: int,
    first_poll: bool = False,
) -> MatchedFeed:
    global _worker_matcher
    with _trim.working(len(body)):
        if _worker_rules is None or _worker_version != version:
            return parse_feed(body, url, headers), None
        config, factory = _worker_rules
        defaults = config.defaults

        def silent(published: datetime | None) -> bool:
            return defaults.silent(published, first_poll=first_poll, now=now) is not None

        # Entries that cannot alert (a first poll's backfill, anything older than max_age) are kept brief
        # and not matched: on a feed's first poll that is nearly all of them.
        parsed = parse_feed(body, url, headers, brief=silent)
        if parsed.error:
            return parsed, None
        if _worker_matcher is None:
            _worker_matcher = factory(config)
        matcher = _worker_matcher
        return parsed, [None if e.brief else matcher.match(e, feed, now) for e in parsed.entries]


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Workers started meanwhile do not import the bot's main module.

    multiprocessing has each new process import the parent's ``__main__`` by path or name (``newshound``
    → ``bot.cli`` → settings, rules, pydantic, …: ~20 MB per worker, for nothing: the workers run
    functions of ``bot.parse.pool``). It skips that when ``__main__`` has neither a file nor a spec."""
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved: dict[str, Any] = {n: main.__dict__[n] for n in ("__file__", "__spec__") if n in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def start_forkserver(preload: Sequence[str] = ()) -> None:
    """Spawn the workers' forkserver now and return at once: it imports the parse stage (and
    ``preload``) on another core while the bot is still starting up, so that the first parse does not
    wait for it. Does nothing when it is running already."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["bot.parse", *PRELOAD, *preload])
    forkserver.ensure_running()


class ParsePool:
    """A pool of worker processes (``forkserver``, so no thread or socket of the bot is inherited)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or max(1, os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None
        self._rules: tuple[Config, MatcherFactory] | None = None
        self._version = 0
        self._starting: asyncio.Lock | None = None

    def start(self) -> None:
        """Start the forkserver and every worker now. Blocking (~0.1 s the first time): not on the event
        loop. The executor is published only once its workers exist, so that no submit on the event
        loop waits on the executor's lock meanwhile."""
        while self._pool is None:
            version, rules = self._version, self._rules
            ctx = multiprocessing.get_context("forkserver")
            preload = ["bot.parse", *PRELOAD]
            if rules is not None:
                preload.append(rules[1].__module__)  # the matcher's module, imported once
            ctx.set_forkserver_preload(preload)
            pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=ctx,
                initializer=_init_worker,
                initargs=(version, rules, os.getpid()),
            )
            # A busy task each, so that no worker is idle during these submits and every one of them
            # spawns its process here, not in a later submit on the event loop.
            with _main_module_hidden():
                for _ in range(self.workers):
                    pool.submit(time.sleep, 0.05)
            if version != self._version:  # the rules changed while the workers started: again
                pool.shutdown(wait=False, cancel_futures=True)
                continue
            self._pool = pool

    async def warm_up(self) -> None:
        """Start the workers now, off the event loop (``start`` on a thread)."""
        await self._ready()

    async def _ready(self) -> ProcessPoolExecutor:
        """The executor, its workers started on a thread: the first start waits for the forkserver to
        import the parse stage, which would otherwise stall the event loop for ~0.1 s."""
        if self._pool is None:
            if self._starting is None:
                self._starting = asyncio.Lock()
            async with self._starting:
                if self._pool is None:
                    await asyncio.to_thread(self.start)
        assert self._pool is not None
        return self._pool

    def set_rules(self, config: Config, matcher: MatcherFactory) -> None:
        """Match with ``matcher(config)`` from now on. Workers restart (lazily) to pick the rules up."""
        rules = (dataclasses.replace(config, feeds=()), matcher)  # workers get each feed with its task
        if rules == self._rules:
            return
        self._rules = rules
        self._version += 1
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=False)
            self._pool = None

    async def parse(self, body: bytes, url: str, headers: Mapping[str, str]) -> ParsedFeed:
        parsed, _ = await self.parse_and_match(body, url, headers, None, None)
        return parsed

    async def parse_and_match(
        self,
        body: bytes,
        url: str,
        headers: Mapping[str, str],
        feed: Feed | None,
        now: datetime | None,
        first_poll: bool = False,
    ) -> MatchedFeed:
        """Parse in a worker; with ``now`` given and rules set, also match there every entry that can
        alert (``Defaults.silent`` with ``first_poll`` and ``now``); the others are kept brief."""
        loop = asyncio.get_running_loop()
        version = self._version if now is not None else -1
        when = now or datetime.min
        try:
            executor = await self._ready()
            return await loop.run_in_executor(
                executor, _parse_and_match, body, url, dict(headers), feed, when, version, first_poll
            )
        except BrokenProcessPool:
            # A worker died (out of memory, killed): start a fresh pool, report this feed's failure.
            self.close()
            return ParsedFeed(error="the parser process died while reading this feed", parser="none"), None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


async def parse_in_pool(pool: ParsePool, body: bytes, url: str, headers: Mapping[str, str]) -> ParsedFeed:
    """``parse_feed`` in one of ``pool``'s workers."""
    return await pool.parse(body, url, headers)
