"""One ``newshound run`` or ``once`` per database at a time.

Two would both poll every feed and both send what the shared outbox holds, so every alert could go out
twice. ``hold_database`` takes an exclusive ``flock`` on ``<database>.lock``, beside the database, and
keeps it while the returned lock is open: for the command's life. The kernel lets go of it when the
process ends however it ends (a crash or ``kill -9`` included), so it is never stale. The file is left in
place (removing it could let two processes lock two different files); it holds the pid of the process that
last held the lock, to name it.

Commands that only read or maintain the database (``feeds``, ``feeds resume``, ``prune``) do not take the
lock: they run beside the bot, as SQLite's own locking lets them.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from bot.store.connection import StoreOpenError, os_reason


class DatabaseInUse(Exception):
    """Another process holds the database's lock (``pid``, when it could be read)."""

    def __init__(self, path: str | Path, pid: int | None) -> None:
        who = f"another newshound (pid {pid})" if pid else "another newshound"
        super().__init__(f"{who} is already using {path} — stop it first")
        self.path = str(path)
        self.pid = pid


class DatabaseLock:
    """Held until ``release`` (or the end of a ``with`` block, or of the process)."""

    def __init__(self, fd: int, path: Path) -> None:
        self._fd: int | None = fd
        self.path = path

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file lets go of the lock
            self._fd = None

    def __enter__(self) -> DatabaseLock:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def lock_path(database: str | Path) -> Path:
    """``newshound.db`` → ``newshound.db.lock``, beside the file itself: a database reached through a
    symbolic link (or another relative path) has the one lock."""
    return Path(f"{os.path.realpath(database)}.lock")


def hold_database(database: str | Path) -> DatabaseLock:
    """Lock ``database`` for this process, or raise ``DatabaseInUse`` at once if another process has it
    (``StoreOpenError`` if the lock file cannot be made: the database could not be either)."""
    if Path(database).is_dir():
        raise StoreOpenError(database, "it is a directory, not a file")
    path = lock_path(database)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by child processes
    except OSError as exc:
        raise StoreOpenError(database, os_reason(exc, str(path))) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _pid_in(fd)
        os.close(fd)
        raise DatabaseInUse(database, pid) from None
    except OSError as exc:
        os.close(fd)
        raise StoreOpenError(database, f"cannot lock {path}: {os_reason(exc, str(path))}") from exc
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return DatabaseLock(fd, path)


def _pid_in(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
