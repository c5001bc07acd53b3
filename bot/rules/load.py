"""Read and validate keywords.yaml, reporting *every* problem as ``file:line:column: message``.

The loader never stops at the first problem: it walks the whole document, collects what is wrong (with a
"did you mean …?" where a close spelling exists) and raises one ``RulesError`` holding all of them. Only a
document with no problem at all becomes a ``Config``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from bot.model import ENTRY_FIELDS
from bot.rules.durations import DurationError, parse_duration
from bot.rules.model import DEFAULT_FIELDS, SEVERITIES, Config, Defaults, Feed, Rule
from bot.rules.regex import CompiledRegex, RegexError, compile_regex, regex_set
from bot.rules.terms import compile_term
from bot.rules.text import fold

TOP_KEYS = ("version", "defaults", "feeds", "rules")
DEFAULT_KEYS = ("channel", "interval", "backfill", "max_age", "webhook")
FEED_KEYS = ("name", "url", "interval", "tags", "webhook", "username", "avatar")
RULE_KEYS = (
    "name",
    "keywords",
    "all",
    "exclude",
    "regex",
    "fields",
    "feeds",
    "channel",
    "webhook",
    "mention",
    "severity",
    "enabled",
    "paused_until",
    "description",
)
SNOWFLAKE = re.compile(r"[1-9]\d{16,19}", re.ASCII)
#: The longest rule or feed name, in characters.
NAME_MAX = 64
NAME = re.compile(rf"[^\s:][^\n\r\t]{{0,{NAME_MAX - 1}}}")
#: A webhook URL's path ends in ``/api[/vN]/webhooks/ID/TOKEN`` (nothing after: ``/slack`` and ``/github``
#: are other APIs, whose payloads differ).
WEBHOOK_PATH = re.compile(r"/api(?:/v\d+)?/webhooks/\d+/[\w-]+/?\Z", re.ASCII)
#: An unquoted YAML number as written (``007``, ``+1.50``, ``0x1F``, ``1_000``, ``1e3``, ``.5``).
_NUMBER = re.compile(r"[-+]?\.?[0-9][0-9A-Za-z_.+-]*", re.ASCII)
_LINE_BREAK = re.compile("\r\n|[\n\r]")  # YAML 1.2 line breaks (what ruamel's marks count)


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    line: int  # 1-based
    column: int  # 1-based
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class RulesError(Exception):
    """keywords.yaml could not be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, p.column))
        super().__init__("\n".join(str(p) for p in self.problems))


def load_rules(path: str | Path) -> Config:
    """Load and validate the rules file at ``path``. Raises ``RulesError``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesError([Problem(str(p), 1, 1, "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError([Problem(str(p), 1, 1, f"cannot read the file: {exc}")]) from None
    return parse_rules(text, str(p))


def yaml_loader() -> YAML:
    """The round-trip YAML reader/writer used for keywords.yaml everywhere."""
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def parse_rules(text: str, path: str = "keywords.yaml") -> Config:
    """Validate the YAML ``text`` (read from ``path``, used in messages). Raises ``RulesError``.

    The last results are remembered (a ``Config`` is immutable): a start-up reads the same file twice —
    the command line for its checks, the rules watcher for what it watches — and a keywords.yaml with
    hundreds of feeds takes tens of milliseconds to read."""
    return _parse_rules_cached(text, path)


class _DuplicateKeys(RoundTripConstructor):
    """The round-trip constructor, noting each duplicate key (the first value stays) where ruamel stops at
    the first one: the file's other problems are reported with them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.duplicates: list[tuple[Any, Any, Any]] = []  # (key, its mark, the mapping's mark)

    def check_mapping_key(self, node: Any, key_node: Any, mapping: Any, key: Any, value: Any) -> bool:
        if key in mapping:
            self.duplicates.append((key, key_node.start_mark, node.start_mark))
            return False
        return True


