"""Text for matching: folding (case, width, accents, script variants) and splitting into words.

Folding works one character at a time, so every folded character maps back to the character of the
original text it came from (``fold_with_offsets``): hits are found in folded text and reported as spans of
the text the reader saw. ``fold(fold(s)) == fold(s)`` for every string.

Text is first composed (Unicode NFC) when it is not already: decomposed text — a letter followed by
combining marks, as some systems write it — folds exactly like precomposed text, so ``и`` + combining breve
is ``й`` and keeps its breve, and ``カ`` + combining dakuten is ``ガ``.

What folding does to a character, in order:

* Invisible format characters (soft hyphen, zero-width joiners, bidi marks, variation selectors) vanish, so
  ``Tar\\u00adtus`` is ``tartus``; a zero-width space becomes a space.
* Compatibility forms become their plain form (NFKD/NFKC): full-width ``ＴＡＲＴＵＳ``, ligatures ``ﬁ``,
  Arabic presentation forms, circled and superscript digits.
* Diacritics are dropped: Latin (``Tartūs`` = ``tartus``, ``Hméimim`` = ``hmeimim``), Greek tonos and
  dialytika, Hebrew points, Arabic harakat, shadda and the hamza/madda carried by alef, waw and ya
  (``أ إ آ`` → ``ا``, ``ؤ`` → ``و``, ``ئ`` → ``ي``). Two exceptions keep meaning intact: the Cyrillic breve
  stays (``й`` and ``ў`` are letters of their own, ``ё`` folds to ``е``), and marks that are vowels or
  voicing in other scripts (Devanagari, Thai, Japanese dakuten …) stay.
* Case is folded with Unicode full case folding: ``ß`` = ``ss``, Greek final ``ς`` = ``σ``.
* Arabic script: alef wasla ``ٱ`` → ``ا``, alef maqsura ``ى`` → ``ي``, taa marbuta ``ة`` → ``ه`` (``حماة`` =
  ``حماه``), tatweel ``ـ`` vanishes, Persian ``ی``/``ک`` → Arabic ``ي``/``ك``.
* Latin letters without a decomposition that writers often replace: ``ı ł ø đ ħ æ œ ð þ`` → ``i l o d h ae
  oe d th``.
* Every decimal digit becomes an ASCII digit (``٣٠٠`` = ``300``).

Words (``words``): a word is a run of letters, digits and (kept) combining marks. Everything else —
spaces, punctuation, symbols, the underscore — separates words, so ``Tartus,`` ``Tartus's`` ``#Tartus``
``(Tartus)`` ``Tartus-based`` all hold the word ``tartus``. Scripts written without spaces between words
(Han, Hiragana, Katakana, Hangul, Thai, Lao, Khmer, Myanmar) have no word boundaries to find, so each of
their characters is a word of its own: a keyword in those scripts matches wherever its characters appear in
that order.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from functools import cache, lru_cache

from bot.rules import unicode_tables

__all__ = [
    "combining_end",
    "fold",
    "fold_char",
    "fold_with_offsets",
    "is_boundary",
    "is_boundary_between",
    "is_nospace",
    "is_word_char",
    "spaced",
    "word_spans",
    "word_spans_iter",
    "words",
]

# Combining marks that are diacritics (dropped). Other marks (Indic vowel signs, Thai vowels and tones,
# kana voicing marks …) are part of the letter and stay.
_DIACRITIC_RANGES: tuple[tuple[int, int], ...] = (
    (0x0300, 0x036F),  # combining diacritical marks (Latin, Greek, Cyrillic accents)
    (0x0483, 0x0489),  # Cyrillic titlo and friends
    (0x0591, 0x05BD),  # Hebrew cantillation and points
    (0x05BF, 0x05BF),
    (0x05C1, 0x05C2),
    (0x05C4, 0x05C5),
    (0x05C7, 0x05C7),
    (0x0610, 0x061A),  # Arabic honorific signs
    (0x064B, 0x065F),  # Arabic harakat, shadda, sukun, hamza above/below, madda
    (0x0670, 0x0670),  # superscript alef
    (0x06D6, 0x06DC),  # Quranic annotation
    (0x06DF, 0x06E4),
    (0x06E7, 0x06E8),
    (0x06EA, 0x06ED),
    (0x08D3, 0x08E1),
    (0x08E3, 0x08FF),
    (0x1AB0, 0x1AFF),  # combining diacritical marks extended
    (0x1DC0, 0x1DFF),  # combining diacritical marks supplement
    (0x20D0, 0x20FF),  # combining marks for symbols
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFE20, 0xFE2F),  # combining half marks
    (0xE0100, 0xE01EF),  # variation selectors supplement
)

# Scripts written without spaces between words: every character is a word of its own.
_NOSPACE_RANGES: tuple[tuple[int, int], ...] = (
    (0x0E00, 0x0E7F),  # Thai
    (0x0E80, 0x0EFF),  # Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1100, 0x11FF),  # Hangul jamo
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3021, 0x3029),  # Hangzhou numerals
    (0x3031, 0x3035),  # kana repeat marks
    (0x3038, 0x303C),
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x312F),  # Bopomofo
    (0x3130, 0x318F),  # Hangul compatibility jamo
    (0x31A0, 0x31BF),
    (0x31F0, 0x31FF),
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA960, 0xA97F),  # Hangul jamo extended A
    (0xAC00, 0xD7FF),  # Hangul syllables, jamo extended B
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana (folded to full width anyway)
    (0xFFA0, 0xFFDC),  # half-width Hangul
    (0x1B000, 0x1B16F),  # kana supplement and extensions
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)

_EXPLICIT: dict[str, str] = {
    "\u0671": "\u0627",  # ٱ alef wasla → ا
    "\u0649": "\u064a",  # ى alef maqsura → ي
    "\u0629": "\u0647",  # ة taa marbuta → ه
    "\u06cc": "\u064a",  # ی Farsi yeh → ي
    "\u06a9": "\u0643",  # ک keheh → ك
    "\u06be": "\u0647",  # ھ heh doachashmee → ه
    "\u0640": "",  # ـ tatweel
    "\u200b": " ",  # zero-width space separates words
    "ı": "i",
    "ł": "l",
    "ø": "o",
    "đ": "d",
    "ħ": "h",
    "æ": "ae",
    "œ": "oe",
    "ð": "d",
    "þ": "th",
    "ŀ": "l",
}

_CYRILLIC_BREVE = "\u0306"


def _in_ranges(cp: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(lo <= cp <= hi for lo, hi in ranges)


def _is_diacritic(ch: str) -> bool:
    return _in_ranges(ord(ch), _DIACRITIC_RANGES)


def _step(text: str) -> str:
    """One pass of the per-character folding described in the module docstring."""
    out: list[str] = []
    for ch in text:
        if ch in _EXPLICIT:
            out.append(_EXPLICIT[ch])
            continue
        category = unicodedata.category(ch)
        if category == "Cf" or (category == "Mn" and _is_diacritic(ch)):
            continue
        if category[0] == "S":  # symbols stay symbols (™ must not become the letters TM), case folded
            out.append(ch.casefold())
            continue
        if category == "Nd":
            out.append(str(unicodedata.decimal(ch)))
            continue
        decomposed = unicodedata.normalize("NFKD", ch)
        kept = []
        for i, mark in enumerate(decomposed):
            if _is_diacritic(mark):
                cyrillic_base = i > 0 and 0x0400 <= ord(decomposed[0]) <= 0x04FF
                if not (mark == _CYRILLIC_BREVE and cyrillic_base):
                    continue
            kept.append(mark)
        folded = unicodedata.normalize("NFC", "".join(kept)).casefold()
        out.append("".join(_EXPLICIT.get(c, c) for c in folded))
    return unicodedata.normalize("NFC", "".join(out))


@lru_cache(maxsize=65536)
def fold_char(ch: str) -> str:
    """``ch`` folded (see module docstring): zero, one or more characters, each of which folds to itself."""
    if ch.isascii():
        return ch.lower()
    current = ch
    for _ in range(8):
        nxt = "".join(_step(c) for c in current)
        if nxt == current:
            return current
        current = nxt
    return current  # pragma: no cover - no Unicode character needs more than a few passes


# -- fast folding ------------------------------------------------------------------------------------------
# fold(text) == "".join(fold_char(c) for c in NFC(text)) (composed and folded again in the rare case where
# that is not NFC, see ``_fold_pass``). Doing that character by character in Python is slow,
# so: characters whose fold differs from plain ``str.casefold`` ("special" ones) are replaced first, then
# the whole string is case-folded in C. That is exact because case folding works per character and the
# replacement of a special character already folds to itself.

# Blocks scanned once (on first use) for characters that fold exactly like ``str.casefold``. Anything
# outside them is treated as special, which is always correct, only slower.
_SCAN_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x2FFF),
    (0x3000, 0x33FF),
    (0xFB00, 0xFFFF),
)
# Blocks known to fold like str.casefold throughout (checked by the tests).
_PLAIN_RANGES: tuple[tuple[int, int], ...] = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3))


def _ranges_class(cps: list[int]) -> str:
    """A regex character class body for the sorted code points ``cps``."""
    parts: list[str] = []
    start = prev = -2
    for cp in cps:
        if cp == prev + 1:
            prev = cp
            continue
        if start >= 0:
            parts.append(_range(start, prev))
        start = prev = cp
    if start >= 0:
        parts.append(_range(start, prev))
    return "".join(parts)


def _range(lo: int, hi: int) -> str:
    return f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}"


@cache
def _compute_plain_unit() -> tuple[str, str]:
    """(class body of the characters that fold exactly like ``str.casefold``, of those that fold to
    exactly one character): a scan of ``_SCAN_RANGES`` through ``fold_char`` (~50 ms)."""
    plain: list[int] = []
    unit: list[int] = []
    for lo, hi in _SCAN_RANGES:
        for cp in range(lo, hi + 1):
            if 0xD800 <= cp <= 0xDFFF:
                continue
            ch = chr(cp)
            folded = fold_char(ch)
            if folded == ch.casefold():
                plain.append(cp)
            if len(folded) == 1:
                unit.append(cp)
    for lo, hi in _PLAIN_RANGES:
        plain.extend(range(lo, hi + 1))
        unit.extend(range(lo, hi + 1))
    plain.sort()
    unit.sort()
    return _ranges_class(plain), _ranges_class(unit)


@cache
def _tables() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(special characters, characters that do not fold to exactly one character), as regexes."""
    return re.compile(f"[^{_table('plain')}]"), re.compile(f"[^{_table('unit')}]")


