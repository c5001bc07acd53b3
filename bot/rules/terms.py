"""Keywords (and ``all``/``exclude`` terms) compiled into keys for one Aho-Corasick automaton.

Text is searched as its *word string*: ``" " + " ".join(words(fold(text))) + " "`` (see ``bot.rules.text``).
A keyword becomes the same kind of string, so whole-word matching is plain substring search:

* ``Tartus`` → ``" tartus "`` — the spaces make it a whole word.
* ``evacuat*`` → ``" evacuat"`` — no trailing space: any word starting with ``evacuat``; the hit is
  widened to the whole word.
* ``Russian navy`` → ``" russian navy "``; between the words the text may hold any whitespace or hyphens,
  plus any punctuation the keyword itself has between them (``U.S.`` matches ``U.S.`` but ``Tartus port``
  does not match ``Tartus. Port``). That is checked after the automaton finds the words.
* A keyword starting or ending in a no-space script (Han, Kana, Hangul, Thai …) drops the space on that
  side: ``塔尔图斯`` → ``"塔尔图斯"`` matches inside a run of Han characters.
* Arabic proclitics: an Arabic word of three or more letters also matches with the conjunctions و ف,
  the prepositions ب ك ل and the article ال in front, alone or stacked (``والطرطوس``, ``بطرطوس``,
  ``لطرطوس``; ``القاعدة`` also as ``بالقاعدة``, ``للقاعدة``). Only the first word of a phrase takes them.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from itertools import pairwise

from bot.rules.text import fold, is_nospace, spaced, word_spans

__all__ = ["Term", "arabic_forms", "compile_term", "gap_allowed", "normalise_gap"]

_ARTICLE = "\u0627\u0644"  # ال
_LAM = "\u0644"  # ل
_CONJUNCTIONS = ("", "\u0648", "\u0641")  # و ف
_PREPOSITIONS = ("", "\u0628", "\u0643", _LAM)  # ب ك ل
_APOSTROPHES = frozenset("'’‘ʼʻ`´′")


@dataclass(frozen=True, slots=True)
class Term:
    """One keyword as written, compiled."""

    text: str  # as written in keywords.yaml (trimmed)
    prefix: bool  # written as ``word*``
    keys: tuple[str, ...]  # word-string keys; the first is the term itself, the rest its Arabic forms
    gaps: frozenset[str]  # characters (normalised) allowed between the words of a phrase
    extend: bool  # widen a hit to the end of its last word (prefix terms outside no-space scripts)


def normalise_gap(ch: str) -> str:
    """The class a character between two words belongs to: space, hyphen, apostrophe or itself."""
    if ch.isspace():
        return " "
    if ch in _APOSTROPHES:
        return "'"
    if ch == "-" or unicodedata.category(ch) == "Pd":
        return "-"
    return ch


def gap_allowed(gap: str, allowed: frozenset[str]) -> bool:
    return all(normalise_gap(c) in allowed for c in gap)


def _is_arabic_word(word: str) -> bool:
    return all("\u0620" <= c <= "\u064a" or "\u066e" <= c <= "\u06d3" for c in word)


def arabic_forms(word: str) -> list[str]:
    """``word`` (folded Arabic) with every stack of proclitics in front, itself excluded."""
    if len(word) < 3 or not _is_arabic_word(word):
        return []
    definite = word.startswith(_ARTICLE) and len(word) >= 5
    stem = word[2:] if definite else word
    forms: set[str] = set()
    for conj in _CONJUNCTIONS:
        for prep in _PREPOSITIONS:
            for article in (_ARTICLE,) if definite else ("", _ARTICLE):
                if prep == _LAM and article == _ARTICLE:
                    # لِ + ال → لل (and لل + ل… → لل… : لليل from ل + الليل)
                    forms.add(conj + _LAM + _LAM + stem)
                    if stem.startswith(_LAM):
                        forms.add(conj + _LAM + stem)
                else:
                    forms.add(conj + prep + article + stem)
    forms.discard(word)
    return sorted(forms)


def compile_term(text: str) -> Term | None:
    """``text`` compiled, or None when it holds no word to match (the loader reports that)."""
    text = text.strip()
    prefix = text.endswith("*")
    body = text[:-1] if prefix else text
    folded = fold(body)
    words = spaced(folded).split()
    if not words:
        return None
    spans = word_spans(folded)
    allowed = {" ", "-"}
    for (_, end), (start, _) in pairwise(spans):
        allowed.update(normalise_gap(c) for c in folded[end:start])
    core = " ".join(words)
    lead = "" if is_nospace(core[0]) else " "
    last_nospace = is_nospace(core[-1])
    trail = "" if prefix or last_nospace else " "
    keys = [lead + core + trail]
    if lead:
        rest = core[len(words[0]) :]
        keys += [lead + form + rest + trail for form in arabic_forms(words[0])]
    return Term(
        text=text,
        prefix=prefix,
        keys=tuple(keys),
        gaps=frozenset(allowed),
        extend=prefix and not last_nospace,
    )