@lru_cache(maxsize=2)
def _parse_rules_cached(text: str, path: str) -> Config:
    loader = yaml_loader()
    loader.Constructor = _DuplicateKeys
    try:
        doc = loader.load(text)
    except DuplicateKeyError as exc:  # a second merge key (<<) in one mapping
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        key = re.search(r'duplicate key "([^"]*)"', exc.problem or "")
        where = exc.context_mark
        first = f" in the mapping that starts on line {where.line + 1}" if where is not None else ""
        what = f"duplicate key {key.group(1)!r}{first}" if key else (exc.problem or "duplicate key")
        raise RulesError([Problem(path, line, col, f"YAML: {what}")]) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        raise RulesError([Problem(path, line, col, f"YAML syntax: {what}")]) from None
    except YAMLError as exc:
        raise RulesError([Problem(path, 1, 1, f"YAML syntax: {exc}")]) from None
    validator = _Validator(path, text)
    for key, mark, mapping in loader.constructor.duplicates:
        validator.at(
            (mark.line, mark.column),
            f"YAML: duplicate key {key!r} in the mapping that starts on line {mapping.line + 1}",
        )
    return validator.document(doc)


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class _Validator:
    def __init__(self, path: str, text: str = "") -> None:
        self.path = path
        # As ruamel counts lines and columns (after a byte-order mark), for numbers as written.
        self.lines = _LINE_BREAK.split(text.removeprefix("\ufeff"))
        self.problems: list[Problem] = []
        self.default_destination_given = False  # so a bad defaults.channel is not reported twice
        # Each distinct valid pattern, in the matcher's order, with where it is first written.
        self.compiled_regexes: dict[str, tuple[CompiledRegex, tuple[int, int], str]] = {}

    # -- reporting ---------------------------------------------------------------------------------
    def at(self, pos: tuple[int, int], message: str) -> None:
        self.problems.append(Problem(self.path, pos[0] + 1, pos[1] + 1, message))

    @staticmethod
    def key_pos(node: CommentedMap, key: str) -> tuple[int, int]:
        try:
            line, col = node.lc.key(key)
        except (KeyError, AttributeError, TypeError, ValueError):
            return _node_pos(node)
        return int(line), int(col)

    @staticmethod
    def value_pos(node: CommentedMap, key: str) -> tuple[int, int]:
        try:
            line, col = node.lc.value(key)
        except (KeyError, AttributeError, TypeError, ValueError):
            return _node_pos(node)
        return int(line), int(col)

    # -- document ----------------------------------------------------------------------------------
    def document(self, doc: Any) -> Config:
        if doc is None:
            raise RulesError([Problem(self.path, 1, 1, "the file is empty; it needs `version: 1`")])
        if not isinstance(doc, CommentedMap):
            raise RulesError(
                [
                    Problem(
                        self.path,
                        1,
                        1,
                        "the file must be a mapping with version, defaults, feeds, rules",
                    )
                ]
            )
        self.unknown_keys(doc, TOP_KEYS, "top-level key")
        version = doc.get("version")
        if "version" not in doc:
            self.at((0, 0), "missing `version: 1`")
        elif version != 1 or isinstance(version, bool):
            self.at(
                self.value_pos(doc, "version"),
                f"unsupported version {version!r}; this Newshound reads version 1",
            )

        defaults = self.defaults(doc)
        feeds = self.feeds(doc)
        rules = self.rules(doc, feeds, defaults)
        self.regex_set()
        if self.problems:
            raise RulesError(self.problems)
        return Config(path=self.path, version=1, defaults=defaults, feeds=tuple(feeds), rules=tuple(rules))

    def unknown_keys(self, node: CommentedMap, allowed: tuple[str, ...], what: str) -> None:
        for key in node:
            if key not in allowed:
                self.at(
                    self.key_pos(node, key),
                    f"unknown {what} {key!r}"
                    + (_suggest(str(key), allowed) or "; allowed: " + ", ".join(allowed)),
                )

    # -- sections ----------------------------------------------------------------------------------
    def defaults(self, doc: CommentedMap) -> Defaults:
        node = doc.get("defaults")
        if node is None:
            return Defaults()
        if not isinstance(node, CommentedMap):
            self.at(self.value_pos(doc, "defaults"), "`defaults` must be a mapping")
            return Defaults()
        self.unknown_keys(node, DEFAULT_KEYS, "key in defaults")
        self.default_destination_given = "channel" in node or "webhook" in node
        base = Defaults()
        channel = self.snowflake(node, "channel", "defaults.channel")
        interval, _auto = self.interval(node, "defaults.interval")
        return Defaults(
            channel=channel,
            interval=interval,
            backfill=self.duration(node, "backfill", "defaults.backfill", base.backfill, allow_zero=True),
            max_age=self.duration(node, "max_age", "defaults.max_age", base.max_age),
            webhook=self.webhook(node, "defaults.webhook"),
        )

    def feeds(self, doc: CommentedMap) -> list[Feed]:
        node = doc.get("feeds")
        if node is None:
            return []
        if not isinstance(node, CommentedSeq):
            self.at(
                self.value_pos(doc, "feeds"),
                "`feeds` must be a list of feeds (each `- name: … url: …`)",
            )
            return []
        out: list[Feed] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(node):
            pos = _item_pos(node, i)
            if not isinstance(item, CommentedMap):
                self.at(pos, f"feeds[{i}] must be a mapping with `name` and `url`")
                continue
            self.unknown_keys(item, FEED_KEYS, "feed key")
            name = self.name(item, f"feeds[{i}]", pos)
            url = self.url(item, f"feeds[{i}]", pos)
            interval, auto = self.interval(item, f"feed {name or i!r} interval")
            tags = self.str_list(item, "tags", f"feed {name or i!r} tags", allow_empty=True)
            if name:
                if name in seen:
                    self.at(
                        self.value_pos(item, "name"),
                        f"duplicate feed name {name!r} (first on line {seen[name]})",
                    )
                else:
                    seen[name] = pos[0] + 1
            avatar = self.optional_str(item, "avatar", f"feed {name!r} avatar")
            if avatar and not _is_http_url(avatar):
                self.at(self.value_pos(item, "avatar"), f"feed {name!r} avatar must be an http(s) URL")
            out.append(
                Feed(
                    name=name or "",
                    url=url or "",
                    interval=interval,
                    interval_auto=auto,
                    tags=tuple(tags),
                    webhook=self.webhook(item, f"feed {name!r} webhook"),
                    username=self.optional_str(item, "username", f"feed {name!r} username"),
                    avatar=avatar,
                    line=pos[0] + 1,
                )
            )
        return out

    def rules(self, doc: CommentedMap, feeds: list[Feed], defaults: Defaults) -> list[Rule]:
        node = doc.get("rules")
        if node is None:
            return []
        if not isinstance(node, CommentedSeq):
            self.at(
                self.value_pos(doc, "rules"),
                "`rules` must be a list of rules (each `- name: … keywords: […]`)",
            )
            return []
        feed_names = {f.name for f in feeds}
        tags = {t for f in feeds for t in f.tags}
        out: list[Rule] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(node):
            pos = _item_pos(node, i)
            if not isinstance(item, CommentedMap):
                self.at(pos, f"rules[{i}] must be a mapping with `name` and `keywords`")
                continue
            self.unknown_keys(item, RULE_KEYS, "rule key")
            name = self.name(item, f"rules[{i}]", pos)
            label = f"rule {name!r}" if name else f"rules[{i}]"
            if name:
                if name in seen:
                    self.at(
                        self.value_pos(item, "name"),
                        f"duplicate rule name {name!r} (first on line {seen[name]})",
                    )
                else:
                    seen[name] = pos[0] + 1
            keywords = self.terms(item, "keywords", label)
            regex = self.regexes(item, label)
            if "keywords" not in item and "regex" not in item:
                self.at(pos, f"{label} needs `keywords` or `regex`")
            all_terms = self.terms(item, "all", label)
            exclude = self.terms(item, "exclude", label)
            self.contradictions(item, label, keywords, all_terms, exclude)
            fields = self.fields(item, label)
            feed_refs = self.feed_refs(item, label, feed_names, tags)
            channel = self.snowflake(item, "channel", f"{label} channel")
            webhook = self.webhook(item, f"{label} webhook")
            nowhere = not (channel or webhook or defaults.channel or defaults.webhook)
            nowhere = nowhere and not self.default_destination_given and "channel" not in item
            if name and nowhere and not any(f.webhook for f in feeds):
                self.at(pos, f"{label} has no channel: set `channel` on it or `defaults.channel`")
            mention = self.snowflakes(item, "mention", f"{label} mention")
            severity = "normal"
            if "severity" in item:
                sev = item["severity"]
                if not isinstance(sev, str) or sev not in SEVERITIES:
                    self.at(
                        self.value_pos(item, "severity"),
                        f"{label} severity must be one of {', '.join(SEVERITIES)}, not {sev!r}"
                        + (_suggest(str(sev), SEVERITIES) if isinstance(sev, str) else ""),
                    )
                else:
                    severity = sev
            enabled = True
            if "enabled" in item:
                if isinstance(item["enabled"], bool):
                    enabled = item["enabled"]
                else:
                    self.at(self.value_pos(item, "enabled"), f"{label} enabled must be true or false")
            out.append(
                Rule(
                    name=name or "",
                    keywords=tuple(keywords),
                    all=tuple(all_terms),
                    exclude=tuple(exclude),
                    regex=tuple(regex),
                    fields=tuple(fields),
                    feeds=tuple(feed_refs),
                    channel=channel,
                    webhook=webhook,
                    mention=tuple(mention),
                    severity=severity,
                    enabled=enabled,
                    paused_until=self.timestamp(item, "paused_until", f"{label} paused_until"),
                    description=self.optional_str(item, "description", f"{label} description") or "",
                    line=pos[0] + 1,
                )
            )
        return out

    # -- values ------------------------------------------------------------------------------------
    def name(self, item: CommentedMap, label: str, pos: tuple[int, int]) -> str | None:
        if "name" not in item:
            self.at(pos, f"{label} needs a `name`")
            return None
        value = item["name"]
        if not isinstance(value, str) or not value.strip():
            self.at(self.value_pos(item, "name"), f"{label} name must be non-empty text")
            return None
        if value != value.strip() or not NAME.fullmatch(value):
            self.at(
                self.value_pos(item, "name"),
                f"{label} name {value!r} must be 1–64 characters on one line, without leading spaces or ':'",
            )
            return None
        return value

    def url(self, item: CommentedMap, label: str, pos: tuple[int, int]) -> str | None:
        if "url" not in item:
            self.at(pos, f"{label} needs a `url`")
            return None
        value = item["url"]
        if not isinstance(value, str) or not _is_http_url(value):
            self.at(
                self.value_pos(item, "url"),
                f"{label} url must be an http:// or https:// URL, not {value!r}",
            )
            return None
        return value.strip()

    def optional_str(self, item: CommentedMap, key: str, label: str) -> str | None:
        if key not in item or item[key] is None:
            return None
        value = item[key]
        if not isinstance(value, str):
            self.at(self.value_pos(item, key), f"{label} must be text")
            return None
        return value

    def duration(
        self, node: CommentedMap, key: str, label: str, default: float, *, allow_zero: bool = False
    ) -> float:
        if key not in node:
            return default
        value = node[key]
        try:
            return parse_duration(value, allow_zero=allow_zero)
        except DurationError as exc:
            self.at(self.value_pos(node, key), f"{label}: {exc}")
            return default

    def interval(self, node: CommentedMap, label: str) -> tuple[float | None, bool]:
        """(seconds, auto). ``interval: auto`` → (None, True)."""
        if "interval" not in node:
            return None, False
        value = node["interval"]
        if isinstance(value, str) and value.strip().lower() == "auto":
            return None, True
        try:
            return parse_duration(value), False
        except DurationError as exc:
            self.at(self.value_pos(node, "interval"), f"{label}: {exc} (or `auto`)")
            return None, False

    def timestamp(self, node: CommentedMap, key: str, label: str) -> datetime | None:
        if key not in node or node[key] is None:
            return None
        value = node[key]
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            self.at(self.value_pos(node, key), f"{label} must be a time like 2026-01-31T18:00:00Z")
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def snowflake(self, node: CommentedMap, key: str, label: str) -> str | None:
        if key not in node or node[key] is None:
            return None
        value = node[key]
        text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else None
        if text is None or not SNOWFLAKE.fullmatch(text):
            self.at(
                self.value_pos(node, key),
                f'{label} must be a Discord id (17–20 digits, e.g. "123456789012345678"), not {value!r}',
            )
            return None
        return text

    def snowflakes(self, node: CommentedMap, key: str, label: str) -> list[str]:
        if key not in node:
            return []
        value = node[key]
        items = value if isinstance(value, CommentedSeq) else [value]
        out: list[str] = []
        for i, v in enumerate(items):
            text = str(v).strip() if isinstance(v, str | int) and not isinstance(v, bool) else ""
            if not SNOWFLAKE.fullmatch(text):
                pos = _item_pos(value, i) if isinstance(value, CommentedSeq) else self.value_pos(node, key)
                self.at(pos, f"{label}: {v!r} is not a role id (17–20 digits)")
            else:
                out.append(text)
        return out

    def webhook(self, node: CommentedMap, label: str) -> str | None:
        if "webhook" not in node or node["webhook"] is None:
            return None
        value = node["webhook"]
        if (
            not isinstance(value, str)
            or not _is_http_url(value)
            or not WEBHOOK_PATH.search(urlsplit(value).path)
        ):
            # Never echo the value: a webhook URL is a secret.
            self.at(
                self.value_pos(node, "webhook"),
                f"{label} must be a Discord webhook URL (https://discord.com/api/webhooks/ID/TOKEN)",
            )
            return None
        return value.strip()

    def str_list(self, node: CommentedMap, key: str, label: str, *, allow_empty: bool = False) -> list[str]:
        return [v for _, v in self.str_items(node, key, label, allow_empty=allow_empty)]

    def str_items(
        self, node: CommentedMap, key: str, label: str, *, allow_empty: bool = False, quiet: bool = False
    ) -> list[tuple[tuple[int, int], str]]:
        """The valid entries of a list of text, each with its position in the file. ``quiet``: report
        nothing (the list was checked already)."""
        if quiet:
            silent = _Validator(self.path)
            silent.lines = self.lines
            return silent.str_items(node, key, label, allow_empty=allow_empty)
        if key not in node:
            return []
        value = node[key]
        if isinstance(value, str):
            value = [value]
        elif not isinstance(value, CommentedSeq):
            self.at(
                self.value_pos(node, key),
                f"{label} must be a list of text, e.g. [Tartus, Khmeimim]",
            )
            return []
        if not value and not allow_empty:
            self.at(
                self.value_pos(node, key),
                f"{label} is an empty list; remove it or add at least one entry",
            )
        out: list[tuple[tuple[int, int], str]] = []
        for i, v in enumerate(value):
            pos = _item_pos(value, i) if isinstance(value, CommentedSeq) else self.value_pos(node, key)
            if isinstance(v, bool) or not isinstance(v, str | int | float) or not str(v).strip():
                self.at(pos, f"{label}: entry {i + 1} must be non-empty text, not {v!r}")
            else:
                out.append((pos, self.as_written(v, pos).strip()))
        return out

    def as_written(self, value: str | int | float, pos: tuple[int, int]) -> str:
        """An entry of a list of text as the file has it: YAML reads an unquoted ``007``, ``1.10``, ``0x1F``
        or ``1e3`` as a number (7, 1.1, 31, 1000.0), but the keyword is what was written."""
        if isinstance(value, str):
            return value
        line, column = pos
        written = _NUMBER.match(self.lines[line], column) if 0 <= line < len(self.lines) else None
        return written.group() if written else str(value)

    def terms(self, node: CommentedMap, key: str, label: str) -> list[str]:
        value = node.get(key)
        if type(value) is str and "," in value:
            # An unquoted `keywords: Tartus, Khmeimim` is one term that never matches, not a list.
            listed = ", ".join(part.strip() for part in value.split(",") if part.strip())
            self.at(
                self.value_pos(node, key),
                f"{label} {key}: {value!r} is one term with commas in it; for a list write [{listed}], "
                "for one term quote it",
            )
            return []
        items = self.str_items(node, key, f"{label} {key}")
        for pos, term in items:
            problem = term_problem(term)
            if problem:
                self.at(pos, f"{label} {key}: {problem}")
        return [t for _, t in items]

    def contradictions(
        self, item: CommentedMap, label: str, keywords: list[str], all_terms: list[str], exclude: list[str]
    ) -> None:
        """A term both wanted and excluded makes a rule whose every match is vetoed."""
        wanted = {fold(t): key for key, terms in (("keywords", keywords), ("all", all_terms)) for t in terms}
        for pos, t in self.str_items(item, "exclude", "", allow_empty=True, quiet=True):
            if fold(t) in wanted:
                self.at(
                    pos,
                    f"{label} exclude: {t!r} is also in `{wanted[fold(t)]}`; an item holding it would be "
                    "excluded every time",
                )

    def regexes(self, node: CommentedMap, label: str) -> list[str]:
        items = self.str_items(node, "regex", f"{label} regex")
        for pos, pattern in items:
            compiled, problem = _compile_regex(pattern)
            if problem:
                self.at(pos, f"{label} regex {pattern!r} is invalid: {problem}")
            elif compiled is not None and pattern not in self.compiled_regexes:
                self.compiled_regexes[pattern] = (compiled, pos, label)
        return [p for _, p in items]

    def regex_set(self) -> None:
        """The matcher runs every pattern in RE2 sets (``bot.rules.regex.regex_set``): build the same
        sets, so that a pattern too large for them is reported here and not when items are matched."""
        entries = list(self.compiled_regexes.values())
        built = regex_set([c for c, _, _ in entries])
        if built is None:
            return
        for i in built.failed:
            compiled, pos, label = entries[i]
            self.at(
                pos,
                f"{label} regex {compiled.pattern!r} is too large: RE2 cannot compile it within "
                f"{built.max_mem >> 20} MB; repeat less (each \\w is every letter of Unicode)",
            )

    def fields(self, node: CommentedMap, label: str) -> list[str]:
        if "fields" not in node:
            return list(DEFAULT_FIELDS)
        items = self.str_items(node, "fields", f"{label} fields")
        fields = [f for _, f in items]
        for pos, f in items:
            if f not in ENTRY_FIELDS:
                self.at(
                    pos,
                    f"{label} fields: unknown field {f!r}{_suggest(f, ENTRY_FIELDS)}"
                    f" (one of {', '.join(ENTRY_FIELDS)})",
                )
        return [f for f in fields if f in ENTRY_FIELDS] or list(DEFAULT_FIELDS)

    def feed_refs(self, node: CommentedMap, label: str, names: set[str], tags: set[str]) -> list[str]:
        items = self.str_items(node, "feeds", f"{label} feeds")
        for pos, ref in items:
            if ref.startswith("tag:"):
                if ref[4:] not in tags:
                    self.at(
                        pos,
                        f"{label} feeds: no feed has tag {ref[4:]!r}{_suggest(ref[4:], sorted(tags))}",
                    )
            elif ref not in names:
                self.at(pos, f"{label} feeds: unknown feed {ref!r}{_suggest(ref, sorted(names))}")
        return [r for _, r in items]


