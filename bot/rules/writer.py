"""Edit keywords.yaml from code (slash commands) without disturbing what a person wrote.

Every edit — add, change or remove a rule or a feed — is applied to the *text* of the file: ruamel.yaml
finds where things are, and only the lines of the item (or, for a change, of the keys) being edited are
replaced; every other byte — comments, blank lines, key order, quoting, indentation — stays as it was.
Changing a block list (``keywords:`` with one ``- word`` per line) keeps the lines, and the comments, of
the entries that stay. New text follows the style of the file: the indentation of the list it joins, flow
lists (``[a, b]``) for new keys.

Safety, in order:

1. The result is validated with the loader; a file that would not load is never written
   (``WriteError.problems`` says why).
2. The result is parsed again and must mean exactly the edited document — nothing else changed.
3. Optimistic concurrency: the file's content hash is taken when it is read. If the file changed on disk
   before the write, the edit is re-applied to the new content — unless the part being edited was changed
   too, which raises ``ConflictError``: a hand edit is never silently overwritten. Callers that showed the
   file to someone before editing pass the ``Snapshot`` they showed as ``base``: changes since *then*
   count as well.
4. The write is atomic: a temporary file in the same directory, fsync, ``os.replace``, fsync of the
   directory. (A file bind-mounted on its own, as Docker allows, cannot be replaced; it is then rewritten
   in place.)

Each function returns a ``Change`` with the item before and after, for the audit log. ``add_feeds`` adds
many feeds in one edit (one read, one validation, one write — ``newshound feeds import``) and returns a
``BatchChange``: what it added, and what it left out and why.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from bot.rules.load import FEED_KEYS, RULE_KEYS, Problem, RulesError, parse_rules, yaml_loader
from bot.rules.model import Config

__all__ = [
    "BatchChange",
    "Change",
    "ConflictError",
    "Skipped",
    "Snapshot",
    "WriteError",
    "add_feed",
    "add_feeds",
    "add_rule",
    "read_snapshot",
    "remove_feed",
    "remove_rule",
    "update_feed",
    "update_rule",
]

Section = Literal["rules", "feeds"]
_KEYS: dict[str, tuple[str, ...]] = {"rules": RULE_KEYS, "feeds": FEED_KEYS}
_WHAT = {"rules": "rule", "feeds": "feed"}
_LOCK = threading.Lock()
_ATTEMPTS = 5


class WriteError(Exception):
    """The edit was not made. ``reason`` says why in words; ``problems`` lists what the loader found."""

    def __init__(self, reason: str, problems: list[Problem] | None = None) -> None:
        self.reason = reason
        self.problems = problems or []
        detail = "".join(f"\n{p}" for p in self.problems)
        super().__init__(reason + detail)


class ConflictError(WriteError):
    """The part of the file being edited changed on disk since it was read; nothing was written."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The file as read at one moment: its text and the hash that identifies that content."""

    path: Path
    text: str
    digest: str

    @classmethod
    def of(cls, path: Path, text: str) -> Snapshot:
        return cls(path, text, hashlib.sha256(text.encode("utf-8")).hexdigest())


@dataclass(frozen=True, slots=True)
class Change:
    """What an edit did, for the audit log: the item before and after (``None`` when absent)."""

    action: str  # add_rule, update_rule, remove_rule, add_feed, update_feed, remove_feed
    section: Section
    name: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    old_digest: str
    new_digest: str
    config: Config  # the rules now in the file
    reapplied: bool = False  # the file changed meanwhile and the edit was applied to the new content

    @property
    def summary(self) -> str:
        verb = {"add": "added", "update": "changed", "remove": "removed"}[self.action.split("_")[0]]
        return f"{verb} {_WHAT[self.section]} {self.name!r}"


@dataclass(frozen=True, slots=True)
class Skipped:
    """An item a batch edit left out: the item as given, and why (``error.reason``, ``error.problems``)."""

    item: dict[str, Any]
    error: WriteError


@dataclass(frozen=True, slots=True)
class BatchChange:
    """What ``add_feeds`` did: one ``Change`` per feed added (in the order given) and the feeds left out.
    Nothing was written when ``changes`` is empty (``new_digest`` is then ``old_digest``)."""

    changes: tuple[Change, ...]
    skipped: tuple[Skipped, ...]
    old_digest: str
    new_digest: str
    config: Config  # the rules now in the file
    reapplied: bool = False