def fold(text: str) -> str:
    """``text`` folded for comparison (see module docstring). Idempotent."""
    if text.isascii():
        return text.lower()
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    folded, recompose = _fold_pass(text)
    return fold(folded) if recompose else folded


def _fold_pass(text: str) -> tuple[str, bool]:
    """(``fold_char`` of each character of non-ASCII NFC ``text``, whether that result must be composed
    and folded once more, so that ``fold`` stays idempotent): dropping a mark can bring together two
    characters NFC composes — the Hangul jamo \u1100 + mark + \u1161 fold to the jamo \u1100\u1161, which
    NFC composes to the syllable \uac00."""
    special = _tables()[0]
    chars = set(special.findall(text))
    # One str.replace per distinct special character is much cheaper than a callback per occurrence.
    for ch in chars:
        text = text.replace(ch, fold_char(ch))
    folded = text.casefold()
    recompose = any(map(_may_recompose, chars)) and not unicodedata.is_normalized("NFC", folded)
    return folded, recompose


@lru_cache(maxsize=4096)
def _may_recompose(ch: str) -> bool:
    """Whether folding ``ch`` (a special character) can leave text that NFC would change: ``ch`` vanishes
    (a mark between two characters that compose) or becomes something with a combining character."""
    folded = fold_char(ch)
    return not folded or _cluster_re().search(" " + folded) is not None


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """(``fold(text)``, offsets) where ``offsets[i]`` is the index in ``text`` of folded character ``i``;
    ``offsets`` has one extra element, ``len(text)``, so an end index maps too. A character composed from
    several (NFC) maps to the first of them."""
    if text.isascii():
        return text.lower(), list(range(len(text) + 1))
    if unicodedata.is_normalized("NFC", text):
        composed, origin = text, None
    else:
        composed, origin = _compose_with_offsets(text)
    folded, recompose = _fold_pass(composed)
    offsets: list[int] = []
    pos = 0
    for m in _tables()[1].finditer(composed):
        i = m.start()
        offsets.extend(range(pos, i))
        offsets.extend([i] * len(fold_char(composed[i])))
        pos = i + 1
    offsets.extend(range(pos, len(composed) + 1))
    if origin is not None:
        offsets = [origin[i] for i in offsets]
    if recompose:
        folded, again = fold_with_offsets(folded)
        offsets = [offsets[i] for i in again]
    return folded, offsets


