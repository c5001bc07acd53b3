"""Properties of folding and matching that must hold for every input (hypothesis)."""

from __future__ import annotations

import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.match import Matcher
from bot.model import Entry
from bot.rules.model import Config, Defaults, Rule
from bot.rules.text import fold, fold_char, fold_with_offsets, is_word_char, spaced, word_spans, words

SCRIPTS = {
    "latin": "abcdefghijklmnopqrstuvwxyzéüñçåø",
    "cyrillic": "абвгдежзийклмнопрстуфхцчшщъыьэюяё",
    "arabic": "ابتثجحخدذرزسشصضطظعغفقكلمنهويةىأإآ",
    "greek": "αβγδεζηθικλμνξοπρστυφχψωάέήίόύώς",
}
# Letters that may stand in front of an Arabic word as a proclitic (a match there is by design).
ARABIC_PROCLITICS = set("وفبكلا")
SEPARATORS = [
    " ",
    "  ",
    "\n",
    ", ",
    ". ",
    " (",
    ") ",
    " #",
    "'s ",
    " — ",
    "-",
    " «",
    "» ",
    "\t",
    "\u00a0",
    ": ",
]

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def matcher(keyword: str, exclude: tuple[str, ...] = ()) -> Matcher:
    rule = Rule(name="r", keywords=(keyword,), exclude=exclude)
    return Matcher(Config(path="p", defaults=Defaults(channel="123456789012345678"), rules=(rule,)))


@st.composite
def script_word(draw: st.DrawFn, script: str | None = None) -> tuple[str, str]:
    name = script or draw(st.sampled_from(sorted(SCRIPTS)))
    letters = SCRIPTS[name]
    word = draw(st.text(alphabet=letters, min_size=3, max_size=10))
    if draw(st.booleans()):
        word = word.upper()
    return name, word


@FAST
@given(st.text())
def test_folding_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@FAST
@given(st.text())
def test_fast_folding_equals_character_by_character(text: str) -> None:
    folded, offsets = fold_with_offsets(text)
    once = "".join(fold_char(c) for c in unicodedata.normalize("NFC", text))
    assert folded == (once if unicodedata.is_normalized("NFC", once) else fold(once))
    assert len(offsets) == len(folded) + 1
    assert offsets == sorted(offsets)
    assert all(0 <= o <= len(text) for o in offsets)


@FAST
@given(st.text())
def test_word_spans_agree_with_words(text: str) -> None:
    folded = fold(text)
    assert [folded[a:b] for a, b in word_spans(folded)] == words(folded)


@FAST
@given(st.text())
def test_separators_are_exactly_the_non_word_characters(text: str) -> None:
    folded = fold(text)
    blank = " " + spaced(folded) + " "
    for w in words(folded):
        assert all(is_word_char(c) for c in w), w
    kept = "".join(c for c in folded if is_word_char(c))
    assert "".join(blank.split()) == kept


@FAST
@given(st.characters(codec="utf-8"))
def test_every_folded_character_folds_to_itself(ch: str) -> None:
    for c in fold_char(ch):
        assert fold_char(c) == c
        assert c.casefold() == c


@FAST
@given(
    script_word(),
    st.lists(script_word(), max_size=4),
    st.lists(script_word(), max_size=4),
    st.sampled_from(SEPARATORS),
    st.sampled_from(SEPARATORS),
)
def test_a_keyword_at_word_boundaries_always_matches(
    kw: tuple[str, str],
    before: list[tuple[str, str]],
    after: list[tuple[str, str]],
    sep1: str,
    sep2: str,
) -> None:
    _, keyword = kw
    left = " ".join(w for _, w in before)
    right = " ".join(w for _, w in after)
    text = (left + sep1 if left else "") + keyword + (sep2 + right if right else "")
    start = len(left + sep1) if left else 0
    out = matcher(keyword).match(Entry(key="k", title=text))[0]
    assert out.fired, (keyword, text)
    assert (start, start + len(keyword)) in {(h.start, h.end) for h in out.hits}