def read_snapshot(path: str | Path) -> Snapshot:
    p = Path(path)
    try:
        return Snapshot.of(p, p.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise WriteError(f"cannot read {p}: {exc.strerror or exc}") from None


# -- public operations -------------------------------------------------------------------------------------


def add_rule(path: str | Path, rule: Mapping[str, Any], *, base: Snapshot | None = None) -> Change:
    """Append ``rule`` (a mapping of keywords.yaml rule keys) to the rules."""
    return _edit(path, _Add("rules", rule), base)


def update_rule(
    path: str | Path, name: str, changes: Mapping[str, Any], *, base: Snapshot | None = None
) -> Change:
    """Set the keys in ``changes`` on rule ``name``; a value of ``None`` removes the key."""
    return _edit(path, _Update("rules", name, changes), base)


def remove_rule(path: str | Path, name: str, *, base: Snapshot | None = None) -> Change:
    return _edit(path, _Remove("rules", name), base)


def add_feed(path: str | Path, feed: Mapping[str, Any], *, base: Snapshot | None = None) -> Change:
    return _edit(path, _Add("feeds", feed), base)


def add_feeds(
    path: str | Path, feeds: Sequence[Mapping[str, Any]], *, base: Snapshot | None = None
) -> BatchChange:
    """Append every feed of ``feeds`` in one edit: the file is read, validated and written once, however
    many feeds there are (adding them one by one costs a read, two validations and a write each).

    A feed that cannot be added — an unknown key, no name, a name already in the file or given earlier
    in ``feeds``, or a value the loader refuses (a URL without a host…) — is left out, with the reason, in
    ``BatchChange.skipped``; the others are added. Raises ``WriteError`` as ``add_feed`` does when the file
    itself cannot be edited (it has problems already, or the result would be invalid for a reason that is
    not one of the new feeds), and ``ConflictError`` when a feed with the name or URL of one of ``feeds``
    was added to the file since it was read (or since ``base``); nothing is written then."""
    op = _AddMany("feeds", feeds)
    done = _run(Path(path), op, base)
    changes = tuple(
        Change(
            action="add_feed",
            section="feeds",
            name=add.name,
            before=None,
            after=dict(add.data),
            old_digest=done.old_digest,
            new_digest=done.new_digest,
            config=done.config,
            reapplied=done.reapplied,
        )
        for add in op.added
    )
    return BatchChange(
        changes=changes,
        skipped=tuple(op.skipped),
        old_digest=done.old_digest,
        new_digest=done.new_digest,
        config=done.config,
        reapplied=done.reapplied,
    )


def update_feed(
    path: str | Path, name: str, changes: Mapping[str, Any], *, base: Snapshot | None = None
) -> Change:
    return _edit(path, _Update("feeds", name, changes), base)


def remove_feed(path: str | Path, name: str, *, base: Snapshot | None = None) -> Change:
    """Remove feed ``name``. Refused (by validation) while a rule's ``feeds`` still names it."""
    return _edit(path, _Remove("feeds", name), base)


# -- the edit loop -----------------------------------------------------------------------------------------


def _edit(path: str | Path, op: _Op, base: Snapshot | None) -> Change:
    done = _run(Path(path), op, base)
    return Change(
        action=f"{op.verb}_{_WHAT[op.section]}",
        section=op.section,
        name=op.name,
        before=op.before,
        after=op.after,
        old_digest=done.old_digest,
        new_digest=done.new_digest,
        config=done.config,
        reapplied=done.reapplied,
    )


@dataclass(frozen=True, slots=True)
class _Done:
    old_digest: str
    new_digest: str
    config: Config
    reapplied: bool


def _run(p: Path, op: _Op, base: Snapshot | None) -> _Done:
    """Apply ``op`` to the file and write the result, under the safety rules of this module."""
    with _LOCK:
        first: Snapshot | None = None
        for _attempt in range(_ATTEMPTS):
            current = read_snapshot(p)
            first = first or current
            reference = base or first
            if current.digest != reference.digest:
                op.check_unchanged(_parse(reference.text), _parse(current.text))
            try:
                parse_rules(current.text, str(p))
            except RulesError as exc:
                raise WriteError(
                    f"{p.name} has problems already; fix them before editing it this way", exc.problems
                ) from None
            new_text, config = op.build(current.text, str(p))
            if new_text == current.text:
                return _Done(current.digest, current.digest, config, current.digest != reference.digest)
            if read_snapshot(p).digest != current.digest:
                continue  # changed while we worked: start again from the new content
            new = Snapshot.of(p, new_text)
            _atomic_write(p, new_text)
            return _Done(current.digest, new.digest, config, current.digest != reference.digest)
        raise ConflictError(f"{p.name} kept changing while the edit was being written; try again")


def _validated(new_text: str, path: str) -> Config:
    try:
        return parse_rules(new_text, path)
    except RulesError as exc:
        raise WriteError(
            f"the edit would leave {Path(path).name} invalid, so it was not made", exc.problems
        ) from None


def _atomic_write(path: Path, text: str) -> None:
    target = path.resolve()
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        try:
            os.replace(tmp, target)
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.EXDEV, errno.EPERM):
                raise
            # A bind-mounted single file cannot be replaced: rewrite it in place instead.
            with open(target, "r+", encoding="utf-8", newline="") as f:
                f.write(text)
                f.truncate()
                f.flush()
                os.fsync(f.fileno())
            os.unlink(tmp)
            return
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:
        dir_fd = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# -- parsed documents --------------------------------------------------------------------------------------


