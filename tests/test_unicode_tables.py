"""The character classes precomputed in ``bot.rules.unicode_tables`` are exactly what ``bot.rules.text``
computes (regenerate with ``python -m bot.rules.text > bot/rules/unicode_tables.py``)."""

from __future__ import annotations

import unicodedata

import pytest

from bot.rules import text, unicode_tables


def test_precomputed_tables_are_up_to_date() -> None:
    if f"unicode {unicodedata.unidata_version}," not in unicode_tables.KEY:
        pytest.skip("generated for another Unicode database: computed at run time here")
    assert text.tables_key() == unicode_tables.KEY, "regenerate bot/rules/unicode_tables.py"
    for name, compute in text._COMPUTE.items():
        assert unicode_tables.TABLES[name] == compute(), name


def test_tables_are_computed_when_the_precomputed_ones_do_not_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    sample = "Tartūs ＴＡＲＴＵＳ Тартус ё حماة ß ſ Ǆ 東京タワー 서울 ไทย 𝐀 ‐ _ \u00ad x"
    expected = (text.fold(sample), text.words(text.fold(sample)), text.word_spans(text.fold(sample)))
    for fn in (
        text._precomputed,
        text._table,
        text._tables,
        text._classes,
        text._sep_re,
        text._astral_sep_re,
    ):
        fn.cache_clear()
    monkeypatch.setattr(unicode_tables, "KEY", "unicode 0.0.0, tables none")
    try:
        assert text._precomputed() is None
        folded = text.fold(sample)
        assert (folded, text.words(folded), text.word_spans(folded)) == expected
    finally:
        for fn in (
            text._precomputed,
            text._table,
            text._tables,
            text._classes,
            text._sep_re,
            text._astral_sep_re,
        ):
            fn.cache_clear()