def _compose_with_offsets(text: str) -> tuple[str, list[int]]:
    """(NFC of ``text``, the index in ``text`` of each of its characters, and ``len(text)``). NFC only
    composes a character with the marks (or Hangul vowel and final jamo) that follow it, so each such
    cluster is composed on its own; the stretches between clusters are almost always NFC already."""
    parts: list[str] = []
    origin: list[int] = []

    def stretch(a: int, b: int) -> None:
        piece = text[a:b]
        if unicodedata.is_normalized("NFC", piece):
            parts.append(piece)
            origin.extend(range(a, b))
            return
        for i in range(a, b):  # a singleton such as U+212B ANGSTROM SIGN (→ Å)
            composed = unicodedata.normalize("NFC", text[i])
            parts.append(composed)
            origin.extend([i] * len(composed))

    pos = 0
    for m in _cluster_re().finditer(text):
        stretch(pos, m.start())
        composed = unicodedata.normalize("NFC", m.group())
        parts.append(composed)
        origin.extend([m.start()] * len(composed))
        pos = m.end()
    stretch(pos, len(text))
    origin.append(len(text))
    return "".join(parts), origin


@cache
def _cluster_re() -> re.Pattern[str]:
    """A character and the combining characters after it (see ``_compute_composing``)."""
    return re.compile(f"(?s).[{_table('composing')}]+")


