from __future__ import annotations

from bot.model import Entry, Hit, RuleOutcome
from bot.summarise import SUMMARY_LIMIT, summarise, summary_text, trim


def test_trim_cuts_at_a_word_with_an_ellipsis() -> None:
    assert trim("short", 10) == "short"
    assert trim("the quick brown fox jumps", 12) == "the quick…"
    assert len(trim("x" * 50, 10)) == 10


def test_summary_is_lead_plus_matching_sentences_within_limit() -> None:
    body = "Lead sentence here. Unrelated words. The Tartus base is busy. More filler! Tartus again?"
    text = summary_text(Entry(key="k", summary=body), ("Tartus",))
    assert text == "Lead sentence here. The Tartus base is busy. Tartus again?"


def test_long_lead_is_shortened_to_make_room_for_the_match() -> None:
    lead = "Word " * 200 + "end."
    text = summary_text(Entry(key="k", summary=lead + " Tartus is named here."), ("Tartus",))
    assert len(text) <= SUMMARY_LIMIT and text.endswith("Tartus is named here.")


def test_alert_lists_rules_terms_severity_and_mentions() -> None:
    e = Entry(key="k", title="Ships at Tartus", summary="Ships at Tartus.", link="https://x/1")
    outcomes = [
        RuleOutcome("bases", "matched", (Hit("Tartus", "title", 9, 15, "Tartus"),)),
        RuleOutcome("other", "excluded", (Hit("ships", "title", 0, 5, "Ships", "exclude"),)),
    ]
    a = summarise(
        e, outcomes, feed="f", severities={"bases": "critical"}, mentions={"bases": ("345678901234567890",)}
    )
    assert a.matched_line == "bases · Tartus"
    assert a.severity == "critical" and a.mentions == ("345678901234567890",)
    assert a.highlights == ("Tartus",)