def _parse(text: str) -> CommentedMap:
    try:
        doc = yaml_loader().load(text)
    except Exception as exc:  # the loader reports YAML errors properly; here we only need to refuse
        raise WriteError(f"the file is not valid YAML now, so it cannot be edited: {exc}") from None
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise WriteError("the file is not a keywords.yaml mapping, so it cannot be edited")
    return doc


def plain(node: Any) -> Any:
    """ruamel's round-trip objects as plain dicts, lists and scalars."""
    if isinstance(node, Mapping):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def _normalise(value: Any) -> Any:
    """A value given by a caller, as it will read back from the file."""
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items()}
    return value


def _find(doc: CommentedMap, section: Section, name: str) -> int | None:
    seq = doc.get(section)
    if not isinstance(seq, list):
        return None
    for i, item in enumerate(seq):
        if isinstance(item, Mapping) and item.get("name") == name:
            return i
    return None


# -- text surgery ------------------------------------------------------------------------------------------


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_filler(line: str, max_indent: int) -> bool:
    """A blank line, or a comment line no deeper than ``max_indent``: it belongs between items."""
    stripped = line.strip()
    return not stripped or (stripped.startswith("#") and _indent(line) <= max_indent)


def _split_comment(line: str) -> tuple[str, str]:
    """(code, comment) of one YAML line; the comment keeps its leading spaces."""
    quote = ""
    i = 0
    while i < len(line):
        c = line[i]
        if quote:
            if quote == "'" and c == "'":
                if line[i + 1 : i + 2] == "'":
                    i += 2
                    continue
                quote = ""
            elif quote == '"' and c == "\\":
                i += 2
                continue
            elif quote == '"' and c == '"':
                quote = ""
        elif c in "'\"" and (i == 0 or line[i - 1] in " [{,:-"):
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            code = line[:i].rstrip(" \t")
            return code, line[len(code) : len(line.rstrip("\n"))]
        i += 1
    return line.rstrip("\n"), ""


@dataclass(slots=True)
class _Region:
    start: int  # first line (0-based)
    end: int  # one past the last own line
    dash: int  # column of the item's dash
    content: int  # column where the item's keys start


def _section_end(doc: CommentedMap, section: str, lines: list[str]) -> int:
    """The line where the top-level key after ``section`` starts, or the end of the file."""
    start = doc.lc.key(section)[0]
    later = [doc.lc.key(k)[0] for k in doc if doc.lc.key(k)[0] > start]
    return min(later) if later else len(lines)