@cache
def _combining_re() -> re.Pattern[str]:
    """A run of combining characters (see ``_compute_composing``), possibly empty."""
    return re.compile(f"[{_table('composing')}]*")


def combining_end(text: str, pos: int, stop: int) -> int:
    """The end of the run of combining characters (``_compute_composing``) at ``pos`` in ``text``, at most
    ``stop``: where a span ending at ``pos`` should end so as not to cut a letter from its marks."""
    return pos if pos >= stop else _combining_re().match(text, pos, stop).end()  # type: ignore[union-attr]


# -- words -------------------------------------------------------------------------------------------------


@cache
def _compute_classes() -> tuple[str, str]:
    """(class body of combining marks outside no-space scripts, class body of no-space word characters):
    a scan of the Basic Multilingual Plane (~50 ms)."""
    marks: list[int] = []
    nospace: list[int] = []
    for cp in range(0x10000):
        cat = unicodedata.category(chr(cp))
        word = cat[0] in "LNM"
        if word and _in_ranges(cp, _NOSPACE_RANGES):
            nospace.append(cp)
        elif cat[0] == "M":
            marks.append(cp)
    # Only the Basic Multilingual Plane is listed character by character: Python's ``re`` looks up such a
    # class in a table, while every range beyond it is tried one by one. Beyond it, kana extensions and
    # CJK ideographs are no-space letters; combining marks of historic scripts there count as separators.
    astral = _range(0x1B000, 0x1B16F) + _range(0x20000, 0x3FFFF)
    return _ranges_class(marks), _ranges_class(nospace) + astral


