from __future__ import annotations

from bot.model import Entry, Hit, RuleOutcome
from bot.summarise import SUMMARY_LIMIT, sentences, summarise, summary_text, trim


def test_trim_cuts_at_a_word_with_an_ellipsis() -> None:
    assert trim("short", 10) == "short"
    assert trim("the quick brown fox jumps", 12) == "the quick…"
    assert len(trim("x" * 50, 10)) == 10


def test_summary_is_lead_plus_matching_sentences_within_limit() -> None:
    body = "Lead sentence here. Unrelated words. The Tartus base is busy. More filler! Tartus again?"
    text = summary_text(Entry(key="k", summary=body), ("Tartus",))
    assert text == "Lead sentence here. The Tartus base is busy. Tartus again?"


def test_sentences_end_at_a_stop_before_whitespace_and_keep_every_word() -> None:
    text = "Exports rose 3.5 percent in Tartus.  Wait... really?! 港口很忙。舰船离开！！第三句 حميميم؟ نعم"
    assert sentences(text) == [
        "Exports rose 3.5 percent in Tartus.",  # the '.' inside "3.5" does not end it
        "Wait...",
        "really?!",
        "港口很忙。",
        "舰船离开！！",
        "第三句 حميميم؟",
        "نعم",
    ]
    assert sentences("") == [] and sentences(" no stop at all ") == ["no stop at all"]


def test_inner_stops_neither_split_nor_drop_text_however_many() -> None:
    # 40,000 characters of "v1.2" with no sentence end: one sentence. (The pattern this replaced dropped
    # the text before each inner '.', and backtracked over the whole run before one: quadratic.)
    body = "Lead about v1.2 releases. " + "v1.2 " * 8000 + "Then Tartus.com reported ships."
    assert len(sentences(body)) == 2
    text = summary_text(Entry(key="k", summary=body), ("Tartus",))
    assert text.startswith("Lead about v1.2 releases.") and len(text) <= SUMMARY_LIMIT


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