def _item_region(doc: CommentedMap, section: Section, i: int, lines: list[str]) -> _Region:
    seq = doc[section]
    line, col = seq.lc.item(i)
    text = lines[line]
    dash = text.rfind("-", 0, col)
    if dash < 0 or text[dash + 1 : col].strip():
        raise WriteError(f"the {section} list is written in a form that cannot be edited line by line")
    end = seq.lc.item(i + 1)[0] if i + 1 < len(seq) else _section_end(doc, section, lines)
    while end > line + 1 and _is_filler(lines[end - 1], dash):
        end -= 1
    return _Region(line, end, dash, col)


def _render(key: str, value: Any, flow: bool = True) -> list[str]:
    """``key: value`` as YAML lines at column 0. A list whose plain rendering would not read back as
    written (ruamel leaves ``?q`` bare in a flow list, where it starts a mapping; a NEL character breaks
    the line) is written with its strings double-quoted, with escapes."""
    lines = _dump(key, value, flow)
    if yaml_loader().load("".join(lines)) != {key: value}:
        if isinstance(value, list):
            lines = _dump(key, [_quoted(v) for v in value], flow)
        else:
            lines = _dump(key, _quoted(value), flow)
    return lines


def _quoted(value: Any) -> Any:
    return DoubleQuotedScalarString(value) if isinstance(value, str) else value


def _dump(key: str, value: Any, flow: bool) -> list[str]:
    node = CommentedMap()
    if isinstance(value, list):
        seq = CommentedSeq(value)
        if flow:
            seq.fa.set_flow_style()
        node[key] = seq
    else:
        node[key] = value
    out = io.StringIO()
    y = yaml_loader()
    y.dump(node, out)
    return out.getvalue().splitlines(keepends=True)


def _render_scalar(value: Any) -> str:
    """One scalar as it would appear as a list entry."""
    text = "".join(_render("k", [value]))
    return text[len("k: [") :].rstrip().removesuffix("]")


def _shift(lines: list[str], col: int) -> list[str]:
    return [(" " * col + line) if line.strip() else line for line in lines]


def _render_item(item: Mapping[str, Any], order: tuple[str, ...], dash: int, content: int) -> list[str]:
    keys = [k for k in order if k in item] + [k for k in item if k not in order]
    out: list[str] = []
    for k in keys:
        out += _shift(_render(k, item[k]), content)
    first = out[0]
    out[0] = " " * dash + "-" + " " * (content - dash - 1) + first[content:]
    return out


Renderer = Callable[[list[dict[str, Any]], tuple[str, ...], int, int], list[list[str]]]


def _render_each(
    items: list[dict[str, Any]], order: tuple[str, ...], dash: int, content: int
) -> list[list[str]]:
    """Each item rendered key by key, each key checked to read back as written."""
    return [_render_item(item, order, dash, content) for item in items]


def _render_all(
    items: list[dict[str, Any]], order: tuple[str, ...], dash: int, content: int
) -> list[list[str]]:
    """The items rendered together in one pass, as ``_render_each`` would write them when every value
    reads back as written — unchecked: the caller checks the whole result (``_finish``) and falls back on
    ``_render_each``. An empty list when the output cannot be cut into items."""
    seq = CommentedSeq()
    for item in items:
        node = CommentedMap()
        for k in [k for k in order if k in item] + [k for k in item if k not in order]:
            value = item[k]
            if isinstance(value, list):
                value = CommentedSeq(value)
                value.fa.set_flow_style()
            node[k] = value
        seq.append(node)
    out = io.StringIO()
    yaml_loader().dump(seq, out)
    rendered: list[list[str]] = []
    for line in out.getvalue().splitlines(keepends=True):
        if line.startswith("  - "):  # ruamel's layout for a sequence of mappings: dash at 2, keys at 4
            rendered.append([" " * dash + "-" + " " * (content - dash - 1) + line[4:]])
        elif rendered and (line.startswith("    ") or not line.strip()):
            rendered[-1].append(" " * content + line[4:] if line.strip() else line)
        else:
            return []
    return rendered if len(rendered) == len(items) else []


def _ensure_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


# -- operations --------------------------------------------------------------------------------------------


