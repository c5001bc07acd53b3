"""The match stage: every rule judged against one entry, with the evidence.

Order of evaluation (the one place it is written down):

1. A rule that is disabled or paused → ``disabled``. A rule whose ``feeds`` do not include the entry's
   feed → ``other_feed``.
2. Each of the rule's ``fields`` is folded (case, width, accents; see ``bot.match.text``).
3. ``keywords`` and ``regex`` are searched; none found → ``no_match``.
4. ``exclude`` terms are searched; any found → ``excluded``. Exclusion always wins.
5. Every ``all`` term must be found somewhere in the rule's fields; any missing → ``missing_all``.
6. Otherwise → ``matched``.

Keywords match whole words and phrases: a term never matches inside a longer word, in any script, because
the characters on either side of a hit must not be letters or digits. ``word*`` matches any word starting
with ``word``. A phrase matches across any run of whitespace.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import re2

from bot.match.text import fold, fold_with_offsets
from bot.model import Entry, Hit, RuleOutcome, utcnow
from bot.rules.model import Config, Feed, Rule

__all__ = ["Matcher", "compile_rules", "fold"]


def _term_pattern(term: str) -> str:
    prefix = term.endswith("*")
    body = fold(term[:-1] if prefix else term).strip()
    parts = [re.escape(p) for p in body.split()]
    core = r"\s+".join(parts)
    before = r"(?<![^\W_])" if body[:1].isalnum() or body[:1] == "_" else ""
    if prefix:
        after = r"[^\W_]*"  # the rest of the word, so the hit covers all of it
    else:
        after = r"(?![^\W_])" if body[-1:].isalnum() else ""
    return f"{before}{core}{after}"


@dataclass(frozen=True, slots=True)
class _TermSet:
    """Terms compiled into one regex; the named group says which term hit."""

    terms: tuple[str, ...]
    pattern: re.Pattern[str] | None

    @classmethod
    def build(cls, terms: Iterable[str]) -> _TermSet:
        ts = tuple(terms)
        if not ts:
            return cls(ts, None)
        alts = "|".join(f"(?P<t{i}>{_term_pattern(t)})" for i, t in enumerate(ts))
        return cls(ts, re.compile(alts))

    def find(self, field: str, folded: str, offsets: list[int], original: str, kind: str) -> list[Hit]:
        if self.pattern is None:
            return []
        hits = []
        for m in self.pattern.finditer(folded):
            i = int(m.lastgroup[1:]) if m.lastgroup else 0
            start, end = offsets[m.start()], offsets[m.end() - 1] + 1
            hits.append(Hit(self.terms[i], field, start, end, original[start:end], kind))  # type: ignore[arg-type]
        return hits


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    rule: Rule
    keywords: _TermSet
    all: tuple[_TermSet, ...]
    exclude: _TermSet
    regex: tuple[tuple[str, Any], ...]


def _re2(pattern: str) -> Any:
    """User regexes run on RE2: linear time, so no pattern can hang the bot."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    return re2.compile(pattern, options)


class Matcher:
    """All rules of one ``Config``, compiled once. Pure: no I/O, no state between calls."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._rules = [
            _CompiledRule(
                rule=r,
                keywords=_TermSet.build(r.keywords),
                all=tuple(_TermSet.build([t]) for t in r.all),
                exclude=_TermSet.build(r.exclude),
                regex=tuple((p, _re2(p)) for p in r.regex),
            )
            for r in config.rules
        ]

    def match(self, entry: Entry, feed: Feed | None = None, now: datetime | None = None) -> list[RuleOutcome]:
        """One outcome per rule, in file order. ``feed=None`` applies every rule regardless of ``feeds``."""
        now = now or utcnow()
        cache: dict[str, tuple[str, list[int], str]] = {}

        def folded(name: str) -> tuple[str, list[int], str]:
            if name not in cache:
                original = entry.field_text(name)
                f, offsets = fold_with_offsets(original)
                cache[name] = (f, offsets, original)
            return cache[name]

        out: list[RuleOutcome] = []
        for cr in self._rules:
            rule = cr.rule
            if not rule.active(now):
                out.append(RuleOutcome(rule.name, "disabled"))
                continue
            if feed is not None and not rule.watches(feed):
                out.append(RuleOutcome(rule.name, "other_feed"))
                continue
            hits: list[Hit] = []
            for name in rule.fields:
                f, offsets, original = folded(name)
                hits += cr.keywords.find(name, f, offsets, original, "keyword")
                for pattern, rx in cr.regex:
                    for m in rx.finditer(original):
                        hits.append(Hit(pattern, name, m.start(), m.end(), m.group(0), "regex"))
            if not hits:
                out.append(RuleOutcome(rule.name, "no_match"))
                continue
            excluded = [h for name in rule.fields for h in cr.exclude.find(name, *folded(name), "exclude")]
            if excluded:
                out.append(RuleOutcome(rule.name, "excluded", tuple(hits + excluded)))
                continue
            missing: list[str] = []
            for ts in cr.all:
                found = [h for name in rule.fields for h in ts.find(name, *folded(name), "all")]
                if found:
                    hits += found
                else:
                    missing.append(ts.terms[0])
            if missing:
                out.append(RuleOutcome(rule.name, "missing_all", tuple(hits), tuple(missing)))
                continue
            out.append(RuleOutcome(rule.name, "matched", tuple(hits)))
        return out


def compile_rules(config: Config) -> Matcher:
    return Matcher(config)
