"""Edits to keywords.yaml made from slash commands.

Every edit is made to the *text*: only the lines of the rule or feed being changed are touched, so the
comments, key order, quoting and blank lines of everything else stay byte-identical. ruamel.yaml (round
trip) is used to find where things are and to render new entries; the result is validated by the same
loader as at start-up before anything is written, and written atomically (temporary file + rename).
If the file changes on disk while an edit is prepared (an admin saving it by hand), the edit is re-applied
to the new text; a hand edit is never overwritten.

Each function takes the file's path and returns a ``Change``: the entry before and after, as plain data
(for the audit log), and the new validated ``Config``. Problems raise ``EditError`` with one sentence for
the user; the file is then unchanged.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from bot.rules.load import RulesError, parse_rules, yaml_loader
from bot.rules.model import Config

#: Keys written as double-quoted strings (ids must stay strings: a bare 18-digit number is an int in YAML).
_QUOTED = ("channel", "mention", "paused_until")
_FLOW_LISTS = ("keywords", "all", "exclude", "tags", "mention", "feeds", "fields", "regex")
_TOP_KEY = re.compile(r"^[^\s#-][^:]*:")


class EditError(Exception):
    """The edit cannot be made; ``str()`` says why in one sentence. Nothing was written."""


@dataclass(frozen=True, slots=True)
class Change:
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    config: Config


def plain(node: Any) -> Any:
    """A ruamel node as plain dicts, lists and scalars (for the audit log)."""
    if isinstance(node, Mapping):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


# -- rendering new YAML ------------------------------------------------------------------------------


def _value(key: str, value: Any) -> Any:
    if isinstance(value, list | tuple):
        seq = CommentedSeq([_value(key, v) for v in value])
        if key in _FLOW_LISTS:
            seq.fa.set_flow_style()
        return seq
    if key in _QUOTED and isinstance(value, str):
        return DoubleQuotedScalarString(value)
    return value


def _dump(node: Any) -> str:
    out = io.StringIO()
    yaml_loader().dump(node, out)
    return out.getvalue()


def _indent(text: str, spaces: int) -> list[str]:
    text = textwrap.dedent(text)
    pad = " " * spaces
    return [(pad + line if line.strip() else line) for line in text.splitlines(keepends=True)]


def _render_item(data: Mapping[str, Any], dash_col: int) -> list[str]:
    node = CommentedMap()
    for key, value in data.items():
        if value is None or value == [] or value == ():
            continue
        node[key] = _value(key, value)
    return _indent(_dump(CommentedSeq([node])), dash_col)


def _render_key(key: str, value: Any, col: int) -> list[str]:
    node = CommentedMap()
    node[key] = _value(key, value)
    return _indent(_dump(node), col)


# -- finding things in the text ----------------------------------------------------------------------


def _blank_or_comment(line: str) -> bool:
    s = line.strip()
    return not s or s.startswith("#")


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


@dataclass(slots=True)
class _Item:
    index: int
    node: CommentedMap
    start: int  # first line of the item ("- name: …")
    end: int  # one past its last own line (trailing blank lines and outdented comments excluded)
    dash_col: int
    key_col: int


def _items(lines: list[str], doc: CommentedMap, section: str) -> list[_Item]:
    seq = doc.get(section)
    if not isinstance(seq, CommentedSeq) or not len(seq):
        return []
    if seq.fa.flow_style():
        raise EditError(
            f"`{section}` is written as a one-line list; write it as a block list to edit it from Discord"
        )
    starts = [seq.lc.item(i)[0] for i in range(len(seq))]
    # Where the section ends: the next top-level key after the last item, or the end of the file.
    limit = len(lines)
    for n in range(starts[-1] + 1, len(lines)):
        if _TOP_KEY.match(lines[n]):
            limit = n
            break
    out = []
    for i, start in enumerate(starts):
        node = seq[i]
        if not isinstance(node, CommentedMap):
            raise EditError(f"{section}[{i}] is not a mapping, so the file cannot be edited from Discord")
        stop = starts[i + 1] if i + 1 < len(starts) else limit
        key_col = seq.lc.item(i)[1]
        dash_col = lines[start].index("-") if "-" in lines[start][:key_col] else max(0, key_col - 2)
        end = stop
        while end > start + 1 and (
            not lines[end - 1].strip()
            or (lines[end - 1].lstrip().startswith("#") and _indent_of(lines[end - 1]) <= dash_col)
        ):
            end -= 1
        out.append(_Item(i, node, start, end, dash_col, key_col))
    return out


def _find(items: list[_Item], name: str) -> _Item | None:
    return next((it for it in items if it.node.get("name") == name), None)


def _key_span(lines: list[str], item: _Item, key: str) -> tuple[int, int] | None:
    """Lines ``[a, b)`` holding ``key`` and its value inside ``item``."""
    if key not in item.node:
        return None
    a = item.node.lc.key(key)[0]
    keys = list(item.node)
    pos = keys.index(key)
    b = item.node.lc.key(keys[pos + 1])[0] if pos + 1 < len(keys) else item.end
    while b > a + 1 and _blank_or_comment(lines[b - 1]):
        b -= 1
    return a, b


# -- the edit loop -----------------------------------------------------------------------------------

Mutation = Callable[[list[str], CommentedMap], tuple[list[str], dict[str, Any] | None, dict[str, Any] | None]]


def _apply(path: Path, mutate: Mutation) -> Change:
    for _attempt in range(3):
        try:
            original = path.read_bytes()
        except FileNotFoundError:
            raise EditError(f"{path} does not exist") from None
        text = original.decode("utf-8")
        try:
            doc = yaml_loader().load(text)
        except Exception:
            raise EditError("keywords.yaml does not parse right now; fix it by hand first") from None
        if not isinstance(doc, CommentedMap):
            raise EditError("keywords.yaml is not a mapping, so it cannot be edited from Discord")
        lines = text.splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        new_lines, before, after = mutate(lines, doc)
        new_text = "".join(new_lines)
        try:
            config = parse_rules(new_text, str(path))
        except RulesError as exc:
            raise EditError(f"the edited file would not be valid: {exc.problems[0].message}") from None
        if path.read_bytes() != original:
            continue  # changed on disk meanwhile: redo the edit on the new text
        _write_atomically(path, new_text, original)
        return Change(before, after, config)
    raise EditError("keywords.yaml keeps changing on disk; try again in a moment")


def _write_atomically(path: Path, text: str, expected: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, path.stat().st_mode & 0o777)
        if path.read_bytes() != expected:
            raise EditError("keywords.yaml was changed by hand just now; run the command again")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- operations --------------------------------------------------------------------------------------


def _append(lines: list[str], doc: CommentedMap, section: str, data: Mapping[str, Any]) -> list[str]:
    items = _items(lines, doc, section)
    if items:
        last = items[-1]
        # Separate it from the one before like the existing items are separated (by a blank line or not).
        spaced = len(items) > 1 and any(not lines[n].strip() for n in range(items[-2].end, items[-1].start))
        new = _render_item(data, last.dash_col)
        if spaced:
            new = ["\n", *new]
        return lines[: last.end] + new + lines[last.end :]
    # No items yet: `section:` missing, empty (null) or `[]`.
    new = _render_item(data, 2)
    for n, line in enumerate(lines):
        if re.match(rf"^{re.escape(section)}\s*:", line):
            head = re.sub(
                r":\s*(\[\s*\]|null|~)?\s*(#.*)?$",
                lambda m: ":" + (f"  {m.group(2)}" if m.group(2) else ""),
                line.rstrip("\n"),
            )
            return [*lines[:n], head + "\n", *new, *lines[n + 1 :]]
    sep = [] if not lines or not lines[-1].strip() else ["\n"]
    return [*lines, *sep, f"{section}:\n", *new]


def _remove(lines: list[str], item: _Item) -> list[str]:
    start = item.start
    # Comments directly above the item (no blank line between) describe it: they go with it.
    while (
        start > 0
        and lines[start - 1].lstrip().startswith("#")
        and _indent_of(lines[start - 1]) <= item.dash_col + 2
    ):
        if _TOP_KEY.match(lines[start - 1]):
            break
        start -= 1
    end = item.end
    out = lines[:start] + lines[end:]
    # Don't leave two blank lines where one separated the items, nor a blank line under the section key.
    follows_gap = start == 0 or not out[start - 1].strip() or _TOP_KEY.match(out[start - 1])
    if start < len(out) and not out[start].strip() and follows_gap:
        del out[start]
    elif 0 < start == len(out) and not out[start - 1].strip():
        del out[start - 1]  # the last item of the file: no blank line left at the end
    return out


def _set_keys(lines: list[str], item: _Item, changes: Mapping[str, Any]) -> list[str]:
    """Each key of ``changes`` set (in place when it exists, else added after the item's last key) or,
    for a ``None`` value, removed. Works from the bottom up so line numbers stay valid."""
    edits: list[tuple[int, int, list[str]]] = []
    appended: list[str] = []
    for key, value in changes.items():
        span = _key_span(lines, item, key)
        if span is None:
            if value is not None:
                appended += _render_key(key, value, item.key_col)
            continue
        a, b = span
        if value is None:
            edits.append((a, b, []))
            continue
        new = _render_key(key, value, item.key_col)
        comment = re.search(r"\s+#.*$", lines[a].rstrip("\n")) if b == a + 1 else None
        if comment and len(new) == 1 and "#" not in new[0]:
            new = [new[0].rstrip("\n") + comment.group(0) + "\n"]
        edits.append((a, b, new))
    if appended:
        edits.append((item.end, item.end, appended))
    for a, b, new in sorted(edits, key=lambda e: e[0], reverse=True):
        lines = lines[:a] + new + lines[b:]
    return lines


def add_rule(path: Path, rule: Mapping[str, Any]) -> Change:
    def mutate(lines: list[str], doc: CommentedMap) -> tuple[list[str], Any, Any]:
        if _find(_items(lines, doc, "rules"), str(rule["name"])) is not None:
            raise EditError(f"a rule named `{rule['name']}` already exists")
        return (
            _append(lines, doc, "rules", rule),
            None,
            {k: v for k, v in rule.items() if v not in (None, [], ())},
        )

    return _apply(path, mutate)


def update_rule(path: Path, name: str, changes: Mapping[str, Any]) -> Change:
    """Set each key of ``changes`` on the rule; a ``None`` value removes the key."""

    def mutate(lines: list[str], doc: CommentedMap) -> tuple[list[str], Any, Any]:
        item = _find(_items(lines, doc, "rules"), name)
        if item is None:
            raise EditError(f"there is no rule named `{name}` in keywords.yaml")
        before = plain(item.node)
        after = dict(before)
        for key, value in changes.items():
            if value is None:
                after.pop(key, None)
            else:
                after[key] = plain(value)
        return _set_keys(lines, item, changes), before, after

    return _apply(path, mutate)


def remove_rule(path: Path, name: str) -> Change:
    def mutate(lines: list[str], doc: CommentedMap) -> tuple[list[str], Any, Any]:
        item = _find(_items(lines, doc, "rules"), name)
        if item is None:
            raise EditError(f"there is no rule named `{name}` in keywords.yaml")
        return _remove(lines, item), plain(item.node), None

    return _apply(path, mutate)


def add_feed(path: Path, feed: Mapping[str, Any]) -> Change:
    def mutate(lines: list[str], doc: CommentedMap) -> tuple[list[str], Any, Any]:
        if _find(_items(lines, doc, "feeds"), str(feed["name"])) is not None:
            raise EditError(f"a feed named `{feed['name']}` already exists")
        return (
            _append(lines, doc, "feeds", feed),
            None,
            {k: v for k, v in feed.items() if v not in (None, [], ())},
        )

    return _apply(path, mutate)


def remove_feed(path: Path, name: str) -> Change:
    def mutate(lines: list[str], doc: CommentedMap) -> tuple[list[str], Any, Any]:
        item = _find(_items(lines, doc, "feeds"), name)
        if item is None:
            raise EditError(f"there is no feed named `{name}` in keywords.yaml")
        return _remove(lines, item), plain(item.node), None

    return _apply(path, mutate)