class _Op:
    verb: str
    section: Section
    name: str
    before: dict[str, Any] | None = None  # the item before and after the edit, once built
    after: dict[str, Any] | None = None

    def build(self, text: str, path: str) -> tuple[str, Config]:
        """The edited text and the rules it holds; raises ``WriteError`` when it would not load."""
        new_text, self.before, self.after = self.apply(text)
        return new_text, _validated(new_text, path)

    def apply(self, text: str) -> tuple[str, dict[str, Any] | None, dict[str, Any] | None]:
        raise NotImplementedError

    def check_unchanged(self, base: CommentedMap, current: CommentedMap) -> None:
        """Raise ``ConflictError`` when what this edit touches differs between ``base`` and ``current``."""

    def _item(self, doc: CommentedMap) -> Any:
        i = _find(doc, self.section, self.name)
        return None if i is None else plain(doc[self.section][i])


def _check_keys(section: Section, data: Mapping[str, Any]) -> None:
    unknown = [k for k in data if k not in _KEYS[section]]
    if unknown:
        raise WriteError(
            f"unknown {_WHAT[section]} key(s): {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(_KEYS[section])}"
        )


def _finish(text: str, crlf: bool, intended: Any) -> str:
    """Check that ``text`` means ``intended`` (plain data), and restore the file's line endings."""
    got = plain(_parse(text))
    for section in ("rules", "feeds"):
        for d in (got, intended):
            if d.get(section) is None and section in d:
                d[section] = []
    if got != intended:  # a bug in the text surgery (or an unchecked rendering): never write such a file
        raise WriteError("internal error: the edited file would not mean what was intended; nothing written")
    return text.replace("\n", "\r\n") if crlf else text


def _prepare(text: str) -> tuple[str, bool, CommentedMap, list[str]]:
    crlf = "\r\n" in text
    if crlf:
        text = text.replace("\r\n", "\n")
    doc = _parse(text)
    return text, crlf, doc, text.splitlines(keepends=True)


class _Add(_Op):
    verb = "add"

    def __init__(self, section: Section, data: Mapping[str, Any]) -> None:
        _check_keys(section, data)
        self.section = section
        self.data = {k: _normalise(v) for k, v in data.items() if v is not None}
        name = self.data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise WriteError(f"a new {_WHAT[section]} needs a name")
        self.name = name

    def check_unchanged(self, base: CommentedMap, current: CommentedMap) -> None:
        if self._item(current) is not None and self._item(base) is None:
            raise ConflictError(
                f"a {_WHAT[self.section]} named {self.name!r} was added to the file meanwhile"
            )

    def apply(self, text: str) -> tuple[str, dict[str, Any] | None, dict[str, Any] | None]:
        text, crlf, doc, lines = _prepare(text)
        if _find(doc, self.section, self.name) is not None:
            raise WriteError(f"there is already a {_WHAT[self.section]} named {self.name!r}")
        out, _lines = _append(doc, text, lines, self.section, [self.data])
        return _finish(out, crlf, _intended(doc, self.section, [self.data])), None, dict(self.data)


def _intended(doc: CommentedMap, section: Section, items: list[dict[str, Any]]) -> dict[str, Any]:
    """``doc`` as plain data with ``items`` appended to ``section``."""
    intended: dict[str, Any] = plain(doc)
    if intended.get(section) is None:
        intended[section] = []
    intended[section].extend(dict(d) for d in items)
    return intended


def _append(
    doc: CommentedMap,
    text: str,
    lines: list[str],
    section: Section,
    items: list[dict[str, Any]],
    render: Renderer = _render_each,
) -> tuple[str, list[tuple[int, int]]]:
    """``text`` with ``items`` appended to ``section`` (``lines`` is ``text`` split, left as it is), and
    the lines of each new item in the result: (first, last), 1-based."""
    lines = list(lines)
    order = _KEYS[section]
    seq = doc.get(section)
    if isinstance(seq, CommentedSeq) and len(seq) and not seq.fa.flow_style():
        last = _item_region(doc, section, len(seq) - 1, lines)
        first = _item_region(doc, section, 0, lines)
        at, dash, content = last.end, first.dash, first.content
        if lines[at - 1 : at] and not lines[at - 1].endswith("\n"):
            lines[at - 1] += "\n"  # the file ended without a newline
    elif section in doc and (seq is None or (isinstance(seq, CommentedSeq) and not len(seq))):
        # `rules:` with nothing, or `rules: []`: the key line becomes a block list.
        key_line = doc.lc.key(section)[0]
        code, comment = _split_comment(lines[key_line])
        if code.split(":", 1)[1].strip() not in ("", "[]", "null", "~"):
            raise WriteError(f"`{section}` is written in a form that cannot be edited line by line")
        lines[key_line : key_line + 1] = [f"{section}:{comment}\n"]
        at, dash, content = key_line + 1, 2, 4
    elif section not in doc:
        lines = [*_ensure_newline(text).splitlines(keepends=True), f"{section}:\n"]
        at, dash, content = len(lines), 2, 4
    else:
        raise WriteError(f"`{section}` is written in a form that cannot be edited line by line")
    new: list[str] = []
    spans: list[tuple[int, int]] = []
    for rendered in render(items, order, dash, content) or _render_each(items, order, dash, content):
        start = at + len(new) + 1
        spans.append((start, start + len(rendered) - 1))
        new += rendered
    lines[at:at] = new
    return "".join(lines), spans


