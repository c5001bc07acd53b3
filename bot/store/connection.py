"""The connection every part of the store shares: opened in WAL mode, migrated, closed."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.store._sqlite import Database
from bot.store.migrations import migrations, unknown_applied


class StoreOpenError(Exception):
    """The database at ``path`` cannot be used, for ``reason`` (in words, one line): it is a directory,
    its folder cannot be created or written, it is not an SQLite database, it is damaged, or a newer
    Newshound migrated it (its schema may have changed in ways this version does not know)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"cannot open {path}: {reason}")
        self.path = str(path)
        self.reason = reason


class Connection:
    """One SQLite connection, synchronous: use from one thread only (see ``StoreThread``).

    Raises ``StoreOpenError`` when the database cannot be opened or migrated."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            self.db = _open(self.path)
        except sqlite3.Error as exc:
            raise StoreOpenError(self.path, _sqlite_reason(exc, self.path)) from exc
        except OSError as exc:
            raise StoreOpenError(self.path, os_reason(exc, self.path)) from exc

    def close(self) -> None:
        try:
            self.db.execute("PRAGMA optimize")
        finally:
            self.db.close()

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        cur = self.db.execute(sql, params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def _open(path: str) -> Database:
    if path != ":memory:":
        file = Path(path)
        if file.is_dir():
            raise StoreOpenError(path, "it is a directory, not a file")
        file.parent.mkdir(parents=True, exist_ok=True)
        # SQLite would create the file too, but say only "unable to open database file" when it cannot:
        # opening it here first names the cause (permission denied, read-only file system, …).
        os.close(os.open(file, os.O_RDWR | os.O_CREAT, 0o644))
    conn = sqlite3.connect(path, timeout=30)
    try:
        db = Database(conn)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=30000")
        newer = unknown_applied(db)
        if newer:
            raise StoreOpenError(
                path,
                f"the database was written by a newer Newshound ({', '.join(newer)}); upgrade Newshound or "
                "use another NEWSHOUND_DATABASE",
            )
        migrations.apply(db)
    except BaseException:
        conn.close()
        raise
    return db


def _sqlite_reason(exc: sqlite3.Error, path: str) -> str:
    reason = str(exc) or type(exc).__name__
    folder = Path(path).parent
    if isinstance(exc, sqlite3.OperationalError) and not os.access(folder, os.W_OK):
        # WAL mode keeps the -wal and -shm files beside the database: a writable file is not enough.
        reason += f" (SQLite needs to write in its folder {folder})"
    return reason


def os_reason(exc: OSError, path: str) -> str:
    """Why opening or creating ``path`` (or a folder on its way) failed, in words."""
    if isinstance(exc, FileExistsError):  # mkdir: a file where a folder on the path should be
        return f"{exc.filename} is a file, not a folder"
    what = (exc.strerror or str(exc)).lower()
    if exc.filename is not None and os.fsdecode(exc.filename) != path:
        return f"{exc.filename}: {what}"
    return what
