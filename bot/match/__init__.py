"""The match stage: every rule judged against one entry, with the evidence.

Matching semantics (``docs/rules.md`` says the same for rule writers):

* Text and keywords are *folded* before they are compared: Unicode NFKC, case folded, diacritics dropped,
  script variants unified (``bot.rules.text`` lists every step: ``Tartūs`` = ``Tartus``, ``ё`` = ``е``,
  ``أ`` = ``ا``, ``ة`` = ``ه``, Greek ``ς`` = ``σ``).
* A keyword matches whole words only, in every script: the text is cut into words (runs of letters, digits
  and marks), so ``Tartus`` matches ``Tartus,`` ``Tartus's`` ``#Tartus`` ``(Tartus)`` ``Tartus-based`` but
  never ``Tartuse``; ``Тартус`` never ``Тартусом``. Scripts written without spaces (Han, Kana, Hangul, Thai,
  Lao, Khmer, Myanmar) have no word boundaries to find: a keyword in them matches wherever its characters
  appear in that order. Arabic words also match behind the proclitics و ف ب ك ل ال (``بطرطوس``).
* ``word*`` matches every word starting with ``word``. A phrase (``Russian navy``) matches its words in
  order, separated by any whitespace — line breaks included — or hyphens, and by any punctuation the
  keyword itself has between its words.
* Punctuation at the edges of a keyword is ignored (``#Tartus`` = ``Tartus``).
* ``regex`` patterns are RE2 run on the same folded text, with Unicode-aware ``\\b`` and ``\\w``
  (``bot.rules.regex``).
* Entries reach the matcher as plain text (the parse stage strips HTML and decodes entities;
  ``newshound test-rule`` does the same to its input).

Order of evaluation, per rule (the one place it is written down):

1. ``enabled: false``, or ``paused_until`` in the future → ``disabled``.
2. The entry's feed is not among the rule's ``feeds`` (names or ``tag:NAME``) → ``other_feed``. Without a
   feed (``feed=None``, e.g. ``test-rule``) every rule applies.
3. ``keywords`` and ``regex`` are searched in the rule's ``fields`` (default title, summary, content).
   Nothing found → ``no_match``.
4. ``exclude`` terms are searched in the same fields; any found → ``excluded``. Exclusion always wins.
5. Every ``all`` term must be found somewhere in those fields; any missing → ``missing_all``.
6. Otherwise → ``matched``: the rule fires.

Every outcome carries its evidence as ``Hit``s: term, field, the span of the *original* field text and
that text, so explanations and bold markup point at what the reader saw.

Speed: all rules compile into two Aho-Corasick automata and one RE2 set (rarely a few), whatever their
number. Per field, a first pass looks for single words and the first word of every phrase in the text with
its separators turned into spaces; only when that finds something that could make a rule fire does the
exact pass run: every term of every rule, as one automaton over the text's word string (see
``bot.rules.terms``), then the span mapping and phrase checks. Every regex is one member of a single RE2
set that says which patterns can match at all (several sets when together they exceed RE2's memory
budget). Only rules with a hit are looked at. Cost per entry is nearly flat in the number of rules
(``python -m bench.match``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, Literal

import ahocorasick

from bot.model import ENTRY_FIELDS, Entry, Hit, RuleOutcome, utcnow
from bot.rules.model import Config, Feed, Rule
from bot.rules.regex import CompiledRegex, RegexError, compile_regex, regex_set
from bot.rules.terms import Term, compile_term, gap_allowed
from bot.rules.text import combining_end, fold, fold_with_offsets, is_nospace, spaced, word_spans_iter

__all__ = ["Matcher", "compile_rules", "fold"]


@dataclass(frozen=True, slots=True)
class _Program:
    """One rule, as term and regex ids."""

    index: int
    rule: Rule
    keywords: tuple[int, ...]
    all: tuple[int, ...]
    exclude: tuple[int, ...]
    regex: tuple[int, ...]
    fields: frozenset[str]


@dataclass(slots=True)
class _Field:
    """One field of the entry being matched."""

    name: str
    text: str
    folded: str
    wordstr: str
    raw: list[tuple[int, Any]]
    regex_ids: list[int]
    encoded: bytes  # folded in UTF-8, when a regex may match


HitKind = Literal["keyword", "all", "exclude", "regex"]

# A found term or regex: (field name, start, end) in the original field text.
_Span = tuple[str, int, int]


class Matcher:
    """All rules of one ``Config``, compiled once. Pure: no I/O; ``match`` keeps no state between calls."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._terms: list[Term] = []
        term_ids: dict[str, int] = {}
        self._regexes: list[CompiledRegex] = []
        regex_ids: dict[str, int] = {}

        def term(text: str) -> int | None:
            key = text.strip()
            if key not in term_ids:
                compiled = compile_term(key)
                if compiled is None:
                    return None
                term_ids[key] = len(self._terms)
                self._terms.append(compiled)
            return term_ids[key]

        def terms(texts: Iterable[str]) -> tuple[int, ...]:
            return tuple(dict.fromkeys(t for t in map(term, texts) if t is not None))

        def regex(pattern: str) -> int | None:
            if pattern not in regex_ids:
                try:
                    compiled = compile_regex(pattern)
                except RegexError:
                    return None  # the loader reports it; a rule never fires on a broken pattern
                regex_ids[pattern] = len(self._regexes)
                self._regexes.append(compiled)
            return regex_ids[pattern]

        self._programs: list[_Program] = []
        for i, r in enumerate(config.rules):
            self._programs.append(
                _Program(
                    index=i,
                    rule=r,
                    keywords=terms(r.keywords),
                    all=terms(r.all),
                    exclude=terms(r.exclude),
                    regex=tuple(dict.fromkeys(x for x in map(regex, r.regex) if x is not None)),
                    fields=frozenset(r.fields),
                )
            )
        used = {f for r in config.rules for f in r.fields}
        self._fields = tuple(f for f in ENTRY_FIELDS if f in used)

        # Which rules a term (as a keyword) or a regex can make fire.
        keyword_rules: dict[int, set[int]] = {}
        regex_rules: dict[int, set[int]] = {}
        for p in self._programs:
            for t in p.keywords:
                keyword_rules.setdefault(t, set()).add(p.index)
            for x in p.regex:
                regex_rules.setdefault(x, set()).add(p.index)
        self._regex_rules = {x: frozenset(rs) for x, rs in regex_rules.items()}

        keys: dict[str, list[int]] = {}
        for tid, compiled_term in enumerate(self._terms):
            for k in compiled_term.keys:
                keys.setdefault(k, []).append(tid)
        self._automaton: Any = None
        if keys:
            automaton = ahocorasick.Automaton()
            for k, tids in keys.items():
                extend = self._terms[tids[0]].extend
                fires = frozenset(r for t in tids for r in keyword_rules.get(t, ()))
                automaton.add_word(k, (len(k), extend, tuple(tids), fires))
            automaton.make_automaton()
            self._automaton = automaton
        # The first pass over each field: single words and the first word of every phrase, found in the
        # spaced text as it is (no collapsing of spaces). A superset of the exact search, and cheaper.
        anchors: dict[str, set[int]] = {}
        for k, tids in keys.items():
            anchors.setdefault(_anchor(k), set()).update(r for t in tids for r in keyword_rules.get(t, ()))
        self._anchors: Any = None
        if anchors:
            first_pass = ahocorasick.Automaton()
            for k, rules in anchors.items():
                first_pass.add_word(k, frozenset(rules))
            first_pass.make_automaton()
            self._anchors = first_pass
        self._key_count = len(keys)
        self._regex_set = regex_set(self._regexes)

        self._bases: dict[tuple[str, tuple[str, ...]] | None, list[RuleOutcome]] = {}
        self._paused = [
            (p.index, p.rule.paused_until, RuleOutcome(p.rule.name, "disabled"))
            for p in self._programs
            if p.rule.enabled and p.rule.paused_until is not None
        ]

    # -- public ------------------------------------------------------------------------------------------
    @property
    def stats(self) -> dict[str, int]:
        """Sizes, for logs and benchmarks: rules, distinct terms, automaton keys, regexes."""
        return {
            "rules": len(self._programs),
            "terms": len(self._terms),
            "keys": self._key_count,
            "regexes": len(self._regexes),
        }

    def match(self, entry: Entry, feed: Feed | None = None, now: datetime | None = None) -> list[RuleOutcome]:
        """One outcome per rule, in file order. ``feed=None`` applies every rule regardless of ``feeds``."""
        out = list(self._base(feed))
        if self._paused:
            now = now or utcnow()
            for i, until, disabled in self._paused:
                if until is not None and now < until and out[i].verdict != "disabled":
                    out[i] = disabled

        # First pass: which fields can hold a term at all, and which rules could fire.
        firsts: list[tuple[str, str, str, str, list[int], bytes]] = []
        candidates: set[int] = set()
        anchors = self._anchors
        rset = self._regex_set
        for name in self._fields:
            text = entry.field_text(name)
            if not text:
                continue
            folded = fold(text)
            spaced_text = ""
            anchored = False
            if anchors is not None:
                spaced_text = spaced(folded)
                for _, fires in anchors.iter(" " + spaced_text + " "):
                    anchored = True
                    candidates.update(fires)
            regex_ids: list[int] = []
            encoded = b""
            if rset is not None:
                encoded = folded.encode("utf-8")  # once: the set and every regex search bytes
                regex_ids = rset.match(encoded)
                for x in regex_ids:
                    candidates.update(self._regex_rules.get(x, ()))
            if anchored or regex_ids:
                firsts.append((name, text, folded, spaced_text if anchored else "", regex_ids, encoded))
        candidates = {i for i in candidates if out[i].verdict == "no_match"}
        if not candidates:
            return out

        # Exact pass, only over fields where something may hit.
        scanned: list[_Field] = []
        for name, text, folded, spaced_text, regex_ids, encoded in firsts:
            wordstr = ""
            raw: list[tuple[int, Any]] = []
            if spaced_text:
                wordstr = " " + " ".join(spaced_text.split()) + " "
                raw = list(self._automaton.iter(wordstr))
            scanned.append(_Field(name, text, folded, wordstr, raw, regex_ids, encoded))

        found: dict[int, list[_Span]] = {}
        found_rx: dict[int, list[_Span]] = {}
        texts: dict[str, str] = {}
        for f in scanned:
            texts[f.name] = f.text
            self._resolve(f, found, found_rx)
        order = {name: i for i, name in enumerate(ENTRY_FIELDS)}

        def hits(ids: Iterable[int], table: dict[int, list[_Span]], kind: HitKind, p: _Program) -> list[Hit]:
            out_hits: list[Hit] = []
            for x in ids:
                label = self._terms[x].text if table is found else self._regexes[x].pattern
                for field, start, end in table.get(x, ()):
                    if field in p.fields:
                        out_hits.append(Hit(label, field, start, end, texts[field][start:end], kind))
            return out_hits

        def ordered(hs: list[Hit]) -> tuple[Hit, ...]:
            return tuple(sorted(hs, key=lambda h: (order.get(h.field, 99), h.start, h.end, h.kind)))

        for i in sorted(candidates):
            p = self._programs[i]
            found_hits = hits(p.keywords, found, "keyword", p) + hits(p.regex, found_rx, "regex", p)
            if not found_hits:
                continue
            excluded = hits(p.exclude, found, "exclude", p)
            if excluded:
                out[i] = RuleOutcome(p.rule.name, "excluded", ordered(found_hits + excluded))
                continue
            missing: list[str] = []
            for t in p.all:
                required = hits((t,), found, "all", p)
                if required:
                    found_hits += required
                else:
                    missing.append(self._terms[t].text)
            if missing:
                out[i] = RuleOutcome(p.rule.name, "missing_all", ordered(found_hits), tuple(missing))
                continue
            out[i] = RuleOutcome(p.rule.name, "matched", ordered(found_hits))
        return out

    def fired(self, entry: Entry, feed: Feed | None = None, now: datetime | None = None) -> list[RuleOutcome]:
        """Only the outcomes of rules that fire."""
        return [o for o in self.match(entry, feed, now) if o.fired]

    # -- internals ---------------------------------------------------------------------------------------
    def _base(self, feed: Feed | None) -> list[RuleOutcome]:
        """Outcomes before any text is read: disabled, other_feed or (for now) no_match."""
        key = None if feed is None else (feed.name, feed.tags)
        base = self._bases.get(key)
        if base is None:
            base = []
            for p in self._programs:
                if not p.rule.enabled:
                    base.append(RuleOutcome(p.rule.name, "disabled"))
                elif feed is not None and not p.rule.watches(feed):
                    base.append(RuleOutcome(p.rule.name, "other_feed"))
                else:
                    base.append(RuleOutcome(p.rule.name, "no_match"))
            if len(self._bases) > 4096:
                self._bases.clear()
            self._bases[key] = base
        return base

    def _resolve(self, f: _Field, found: dict[int, list[_Span]], found_rx: dict[int, list[_Span]]) -> None:
        """Turn the automaton's and the regex set's raw results for one field into spans of its text."""
        folded2, offsets = fold_with_offsets(f.text)
        if folded2 != f.folded:  # pragma: no cover - fold() and fold_with_offsets() agree by construction
            raise AssertionError("fold() and fold_with_offsets() disagree")

        def original(start: int, end: int) -> tuple[int, int]:
            # Marks folded away after the last character (an accent, the rest of a composed letter) belong
            # to the span: markup must not separate them from their letter.
            return offsets[start], combining_end(f.text, offsets[end - 1] + 1, offsets[end])

        if f.raw:
            wordstr = f.wordstr
            located = []
            last = 0
            for end, value in f.raw:
                length = value[0]
                s, t = end - length + 1, end
                if wordstr[s] == " ":
                    s += 1
                if wordstr[t] == " ":
                    t -= 1
                # The word string starts with a space and has one between words: counting spaces before
                # a position says which word it is in.
                ks = wordstr.count(" ", 0, s + 1) - 1
                kt = ks + wordstr.count(" ", s, t + 1)
                ws = wordstr.rfind(" ", 0, s + 1) + 1  # start of word ks in the word string
                wt = wordstr.rfind(" ", 0, t + 1) + 1  # start of word kt
                located.append((ks, kt, s - ws, t - wt, value))
                last = max(last, kt)
            spans = list(islice(word_spans_iter(f.folded), last + 1))
            for ks, kt, into_s, into_t, (_, extend, tids, _) in located:
                fstart = spans[ks][0] + into_s
                fend = spans[kt][1] if extend else spans[kt][0] + into_t + 1
                gaps = [f.folded[spans[k][1] : spans[k + 1][0]] for k in range(ks, kt)]
                span = original(fstart, fend)
                for tid in tids:
                    allowed = self._terms[tid].gaps
                    if all(gap_allowed(g, allowed) for g in gaps):
                        found.setdefault(tid, []).append((f.name, *span))
        for x in f.regex_ids:
            for start, end in self._regexes[x].finditer(f.folded, f.encoded):
                found_rx.setdefault(x, []).append((f.name, *original(start, end)))


def _anchor(key: str) -> str:
    """The first-pass key for a word-string key: itself for a single word, else its first word (with the
    space that must follow it, unless that word is of a no-space script)."""
    words = key.strip(" ").split(" ")
    if len(words) == 1:
        return key
    lead = " " if key.startswith(" ") else ""
    first = words[0]
    return lead + first + ("" if is_nospace(first[-1]) else " ")


def compile_rules(config: Config) -> Matcher:
    return Matcher(config)
