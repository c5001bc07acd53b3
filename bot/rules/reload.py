"""Hot reload of keywords.yaml: notice an edit, validate it, and hand over the new rules — or keep the old.

The app calls ``RulesWatcher.check()`` every second or so (in a worker thread: compiling a large rule set
takes a moment). ``check`` looks at the file's size, mtime and inode; when they change — and at least every
``recheck`` seconds anyway, for filesystems with coarse timestamps — it reads the file and compares a hash of
its content with the content in force. New content is validated and compiled:

* valid → ``Reload(status="reloaded")`` with the new ``Config`` and compiled rules; they are in force from
  now on;
* broken → ``Reload(status="rejected")`` with every problem, reported once per distinct broken content (an
  editor saving the same mistake twice is not news); the last good rules stay in force.

What "compiled" means is the caller's business (``compile`` is given to the watcher), so this module does
not depend on the matcher.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Literal, TypeVar

from bot.rules.load import Problem, RulesError, parse_rules
from bot.rules.model import Config

__all__ = ["Reload", "RulesWatcher"]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Reload(Generic[T]):
    #: reloaded: new rules in force; rejected: a broken edit, the last good rules stay; restored: the file
    #: is valid again after a rejected edit, and holds the rules already in force (nothing to reload).
    status: Literal["reloaded", "rejected", "restored"]
    config: Config | None = None  # the rules in force after this check
    compiled: T | None = None
    problems: list[Problem] = field(default_factory=list)
    digest: str = ""

    def message(self) -> str:
        """One paragraph for logs and the admin channel."""
        if self.status == "reloaded" and self.config is not None:
            c = self.config
            return f"{c.path}: rules reloaded — {len(c.feeds)} feed(s), {len(c.rules)} rule(s)"
        if self.status == "restored" and self.config is not None:
            return f"{self.config.path} is valid again: it holds the rules in force, which are unchanged"
        n = len(self.problems)
        head = (
            f"keywords.yaml edit rejected ({n} problem{'s' if n != 1 else ''}); "
            "the last good rules stay in force:"
        )
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


class RulesWatcher(Generic[T]):
    """Watches one keywords.yaml. Not thread-safe: call ``check`` from one place at a time."""

    def __init__(
        self,
        path: str | Path,
        compile: Callable[[Config], T],
        *,
        recheck: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.compile = compile
        self.recheck = recheck
        self.clock = clock
        self.config: Config | None = None
        self.compiled: T | None = None
        self.digest: str | None = None  # content in force
        self._rejected: str | None = None  # last broken content reported
        self._stat: tuple[int, int, int] | None = None
        self._read_at = float("-inf")

    def load(self) -> tuple[Config, T]:
        """The first load: raises ``RulesError`` when the file is broken (nothing to fall back on)."""
        text, digest = self._read()
        config = parse_rules(text, str(self.path))
        compiled = self.compile(config)
        self.config, self.compiled, self.digest = config, compiled, digest
        return config, compiled

    def check(self) -> Reload[T] | None:
        """Look at the file once; a ``Reload`` when something changed, else None."""
        signature = self._signature()
        now = self.clock()
        if signature == self._stat and now - self._read_at < self.recheck:
            return None
        self._stat = signature
        self._read_at = now
        try:
            text, digest = self._read()
        except RulesError as exc:
            return self._reject(exc.problems, "missing:" + "".join(map(str, exc.problems)))
        if digest == self.digest:
            if self._rejected is None:
                return None
            self._rejected = None  # a broken edit was reported: say that it is over
            return Reload("restored", self.config, self.compiled, digest=digest)
        if digest == self._rejected:
            return None
        try:
            config = parse_rules(text, str(self.path))
        except RulesError as exc:
            return self._reject(exc.problems, digest)
        compiled = self.compile(config)
        self.config, self.compiled, self.digest = config, compiled, digest
        self._rejected = None
        # The caller logs success once the new rules are actually in force.
        return Reload("reloaded", config, compiled, digest=digest)

    def _reject(self, problems: list[Problem], digest: str) -> Reload[T] | None:
        if digest == self._rejected:
            return None
        self._rejected = digest
        result: Reload[T] = Reload("rejected", self.config, self.compiled, problems, digest)
        log.error("%s", result.message())
        return result

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _read(self) -> tuple[str, str]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            raise RulesError([Problem(str(self.path), 1, 1, "file not found")]) from None
        except OSError as exc:
            raise RulesError([Problem(str(self.path), 1, 1, f"cannot read the file: {exc}")]) from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RulesError([Problem(str(self.path), 1, 1, f"not UTF-8 text: {exc}")]) from None
        return text, hashlib.sha256(data).hexdigest()
