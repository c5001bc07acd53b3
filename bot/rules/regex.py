"""User regexes (``regex:`` in a rule): RE2 syntax, run on folded text, with Unicode-aware words.

RE2 runs in time linear in the text, so no pattern can hang the bot. Its ``\\b``, ``\\B``, ``\\w`` and
``\\W`` know only ASCII, which silently breaks patterns on Cyrillic or Arabic. Newshound therefore rewrites
a pattern before compiling it:

* Letters outside escapes are folded like the text (``Tartūs`` → ``tartus``; the match is
  case-insensitive anyway), because patterns run on folded text — accents dropped, lower case — exactly
  what keywords see. Classes that need capitals or accents, such as ``\\p{Lu}`` or ``[é]``, therefore
  never match; write the plain letter.
* ``\\w`` becomes ``[\\pL\\pN\\pM_]`` and ``\\W`` its complement (outside ``[...]``; inside a class
  ``\\w`` is expanded too, ``\\W`` stays ASCII).
* ``\\b`` and ``\\B`` become empty named groups; after RE2 finds a match, each group's position is checked
  against Newshound's own word boundaries (``bot.rules.text.is_boundary``: letters, digits and marks
  of every script are word characters; every character of a no-space script such as Han is a word of
  its own). A match failing a check is dropped and the search goes on one character later. (RE2 picks a
  single match per starting point, so in a pattern like ``\\bfoo\\b|foobar`` an alternative that RE2 did
  not pick is not tried.) Searching again inside a long failed match costs its length every time —
  ``\\w+grad\\b`` on a 20,000-letter word would take seconds — so once failed matches add up to
  ``RETRY_BUDGET`` times the text, a failed match is skipped whole: the search stays linear in the text.

``\\d`` stays ASCII: folding turns every decimal digit into an ASCII one.

Every pattern, and the set of all of them (``regex_set``), may use up to ``MAX_MEM`` bytes of RE2 memory
(RE2's default is 8 MB, which a dozen ``\\w{1,20}`` patterns exceed: each ``\\w`` is every letter, digit
and mark of Unicode). A set too large for that is split into smaller sets; a pattern that cannot be
compiled even in a set of its own is reported by the loader, like any invalid pattern.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import re2

from bot.rules.text import fold, is_boundary_between

__all__ = ["MAX_MEM", "CompiledRegex", "RegexError", "RegexSet", "compile_regex", "regex_set", "translate"]

_GROUP = "nh_b"
_WORD = r"\pL\pN\pM_"
#: RE2 memory budget of one pattern and of one set of patterns (RE2's default is 8 MB).
MAX_MEM = 64 << 20
#: How many times over (plus ``_RETRY_SLACK`` bytes) failed ``\\b`` matches may be searched again from their
#: second character before they are skipped whole.
RETRY_BUDGET = 4
_RETRY_SLACK = 4096


class RegexError(ValueError):
    pass


def _options(max_mem: int = MAX_MEM) -> Any:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    options.max_mem = max_mem
    return options


def translate(pattern: str) -> tuple[str, tuple[tuple[str, bool], ...]]:
    """(RE2 pattern, boundary checks): each check is (group name, True for ``\\b`` / False for ``\\B``)."""
    pattern = unicodedata.normalize("NFC", pattern)  # letters are folded one by one, like composed text
    out: list[str] = []
    checks: list[tuple[str, bool]] = []
    i, n = 0, len(pattern)
    in_class = False
    class_start = -1
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt in "pPx" and i + 2 < n and pattern[i + 2] == "{":
                close = pattern.find("}", i + 2)
                end = n if close < 0 else close + 1
                out.append(pattern[i:end])
                i = end
                continue
            if nxt == "Q":
                close = pattern.find("\\E", i + 2)
                end = n if close < 0 else close
                out.append("\\Q" + fold(pattern[i + 2 : end]))
                if close >= 0:
                    out.append("\\E")
                    end += 2
                i = end
                continue
            if nxt in "pP" and i + 2 < n:  # \pL, \PN: one-letter class names
                out.append(pattern[i : i + 3])
                i += 3
                continue
            if nxt in "bB" and not in_class:
                name = f"{_GROUP}{len(checks)}"
                checks.append((name, nxt == "b"))
                out.append(f"(?P<{name}>)")
            elif nxt == "w":
                out.append(_WORD if in_class else f"[{_WORD}]")
            elif nxt == "W" and not in_class:
                out.append(f"[^{_WORD}]")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if ch == "]" and i > class_start:
                in_class = False
                out.append(ch)
            elif ch == "[" and pattern.startswith("[:", i):
                close = pattern.find(":]", i + 2)
                end = n if close < 0 else close + 2
                out.append(pattern[i:end])
                i = end
                continue
            else:
                out.append(fold(ch) or ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            # A ']' right after '[' or '[^' is a literal member of the class.
            class_start = i
            continue
        if ch == "(" and pattern.startswith("(?", i):
            # Flags and group syntax pass through untouched: (?i) (?P<name> (?:
            close = pattern.find(">", i) if pattern.startswith(("(?P<", "(?<"), i) else -1
            if close >= 0:
                out.append(pattern[i : close + 1])
                i = close + 1
                continue
            out.append("(?")
            i += 2
            continue
        out.append(fold(ch) if ch.isalpha() or not ch.isascii() else ch)
        i += 1
    return "".join(out), tuple(checks)


@dataclass(frozen=True, slots=True)
class CompiledRegex:
    pattern: str  # as written
    translated: str
    checks: tuple[tuple[int, bool], ...]  # (group number, True for \\b / False for \\B)
    regex: Any  # re2._Regexp

    def finditer(self, folded: str, data: bytes | None = None) -> Iterator[tuple[int, int]]:
        """(start, end) of each match in ``folded`` that passes its word-boundary checks. ``data``:
        ``folded`` in UTF-8, when the caller has it already (RE2 searches bytes: searching the ``str``
        would encode the whole text again for every match)."""
        if data is None:
            data = folded.encode("utf-8")
        n = len(data)
        char_offset = _identity if n == len(folded) else _CharOffsets(data)
        search, checks = self.regex.search, self.checks
        budget = RETRY_BUDGET * n + _RETRY_SLACK
        pos = 0
        while pos <= n:
            m = search(data, pos)
            if m is None:
                return
            start, end = m.span()
            # A check in a branch the match did not take (its group did not take part: -1) holds.
            if all((at := m.start(group)) < 0 or _boundary_at(data, at) == want for group, want in checks):
                if end > start:
                    yield char_offset(start), char_offset(end)
                pos = end if end > start else _next_char(data, end)
                continue
            budget -= end - pos + 1
            pos = _next_char(data, start) if budget >= 0 or end == start else end


def _identity(offset: int) -> int:
    return offset


class _CharOffsets:
    """Byte offsets in UTF-8 ``data`` to character offsets; linear over calls with growing offsets."""

    __slots__ = ("byte", "char", "data")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.byte = self.char = 0

    def __call__(self, offset: int) -> int:
        if offset < self.byte:
            self.byte = self.char = 0
        self.char += len(self.data[self.byte : offset].decode("utf-8"))
        self.byte = offset
        return self.char


def _char_length(lead: int) -> int:
    """Bytes of the UTF-8 sequence starting with the byte ``lead``."""
    return 1 if lead < 0x80 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4


def _next_char(data: bytes, offset: int) -> int:
    """The byte offset of the character after the one at ``offset`` (past the end: ``len(data) + 1``)."""
    return offset + _char_length(data[offset]) if offset < len(data) else len(data) + 1


def _boundary_at(data: bytes, offset: int) -> bool:
    """``bot.rules.text.is_boundary`` at a byte offset of UTF-8 text."""
    start = offset - 1
    while start > 0 and 0x80 <= data[start] < 0xC0:  # continuation bytes
        start -= 1
    left = data[max(start, 0) : offset].decode("utf-8")
    right = data[offset : offset + _char_length(data[offset])].decode("utf-8") if offset < len(data) else ""
    return is_boundary_between(left, right)


def compile_regex(pattern: str) -> CompiledRegex:
    """``pattern`` translated and compiled. Raises ``RegexError`` with RE2's message."""
    if any(name.startswith(_GROUP) for name in _group_names(pattern)):
        raise RegexError(f"group names starting with {_GROUP!r} are reserved")
    translated, checks = translate(pattern)
    try:
        rx = re2.compile(translated, _options())
    except re2.error as exc:
        # Say what is wrong in terms of the pattern as written, when RE2 rejects that too.
        raise RegexError(_original_error(pattern) or _message(exc)) from None
    if rx.fullmatch("") is not None:
        raise RegexError("it matches empty text, so it would match every item")
    groups = tuple((int(rx.groupindex[name]), want) for name, want in checks)
    return CompiledRegex(pattern, translated, groups, rx)