class _AddMany(_Op):
    """Append many items in one edit, leaving out (with the reason) those that cannot be added."""

    verb = "add"

    def __init__(self, section: Section, items: Sequence[Mapping[str, Any]]) -> None:
        self.section = section
        self.name = f"{len(items)} {_WHAT[section]}s"
        self.items: list[tuple[dict[str, Any], _Add | WriteError]] = []
        for item in items:
            given = dict(item)
            try:
                self.items.append((given, _Add(section, item)))
            except WriteError as exc:
                self.items.append((given, exc))
        self.added: list[_Add] = []
        self.skipped: list[Skipped] = []

    def _adds(self) -> list[_Add]:
        return [add for _, add in self.items if isinstance(add, _Add)]

    def check_unchanged(self, base: CommentedMap, current: CommentedMap) -> None:
        for key, what in (("name", "named"), ("url", "with the URL")):
            was, now = _values(base, self.section, key), _values(current, self.section, key)
            meanwhile = [add.data[key] for add in self._adds() if add.data.get(key) in now - was]
            if meanwhile:
                raise ConflictError(
                    f"a {_WHAT[self.section]} {what} {meanwhile[0]!r} was added to the file meanwhile; "
                    "nothing was written — try again"
                )

    def build(self, text: str, path: str) -> tuple[str, Config]:
        original = text
        text, crlf, doc, lines = _prepare(text)
        taken = _values(doc, self.section, "name")
        what = _WHAT[self.section]
        skipped: dict[int, WriteError] = {}
        pending: list[tuple[int, _Add]] = []
        for i, (_, add) in enumerate(self.items):
            if isinstance(add, WriteError):
                skipped[i] = add
            elif add.name in taken:
                twice = any(a.name == add.name for _, a in pending)
                skipped[i] = WriteError(
                    f"{what} {add.name!r} is given twice"
                    if twice
                    else f"there is already a {what} named {add.name!r}"
                )
            else:
                taken.add(add.name)
                pending.append((i, add))
        known = len(doc.get(self.section) or ())
        while True:
            if not pending:
                new_text, config = original, _validated(original, path)
                break
            data = [add.data for _, add in pending]
            intended = _intended(doc, self.section, data)
            out, spans = _append(doc, text, lines, self.section, data, _render_all)
            try:
                new_text = _finish(out, crlf, intended)
            except WriteError:  # a value that does not read back as rendered: render key by key, checked
                out, spans = _append(doc, text, lines, self.section, data)
                new_text = _finish(out, crlf, intended)
            try:
                config = parse_rules(new_text, path)
                break
            except RulesError as exc:
                problems = exc.problems
            # Each problem on the lines of a new item leaves that item out; any other problem is the
            # file's, and stops the edit. The others are tried again, validated once more.
            theirs: dict[int, list[str]] = {}
            for problem in problems:
                j = next((j for j, (a, b) in enumerate(spans) if a <= problem.line <= b), None)
                if j is None:
                    raise WriteError(
                        f"the edit would leave {Path(path).name} invalid, so it was not made", problems
                    )
                # Its line and list index are those of a file never written: say what is wrong in words.
                theirs.setdefault(j, []).append(
                    problem.message.replace(f"{self.section}[{known + j}] ", "", 1)
                )
            if not theirs:
                raise WriteError(f"the edit would leave {Path(path).name} invalid, so it was not made")
            for j, said in theirs.items():
                i, add = pending[j]
                skipped[i] = WriteError(f"{what} {add.name!r} would not load: {'; '.join(said)}")
            pending = [p for j, p in enumerate(pending) if j not in theirs]
        self.added = [add for _, add in pending]
        self.skipped = [Skipped(self.items[i][0], skipped[i]) for i in sorted(skipped)]
        return new_text, config