def _compute_sep() -> str:
    """Separators of the Basic Multilingual Plane: neither letter, digit nor mark, and not a plain space
    (punctuation, symbols, the underscore, every other kind of whitespace). Listed one by one, so that
    ``re`` looks each character up in a table instead of asking for its category."""
    seps = [
        cp
        for cp in range(0x10000)
        if cp != 0x20 and not 0xD800 <= cp <= 0xDFFF and unicodedata.category(chr(cp))[0] not in "LNM"
    ]
    return _ranges_class(seps)


def _compute_astral_sep() -> str:
    """Separators beyond the BMP: not a letter or digit (combining marks there count as separators, see
    ``_classes``), outside the no-space ranges (kana supplement, CJK extensions)."""
    seps = [
        cp
        for cp in range(0x10000, 0x20000)
        if unicodedata.category(chr(cp))[0] not in "LN" and not 0x1B000 <= cp <= 0x1B16F
    ]
    return _ranges_class(seps)


def _compute_composing() -> str:
    """Characters NFC may compose with or reorder after the character before them: every combining mark
    (``M``: all characters with a combining class or second in a composition are marks) and the Hangul
    vowel and final jamo."""
    cps = [cp for cp in range(0x20000) if unicodedata.category(chr(cp))[0] == "M"]
    cps += range(0x1160, 0x1200)
    cps += range(0xE0100, 0xE01F0)
    return _ranges_class(sorted(set(cps)))


#: Each character class above, by name, from its computation.
_COMPUTE: dict[str, Callable[[], str]] = {
    "plain": lambda: _compute_plain_unit()[0],
    "unit": lambda: _compute_plain_unit()[1],
    "marks": lambda: _compute_classes()[0],
    "nospace": lambda: _compute_classes()[1],
    "sep": _compute_sep,
    "astral_sep": _compute_astral_sep,
    "composing": _compute_composing,
}


def tables_key() -> str:
    """What the character classes depend on: the Unicode database and the tables of this module. The
    classes precomputed in ``bot.rules.unicode_tables`` are used only under the same key."""
    tables = (_DIACRITIC_RANGES, _EXPLICIT, _CYRILLIC_BREVE, _SCAN_RANGES, _PLAIN_RANGES, _NOSPACE_RANGES)
    inputs = repr((*tables, *_COMPUTE))
    digest = hashlib.sha256(inputs.encode("utf-8")).hexdigest()[:16]
    return f"unicode {unicodedata.unidata_version}, tables {digest}"


@cache
def _precomputed() -> dict[str, str] | None:
    return unicode_tables.TABLES if tables_key() == unicode_tables.KEY else None


@cache
def _table(name: str) -> str:
    """A character class body by name: precomputed (computing them all takes ~0.1 s, at every start of
    every process that matches), else computed now."""
    precomputed = _precomputed()
    return precomputed[name] if precomputed is not None else _COMPUTE[name]()


def tables_source() -> str:
    """The source of ``bot.rules.unicode_tables`` for this Python's Unicode database (``python -m
    bot.rules.text > bot/rules/unicode_tables.py``; a test checks the file is up to date)."""
    lines = [
        '"""Character classes of ``bot.rules.text``, precomputed. Generated by ``python -m bot.rules.text``:',
        'do not edit. Used only when ``KEY`` is ``bot.rules.text.tables_key()``."""',
        "",
        f"KEY = {json.dumps(tables_key())}",
        "TABLES: dict[str, str] = {",
    ]
    for name, compute in _COMPUTE.items():
        lines.append(f"    {json.dumps(name)}: (")
        body = compute()
        for i in range(0, len(body), 88):
            lines.append(f"        {json.dumps(body[i : i + 88])}")
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


@cache
def _classes() -> tuple[str, str]:
    """(class body of combining marks outside no-space scripts, class body of no-space word characters)."""
    return _table("marks"), _table("nospace")


@cache
def _sep_re() -> re.Pattern[str]:
    """Separators of the Basic Multilingual Plane (see ``_compute_sep``)."""
    return re.compile(f"[{_table('sep')}]")