def _original_error(pattern: str) -> str | None:
    try:
        re2.compile(pattern, _options())
    except re2.error as exc:
        return _message(exc)
    return None


def _message(exc: Exception) -> str:
    msg = exc.args[0] if exc.args else str(exc)
    return msg.decode("utf-8", "replace") if isinstance(msg, bytes) else str(msg)


def _group_names(pattern: str) -> list[str]:
    names = []
    for opener in ("(?P<", "(?<"):
        start = pattern.find(opener)
        while start >= 0:
            close = pattern.find(">", start)
            if close < 0:
                break
            names.append(pattern[start + len(opener) : close])
            start = pattern.find(opener, close)
    return names


@dataclass(frozen=True, slots=True)
class RegexSet:
    """Every pattern of the rules as few RE2 sets as fit in ``MAX_MEM`` each (usually one): which
    patterns can match a text, found in one pass per set."""

    sets: tuple[tuple[Any, tuple[int, ...]], ...]  # (re2.Set, index in the pattern list of each member)
    failed: tuple[int, ...]  # patterns that cannot be compiled even in a set of their own (never match)
    max_mem: int  # each set's RE2 memory budget

    def match(self, text: str | bytes) -> list[int]:
        """Indices of the patterns that can match ``text`` (their ``\\b`` checks not yet applied)."""
        if len(self.sets) == 1 and not self.failed:  # the usual case: one set of every pattern, in order
            return self.sets[0][0].Match(text) or []
        data = text.encode("utf-8") if isinstance(text, str) else text
        return [members[j] for s, members in self.sets for j in s.Match(data) or []]


def regex_set(compiled: Sequence[CompiledRegex]) -> RegexSet | None:
    """One RE2 set of every pattern — or, when that is too large for ``MAX_MEM``, several smaller ones.
    Patterns that cannot be compiled even alone are listed in ``failed`` (the loader reports them)."""
    if not compiled:
        return None
    return _compile_sets(tuple(c.translated for c in compiled), MAX_MEM)


@lru_cache(maxsize=2)
def _compile_sets(patterns: tuple[str, ...], max_mem: int) -> RegexSet:
    """The loader and the matcher build the same sets from the same rules: the second build is free."""
    sets: list[tuple[Any, tuple[int, ...]]] = []
    failed: list[int] = []
    pending = [tuple(range(len(patterns)))]
    while pending:
        members = pending.pop()
        s = re2.Set.SearchSet(_options(max_mem))
        for i in members:
            s.Add(patterns[i])
        try:
            s.Compile()
        except re2.error:
            if len(members) == 1:
                failed.append(members[0])
            else:  # halve it (the first half is tried first: sets stay in pattern order)
                half = len(members) // 2
                pending += [members[half:], members[:half]]
            continue
        sets.append((s, members))
    return RegexSet(tuple(sets), tuple(sorted(failed)), max_mem)