def term_problem(term: str) -> str | None:
    """Why a keyword/all/exclude term cannot be used, or None."""
    body = term[:-1] if term.endswith("*") else term
    if "*" in body:
        return f"{term!r}: '*' is only allowed at the end of a keyword (prefix match)"
    if compile_term(term) is None:
        return f"{term!r} has no letters or digits to match"
    return None


def regex_problem(pattern: str) -> str | None:
    """Why a ``regex`` pattern cannot be used, or None (see ``bot.rules.regex``)."""
    return _compile_regex(pattern)[1]


def _compile_regex(pattern: str) -> tuple[CompiledRegex | None, str | None]:
    """(the compiled pattern, None) or (None, why it cannot be used)."""
    controls = sorted({c for c in pattern if ord(c) < 32 and c not in "\t\n"})
    if controls:
        names = {"\b": "\\b (backspace)", "\f": "\\f", "\v": "\\v", "\a": "\\a", "\x1b": "\\e"}
        which = ", ".join(names.get(c, repr(c)) for c in controls)
        return None, (
            f"it holds the control character {which}: inside double quotes YAML turns backslash escapes "
            "into characters; write the pattern in single quotes, e.g. '\\bTartus\\b'"
        )
    try:
        return compile_regex(pattern), None
    except RegexError as exc:
        return None, str(exc)


def _is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _node_pos(node: Any) -> tuple[int, int]:
    lc = getattr(node, "lc", None)
    if lc is None:
        return (0, 0)
    return (lc.line, lc.col)


def _item_pos(seq: Any, i: int) -> tuple[int, int]:
    try:
        line, col = seq.lc.item(i)
    except (KeyError, AttributeError, TypeError, IndexError, ValueError):
        return _node_pos(seq)
    return int(line), int(col)