@cache
def _astral_sep_re() -> re.Pattern[str]:
    """Separators beyond the BMP (see ``_compute_astral_sep``)."""
    return re.compile(f"[{_table('astral_sep')}{_range(0x40000, 0x10FFFF)}]")


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _has_astral(text: str) -> bool:
    """Whether ``text`` has a character beyond the Basic Multilingual Plane: each takes two UTF-16 code
    units (an eighth of the time ``_ASTRAL.search`` takes over the whole text)."""
    return len(text.encode("utf-16-le", "surrogatepass")) != 2 * len(text)


@cache
def _nospace_re() -> re.Pattern[str]:
    return re.compile(f"[{_classes()[1]}]+")


@cache
def _word_run_re() -> re.Pattern[str]:
    marks, nospace = _classes()
    return re.compile(f"[{nospace}]+|(?:[^\\W_{nospace}]|[{marks}])+")


@cache
def _word_char_re() -> re.Pattern[str]:
    marks, nospace = _classes()
    return re.compile(f"[^\\W_]|[{marks}{nospace}]")


_ASCII_SEP = str.maketrans({chr(i): " " for i in range(128) if not chr(i).isalnum()})
_ASCII_WORD = re.compile(r"[a-z0-9]+")
_NON_SPACE = re.compile(r"\S+")


def _blank(folded: str) -> str:
    """``folded`` with every separator character (whitespace included) replaced by a space (same
    length)."""
    if folded.isascii():
        return folded.translate(_ASCII_SEP)
    text = _sep_re().sub(" ", folded)
    if _has_astral(text):
        # Test each distinct character beyond the BMP, not the whole text: that class is a long list of
        # ranges, which the regex engine scans for every character (~300 ns each: 0.4 s for the
        # 1.5 MB of real feed text holding an emoji).
        astral = _astral_sep_re()
        for ch in set(_ASTRAL.findall(text)):
            if astral.match(ch):
                text = text.replace(ch, " ")
    return text


def spaced(folded: str) -> str:
    """``folded`` with every separator replaced by a space, and runs of no-space script characters set
    apart by spaces, so that ``spaced(folded).split()`` are its words."""
    text = _blank(folded)
    if not text.isascii():
        nospace = _nospace_re()
        if nospace.search(text):
            text = nospace.sub(r" \g<0> ", text)
    return text


def words(folded: str) -> list[str]:
    """The words of already folded text, in order. A run of characters of a no-space script (e.g. Han)
    is one entry here; keywords in those scripts are matched inside such runs."""
    return spaced(folded).split()


def word_spans(folded: str) -> list[tuple[int, int]]:
    """(start, end) in ``folded`` of each entry of ``words(folded)``."""
    return list(word_spans_iter(folded))


def word_spans_iter(folded: str) -> Iterator[tuple[int, int]]:
    """``word_spans``, lazily: callers that need only the first few words stop early."""
    if folded.isascii():
        return (m.span() for m in _ASCII_WORD.finditer(folded))
    blank = _blank(folded)
    spans = (m.span() for m in _NON_SPACE.finditer(blank))
    if not _nospace_re().search(blank):
        return spans
    run = _word_run_re()
    return ((m.start(), m.end()) for a, b in spans for m in run.finditer(folded, a, b))


def is_word_char(ch: str) -> bool:
    """True for letters, digits and combining marks (of folded text)."""
    return bool(_word_char_re().match(ch))


def is_nospace(ch: str) -> bool:
    """True for a character of a script written without spaces (each such character is a word)."""
    return bool(_nospace_re().fullmatch(ch))


def is_boundary(folded: str, pos: int) -> bool:
    """True when a word starts or ends at ``pos`` in ``folded`` (the Unicode-aware ``\\b``)."""
    left = folded[pos - 1] if pos > 0 else ""
    right = folded[pos] if pos < len(folded) else ""
    return is_boundary_between(left, right)


def is_boundary_between(left: str, right: str) -> bool:
    """``is_boundary`` between the characters ``left`` and ``right`` ("" at the edges of the text)."""
    lw = bool(left) and is_word_char(left)
    rw = bool(right) and is_word_char(right)
    if lw != rw:
        return True
    return lw and rw and (is_nospace(left) or is_nospace(right))


if __name__ == "__main__":
    print(tables_source(), end="")
