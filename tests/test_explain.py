"""Explanations: matched words marked in the text the reader saw."""

from __future__ import annotations

from bot.match import Matcher
from bot.match.explain import MARKS, explain, mark_spans, snippet
from bot.model import Entry
from bot.rules.model import Config, Defaults, Rule


def test_mark_spans_merges_overlaps() -> None:
    assert mark_spans("the Russian navy", [(4, 16), (12, 16)]) == "the **Russian navy**"
    assert mark_spans("a b", [(2, 3), (0, 1)], MARKS["brackets"]) == "[a] [b]"
    assert mark_spans("x", []) == "x"


def test_snippet_windows_long_text_around_the_first_hit() -> None:
    text = "word " * 100 + "Tartus" + " tail" * 100
    start = text.index("Tartus")
    out = snippet(text, [(start, start + 6)], width=80)
    assert out.startswith("…") and out.endswith("…") and "**Tartus**" in out
    assert len(out) < 100
    assert snippet("line one\nline two", [(5, 8)]) == "line **one** line two"


def test_explain_lists_every_verdict() -> None:
    rules = (
        Rule(name="fires", keywords=("Tartus",), severity="high"),
        Rule(name="vetoed", keywords=("Tartus",), exclude=("festival",)),
        Rule(name="quiet", keywords=("Latakia",)),
    )
    config = Config(path="p", defaults=Defaults(channel="123456789012345678"), rules=rules)
    entry = Entry(key="k", title="Tartus festival")
    lines = explain(entry, Matcher(config).match(entry), config, mark=MARKS["brackets"])
    assert lines == [
        "FIRES       fires (severity high → channel 123456789012345678)",
        "            keyword 'Tartus' in title: [Tartus] festival",
        "EXCLUDED    vetoed: excluded by 'festival' in title (had 'Tartus' in title)",
        "            keyword 'Tartus' · exclude 'festival' in title: [Tartus] [festival]",
        "NO MATCH    quiet",
        "1 of 3 rules fires.",
    ]