@FAST
@given(script_word(), st.data())
def test_a_keyword_inside_a_longer_word_never_matches(kw: tuple[str, str], data: st.DataObject) -> None:
    script, keyword = kw
    letters = SCRIPTS[script]
    prefix_letters = (
        "".join(c for c in letters if c not in ARABIC_PROCLITICS) if script == "arabic" else letters
    )
    prefix = data.draw(st.text(alphabet=prefix_letters, max_size=3))
    suffix = data.draw(st.text(alphabet=letters, max_size=3))
    if not prefix and not suffix:
        suffix = letters[0]
    text = prefix + keyword + suffix
    if fold(text) == fold(keyword):  # e.g. a suffix of combining-only characters
        return
    out = matcher(keyword).match(Entry(key="k", title=f"news: {text}, more"))[0]
    assert not out.fired, (keyword, text)


@FAST
@given(script_word(), script_word(), st.sampled_from(SEPARATORS), st.booleans())
def test_exclusion_always_wins(kw: tuple[str, str], ex: tuple[str, str], sep: str, first: bool) -> None:
    keyword, excluded = kw[1], ex[1]
    text = f"{keyword}{sep}{excluded}" if first else f"{excluded}{sep}{keyword}"
    out = matcher(keyword, exclude=(excluded,)).match(Entry(key="k", title=text))[0]
    assert out.verdict == "excluded", (keyword, excluded, text)


@FAST
@given(st.text(alphabet=st.characters(categories=["L", "N", "M", "P", "Z", "S"]), max_size=60))
def test_matching_never_crashes_and_spans_are_in_range(text: str) -> None:
    out = matcher("tartus*").match(Entry(key="k", title=text, summary=text))[0]
    for h in out.hits:
        source = text
        assert 0 <= h.start < h.end <= len(source)
        assert source[h.start : h.end] == h.text


def test_plain_blocks_fold_like_casefold() -> None:
    """The blocks the fast path trusts without looking (CJK, Hangul) really fold like str.casefold."""
    for lo, hi in ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3)):
        for cp in range(lo, hi + 1, 7):
            ch = chr(cp)
            assert fold_char(ch) == ch.casefold() == unicodedata.normalize("NFKC", ch), hex(cp)


def test_fast_folding_agrees_with_the_definition_across_unicode() -> None:
    """Every character up to U+33FF and every 17th beyond: ``fold`` equals ``fold_char``, and what it
    produces is already folded (the two facts the fast path relies on)."""
    cps = [*range(0x3400), *range(0x3400, 0x110000, 17)]
    for cp in cps:
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        folded = fold_char(ch)
        assert fold(ch) == folded, hex(cp)
        assert fold_with_offsets(ch) == (folded, [0] * len(folded) + [1]), hex(cp)
        assert all(fold_char(c) == c == c.casefold() for c in folded), hex(cp)


@FAST
@given(
    st.text(alphabet=st.characters(min_codepoint=0x10000, max_codepoint=0x1FFFF) | st.sampled_from("ab .,é"))
)
def test_characters_beyond_the_bmp_are_blanked_exactly_as_the_class_says(text: str) -> None:
    """``_blank`` tests each distinct astral character on its own: the same as the class over the text."""
    from bot.rules.text import _astral_sep_re, _blank, _sep_re

    folded = fold(text + "é")  # not ASCII: the general path
    assert _blank(folded) == _astral_sep_re().sub(" ", _sep_re().sub(" ", folded))


def test_a_lone_surrogate_is_not_taken_for_a_character_beyond_the_bmp() -> None:
    """JSON feeds can carry lone surrogates (``"\\ud83d"``): the astral check must neither fail on them
    nor count them."""
    from bot.rules.text import _blank, _has_astral

    assert not _has_astral("Tart\u00fbs \ud83d")
    assert _has_astral("Tart\u00fbs \U0001f600")
    assert _blank(fold("Tart\u00fbs, \ud83d!")) == "tartus  \ud83d "


def test_folding_stays_idempotent_when_a_dropped_mark_lets_letters_compose() -> None:
    """Text is composed (NFC) before folding; folding drops the mark between ᄀ and ᅡ, which then compose
    to 가: that is composed too, or folding the result again would change it."""
    for text in ("ᄀ\u0320ᅡ", "\U00011131\u0301\U00011127"):
        folded, offsets = fold_with_offsets(text)
        assert fold(text) == folded == fold(folded) == unicodedata.normalize("NFC", folded)
        assert len(folded) == 1 and offsets == [0, len(text)]