def _values(doc: CommentedMap, section: Section, key: str) -> set[Any]:
    seq = doc.get(section)
    if not isinstance(seq, list):
        return set()
    return {item.get(key) for item in seq if isinstance(item, Mapping) and key in item}


class _Remove(_Op):
    verb = "remove"

    def __init__(self, section: Section, name: str) -> None:
        self.section = section
        self.name = name

    def check_unchanged(self, base: CommentedMap, current: CommentedMap) -> None:
        before, now = self._item(base), self._item(current)
        if before is not None and now is not None and before != now:
            raise ConflictError(
                f"{_WHAT[self.section]} {self.name!r} was edited in the file meanwhile; not removing it"
            )

    def apply(self, text: str) -> tuple[str, dict[str, Any] | None, dict[str, Any] | None]:
        text, crlf, doc, lines = _prepare(text)
        i = _find(doc, self.section, self.name)
        if i is None:
            raise WriteError(f"there is no {_WHAT[self.section]} named {self.name!r}")
        before = plain(doc[self.section][i])
        intended = plain(doc)
        del intended[self.section][i]
        region = _item_region(doc, self.section, i, lines)
        del lines[region.start : region.end]
        return _finish("".join(lines), crlf, intended), before, None


class _Update(_Op):
    verb = "update"

    def __init__(self, section: Section, name: str, changes: Mapping[str, Any]) -> None:
        _check_keys(section, changes)
        if "name" in changes and (not isinstance(changes["name"], str) or not changes["name"].strip()):
            raise WriteError(f"a {_WHAT[section]} name must be non-empty text")
        self.section = section
        self.name = name
        self.changes = {k: _normalise(v) for k, v in changes.items()}

    def check_unchanged(self, base: CommentedMap, current: CommentedMap) -> None:
        before, now = self._item(base), self._item(current)
        if before is None or now is None:
            return  # apply() reports a missing item
        touched = [k for k in self.changes if before.get(k) != now.get(k)]
        if touched:
            raise ConflictError(
                f"{_WHAT[self.section]} {self.name!r}: {', '.join(touched)} changed in the file meanwhile; "
                "nothing was written — look at the file again and repeat the edit"
            )

    def apply(self, text: str) -> tuple[str, dict[str, Any] | None, dict[str, Any] | None]:
        text, crlf, doc, lines = _prepare(text)
        i = _find(doc, self.section, self.name)
        if i is None:
            raise WriteError(f"there is no {_WHAT[self.section]} named {self.name!r}")
        new_name = self.changes.get("name")
        if new_name and new_name != self.name and _find(doc, self.section, new_name) is not None:
            raise WriteError(f"there is already a {_WHAT[self.section]} named {new_name!r}")
        item: CommentedMap = doc[self.section][i]
        before = plain(item)
        after = dict(before)
        for k, v in self.changes.items():
            if v is None:
                after.pop(k, None)
            else:
                after[k] = v
        intended = plain(doc)
        intended[self.section][i] = after
        if after == before:
            return _finish(text, crlf, intended), before, after
        region = _item_region(doc, self.section, i, lines)
        first_key = next(iter(item), None)
        if item.fa.flow_style() or (first_key in self.changes and self.changes[first_key] is None):
            # A flow mapping, or the key sharing the dash's line goes: the item is written afresh.
            new = _render_item(after, tuple(item), region.dash, region.content)
            lines[region.start : region.end] = new
            return _finish("".join(lines), crlf, intended), before, after
        keys = list(item)
        # Edit from the bottom up so earlier line numbers stay valid.
        edits: list[tuple[int, int, list[str]]] = []
        for k, v in self.changes.items():
            if k in item and v is None:
                s, e = self._key_lines(item, keys, k, region, lines)
                if len(keys) == 1:
                    raise WriteError(f"cannot remove the last key of {_WHAT[self.section]} {self.name!r}")
                edits.append((s, e, []))
            elif k in item and plain(item[k]) != v:
                s, e = self._key_lines(item, keys, k, region, lines)
                edits.append((s, e, self._replace(item, k, v, s, e, lines)))
        added = {k: v for k, v in self.changes.items() if k not in item and v is not None}
        if added:
            col = item.lc.key(keys[0])[1] if keys else region.content
            new_lines: list[str] = []
            for k in [k for k in _KEYS[self.section] if k in added]:
                new_lines += _shift(_render(k, added[k]), col)
            if lines[region.end - 1 : region.end] and not lines[region.end - 1].endswith("\n"):
                lines[region.end - 1] += "\n"
            edits.append((region.end, region.end, new_lines))
        for s, e, new_lines in sorted(edits, key=lambda x: x[0], reverse=True):
            lines[s:e] = new_lines
        return _finish("".join(lines), crlf, intended), before, after

    def _key_lines(
        self, item: CommentedMap, keys: list[str], key: str, region: _Region, lines: list[str]
    ) -> tuple[int, int]:
        """Lines [start, end) holding ``key`` and its value."""
        start, col = item.lc.key(key)
        j = keys.index(key)
        end = item.lc.key(keys[j + 1])[0] if j + 1 < len(keys) else region.end
        while end > start + 1 and _is_filler(lines[end - 1], col):
            end -= 1
        return start, end

    def _replace(
        self, item: CommentedMap, key: str, value: Any, s: int, e: int, lines: list[str]
    ) -> list[str]:
        """New lines for ``key: value`` replacing lines [s, e)."""
        key_col = item.lc.key(key)[1]
        old = item[key]
        first_prefix = lines[s][:key_col]  # "  - " when the key shares the dash's line
        if isinstance(old, CommentedSeq) and not old.fa.flow_style() and isinstance(value, list):
            kept = self._edit_block_list(old, value, s, e, lines)
            if kept is not None:
                return kept
        flow = not (isinstance(old, CommentedSeq) and not old.fa.flow_style())
        rendered = _render(key, value, flow=flow)
        if not flow and isinstance(old, CommentedSeq) and len(old):
            dash_col = lines[old.lc.item(0)[0]].rfind("-", 0, old.lc.item(0)[1])
            rendered = [rendered[0]] + [
                " " * (dash_col - key_col) + line.lstrip(" ") if line.lstrip().startswith("- ") else line
                for line in rendered[1:]
            ]
        new = _shift(rendered, key_col)
        new[0] = first_prefix + new[0][key_col:]
        if e - s == 1 and len(new) == 1:
            _, comment = _split_comment(lines[s])
            if comment:
                code = new[0].rstrip("\n")
                old_code, _ = _split_comment(lines[s])
                pad = max(1, len(old_code) + (len(comment) - len(comment.lstrip(" "))) - len(code))
                new[0] = code + " " * pad + comment.lstrip(" ") + "\n"
        return new

    def _edit_block_list(
        self, old: CommentedSeq, value: list[Any], s: int, e: int, lines: list[str]
    ) -> list[str] | None:
        """A block list edited entry by entry: kept entries keep their lines (and comments), removed
        ones lose theirs, new ones are appended. None when that cannot express the edit (entries
        reordered or repeated, or the list emptied): the caller renders the list afresh."""
        old_values = [plain(v) for v in old]
        kept = [v for v in old_values if v in value]
        added = [v for v in value if v not in old_values]
        if not old_values or not (kept or added) or value != kept + added:
            return None
        if len(set(map(repr, old_values))) != len(old_values) or len(set(map(repr, value))) != len(value):
            return None
        starts = [old.lc.item(j)[0] for j in range(len(old))]
        dash_col = lines[starts[0]].rfind("-", 0, old.lc.item(0)[1])
        out = lines[s : starts[0]]
        for j, v in enumerate(old_values):
            end = starts[j + 1] if j + 1 < len(old_values) else e
            if v in value:
                out += lines[starts[j] : end]
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        for v in added:
            out.append(" " * dash_col + "- " + _render_scalar(v) + "\n")
        return out
