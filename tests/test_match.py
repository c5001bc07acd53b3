"""Matching semantics, case by case, in every script the issue names (see ``bot.match``'s docstring)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.match import Matcher
from bot.model import Entry, RuleOutcome
from bot.rules.load import parse_rules
from bot.rules.model import Config, Defaults, Feed, Rule

CHANNEL = "123456789012345678"


def config(*rules: Rule, feeds: tuple[Feed, ...] = ()) -> Config:
    return Config(path="test", defaults=Defaults(channel=CHANNEL), feeds=feeds, rules=rules)


def judge(keywords: list[str], text: str, **rule: object) -> RuleOutcome:
    r = Rule(name="r", keywords=tuple(keywords), **rule)  # type: ignore[arg-type]
    return Matcher(config(r)).match(Entry(key="k", title=text))[0]


def hits(keywords: list[str], text: str) -> list[str]:
    """The original text of every keyword hit, or [] when the rule does not fire."""
    o = judge(keywords, text)
    return [h.text for h in o.hits if h.kind == "keyword"] if o.fired else []


# (keyword, text, the matched text as it appears in the text — None: must not match)
CASES: list[tuple[str, str, str | None]] = [
    # Latin: case, accents, punctuation, possessives, hashtags, hyphens
    ("Tartus", "Russian ships at Tartus.", "Tartus"),
    ("Tartus", "TARTUS PORT", "TARTUS"),
    ("Tartus", "the port of Tartūs", "Tartūs"),
    ("Tartūs", "the port of Tartus", "Tartus"),
    ("Hmeimim", "Hméimim air base", "Hméimim"),
    ("Tartus", "Tartus, Syria", "Tartus"),
    ("Tartus", "Tartus's port", "Tartus"),
    ("Tartus", "Tartus’ port", "Tartus"),
    ("Tartus", "#Tartus trending", "Tartus"),
    ("Tartus", "(Tartus)", "Tartus"),
    ("Tartus", "a Tartus-based unit", "Tartus"),
    ("Tartus", "«Tartus»", "Tartus"),
    ("Tartus", "Tartus_2024", "Tartus"),
    ("Tartus", "Tartuse ülikool", None),  # Estonian "of Tartu": a longer word
    ("Tartus", "Tartusian", None),
    ("Tartus", "xTartus", None),
    ("Tartus", "Tar tus", None),
    ("Tartus", "Tar\u00adtus", "Tar\u00adtus"),  # soft hyphen is invisible
    ("Tartus", "ＴＡＲＴＵＳ", "ＴＡＲＴＵＳ"),  # full width
    ("Strasse", "Hauptstraße 5", None),
    ("Straße", "an der Strasse", "Strasse"),
    ("Diyarbakir", "Diyarbakır", "Diyarbakır"),
    ("Lodz", "Łódź", "Łódź"),
    ("#Tartus", "Tartus", "Tartus"),  # punctuation at the keyword's edges is ignored
    # prefixes
    ("evacuat*", "they evacuated the base", "evacuated"),
    ("evacuat*", "the evacuation began", "evacuation"),
    ("evacuat*", "Evacuat", "Evacuat"),
    ("evacuat*", "re-evacuation", "evacuation"),
    ("evacuat*", "reevacuation", None),
    # phrases
    ("Russian navy", "the Russian navy", "Russian navy"),
    ("Russian navy", "the Russian\n   navy", "Russian\n   navy"),
    ("Russian navy", "the Russian\u00a0navy", "Russian\u00a0navy"),
    ("Russian navy", "the Russian-navy", "Russian-navy"),
    ("Russian navy", "Russian. Navy", None),
    ("Russian navy", "Russian, navy", None),
    ("Russian navy", "Russian naval", None),
    ("Russian nav*", "Russian naval base", "Russian naval"),
    ("U.S.", "U.S. forces", "U.S"),
    ("al-Assad", "President al Assad", "al Assad"),
    ("S-400", "an S-400 battery", "S-400"),
    ("S-400", "an S-400M battery", None),
    # Cyrillic
    ("Тартус", "в порт Тартус.", "Тартус"),
    ("Тартус", "ТАРТУС", "ТАРТУС"),
    ("Тартус", "в Тартусе", None),
    ("Тартус", "под Тартусом", None),
    ("Тартус*", "под Тартусом", "Тартусом"),
    ("Хмеймим", "авиабаза «Хмеймим»", "Хмеймим"),
    ("Семёнов", "генерал Семенов", "Семенов"),  # ё = е
    ("Семенов", "генерал Семёнов", "Семёнов"),
    ("мой", "мои", None),  # й is a letter of its own
    ("Тартус", "Тарту́с", "Тарту́с"),  # stress mark
    ("морская база", "военно-морская\n\t база", "морская\n\t база"),
    ("морская база", "морская. База", None),
    ("قاعدة حميميم", "في قاعدة\nحميميم", "قاعدة\nحميميم"),
    ("وزارة الدفاع", "أعلنت وزارة  الدفاع", "وزارة  الدفاع"),
    # Arabic
    ("طرطوس", "ميناء طرطوس، سوريا", "طرطوس"),
    ("طرطوس", "طَرْطُوس", "طَرْطُوس"),  # harakat
    ("طرطوس", "طرطـــوس", "طرطـــوس"),  # tatweel
    ("طرطوس", "وصلت السفن بطرطوس", "بطرطوس"),  # proclitic ب
    ("طرطوس", "والطرطوس", "والطرطوس"),
    ("طرطوس", "لطرطوس", "لطرطوس"),
    ("طرطوس", "وفي طرطوسي", None),  # a longer word (nisba)
    ("طرطوس", "طرطوسية", None),
    ("القاعدة", "عاد للقاعدة", "للقاعدة"),
    ("القاعدة", "بالقاعدة الجوية", "بالقاعدة"),
    ("قاعدة", "القاعدة الجوية", "القاعدة"),
    ("حماة", "مدينة حماه", "حماه"),  # taa marbuta = ha
    ("حماه", "مدينة حماة", "حماة"),
    ("أحمد", "احمد", "احمد"),  # alef with hamza = alef
    ("احمد", "إحمد", "إحمد"),
    ("مصطفى", "مصطفي", "مصطفي"),  # alef maqsura = ya
    ("لد", "بلد", None),  # no proclitics on words shorter than three letters
    ("حمص", "وصفة الحمص", "الحمص"),  # the documented price of stripping the article
    ("حميميم", "قاعدة حميميم الجوية", "حميميم"),
    # Greek
    ("Ταρτούς", "στο ΤΑΡΤΟΥΣ", "ΤΑΡΤΟΥΣ"),  # final sigma, tonos
    ("ταρτους", "στην Ταρτούς.", "Ταρτούς"),
    ("Ταρτούς", "Ταρτούσα", None),
    # CJK and other scripts without spaces: inside runs of their script
    ("塔尔图斯", "俄罗斯军舰抵达塔尔图斯港。", "塔尔图斯"),
    ("塔尔图斯", "塔尔 图斯", None),
    ("タルトゥース", "タルトゥース港に", "タルトゥース"),
    ("타르투스", "러시아 해군이 타르투스에서", "타르투스"),
    ("iPhone", "新款iPhone手机", "iPhone"),
    ("iPhone", "新款iPhones手机", None),
    ("手机", "iPhone手机", "手机"),
    ("A股", "今日A股市场", "A股"),
    # digits in every script
    ("400", "منظومة ٤٠٠", "٤٠٠"),
]


@pytest.mark.parametrize(("keyword", "text", "expected"), CASES)
def test_keyword_semantics(keyword: str, text: str, expected: str | None) -> None:
    found = hits([keyword], text)
    if expected is None:
        assert found == [], f"{keyword!r} must not match {text!r}"
    else:
        assert found == [expected]


def test_hits_are_spans_of_the_original_text() -> None:
    text = "Straße nach Tartūs — Hméimim"
    o = judge(["Tartus", "Hmeimim"], text)
    for h in o.hits:
        assert text[h.start : h.end] == h.text
    assert [(h.term, h.text, h.field) for h in o.hits] == [
        ("Tartus", "Tartūs", "title"),
        ("Hmeimim", "Hméimim", "title"),
    ]


def test_every_occurrence_is_a_hit() -> None:
    assert hits(["Tartus"], "Tartus and Tartus, then TARTUS") == ["Tartus", "Tartus", "TARTUS"]


def test_overlapping_keywords_both_hit() -> None:
    assert sorted(hits(["Russian navy", "navy"], "the Russian navy")) == ["Russian navy", "navy"]


def test_exclude_wins_over_any_match() -> None:
    o = judge(["Tartus"], "Tartus festival opens", exclude=("festival",))
    assert o.verdict == "excluded"
    assert {(h.kind, h.text) for h in o.hits} == {("keyword", "Tartus"), ("exclude", "festival")}
    assert "excluded by 'festival'" in o.reason()


def test_exclude_wins_even_with_every_all_term_present() -> None:
    o = judge(["Tartus"], "Russia: Tartus festival", all=("Russia",), exclude=("festival",))
    assert o.verdict == "excluded"


def test_exclude_is_whole_word_too() -> None:
    assert judge(["Tartus"], "Tartus festivals", exclude=("festival",)).verdict == "matched"
    assert judge(["Tartus"], "Tartus festivals", exclude=("festival*",)).verdict == "excluded"


def test_all_terms_must_all_appear() -> None:
    o = judge(["Tartus"], "Russian ships at Tartus", all=("Russia*", "navy"))
    assert o.verdict == "missing_all" and o.missing == ("navy",)
    o = judge(["Tartus"], "Russian navy ships at Tartus", all=("Russia*", "navy"))
    assert o.verdict == "matched"
    assert {h.kind for h in o.hits} == {"keyword", "all"}


def test_all_terms_alone_do_not_fire() -> None:
    assert judge(["Tartus"], "Russian navy", all=("Russia*",)).verdict == "no_match"


def test_fields_limit_where_a_rule_looks() -> None:
    r = Rule(name="r", keywords=("Tartus",), fields=("title",))
    m = Matcher(config(r))
    assert m.match(Entry(key="k", title="x", summary="Tartus"))[0].verdict == "no_match"
    assert m.match(Entry(key="k", title="Tartus"))[0].fired
    r = Rule(name="r", keywords=("tartus",), fields=("link", "tags", "author", "source"))
    m = Matcher(config(r))
    assert m.match(Entry(key="k", link="https://x.example/news/tartus-port"))[0].fired
    assert m.match(Entry(key="k", tags=("Syria", "Tartus")))[0].fired
    assert (
        m.match(Entry(key="k", title="Tartus", summary="Tartus", content="Tartus"))[0].verdict == "no_match"
    )


def test_exclude_and_all_look_only_in_the_rules_fields() -> None:
    r = Rule(name="r", keywords=("Tartus",), exclude=("festival",), fields=("title",))
    out = Matcher(config(r)).match(Entry(key="k", title="Tartus", summary="festival"))
    assert out[0].fired


def test_feeds_by_name_and_tag() -> None:
    wire = Feed(name="wire", url="https://a.example/rss", tags=("syria",))
    other = Feed(name="other", url="https://b.example/rss", tags=("world",))
    rules = (
        Rule(name="by-name", keywords=("Tartus",), feeds=("wire",)),
        Rule(name="by-tag", keywords=("Tartus",), feeds=("tag:world",)),
        Rule(name="everywhere", keywords=("Tartus",)),
    )
    m = Matcher(config(*rules, feeds=(wire, other)))
    e = Entry(key="k", title="Tartus")
    assert [o.verdict for o in m.match(e, wire)] == ["matched", "other_feed", "matched"]
    assert [o.verdict for o in m.match(e, other)] == ["other_feed", "matched", "matched"]
    assert [o.verdict for o in m.match(e)] == ["matched", "matched", "matched"]  # no feed: all apply


def test_disabled_and_paused_rules() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    rules = (
        Rule(name="off", keywords=("Tartus",), enabled=False),
        Rule(name="paused", keywords=("Tartus",), paused_until=now + timedelta(hours=1)),
        Rule(name="pause-over", keywords=("Tartus",), paused_until=now - timedelta(hours=1)),
    )
    m = Matcher(config(*rules))
    e = Entry(key="k", title="Tartus")
    assert [o.verdict for o in m.match(e, now=now)] == ["disabled", "disabled", "matched"]
    assert [o.verdict for o in m.match(e, now=now + timedelta(hours=2))] == ["disabled", "matched", "matched"]


def test_one_outcome_per_rule_in_file_order() -> None:
    rules = tuple(Rule(name=f"r{i}", keywords=(f"word{i}",)) for i in range(5))
    out = Matcher(config(*rules)).match(Entry(key="k", title="word3 and word1"))
    assert [o.rule for o in out] == ["r0", "r1", "r2", "r3", "r4"]
    assert [o.fired for o in out] == [False, True, False, True, False]


def test_shared_terms_across_rules() -> None:
    rules = (
        Rule(name="a", keywords=("Tartus",)),
        Rule(name="b", keywords=("tartus",), exclude=("festival",)),
        Rule(name="c", keywords=("Latakia",), exclude=("Tartus",)),
    )
    out = Matcher(config(*rules)).match(Entry(key="k", title="Tartus and Latakia"))
    assert [o.verdict for o in out] == ["matched", "matched", "excluded"]
    assert out[1].hits[0].term == "tartus"  # each rule reports its own spelling


def test_regex_with_unicode_word_boundaries() -> None:
    def rx(pattern: str, text: str) -> list[str]:
        r = Rule(name="r", regex=(pattern,))
        o = Matcher(config(r)).match(Entry(key="k", title=text))[0]
        return [h.text for h in o.hits] if o.fired else []

    assert rx(r"\bТартус\b", "в порт Тартус.") == ["Тартус"]
    assert rx(r"\bТартус\b", "в Тартусе") == []  # RE2's own \b would never match Cyrillic
    assert rx(r"\bТартус\w*", "в Тартусе и Тартусом") == ["Тартусе", "Тартусом"]
    assert rx(r"\bطرطوس\b", "ميناء طرطوس") == ["طرطوس"]
    assert rx(r"\bTart(u|ou)s\b", "Tartous and Tartūs and Tartuse") == ["Tartous", "Tartūs"]  # folded text
    assert rx(r"S-?[34]00\b", "S-400, S300 and S-400M") == ["S-400", "S300"]
    assert rx(r"foo\B", "food foo") == ["foo"]
    # docs/rules.md: a name that must not take the Arabic article
    homs = r"(?:^|[^\pL\pN])[وف]?[بكل]?حمص\b"
    assert [t.strip() for t in rx(homs, "في حمص وبحمص")] == ["حمص", "وبحمص"]
    assert rx(homs, "وصفة الحمص") == []
    # \b in one branch only: a match from the other branch has no boundary to check (and a text ending
    # in a non-ASCII letter must not be cut in half looking for one).
    assert rx(r"\bS-?400\b|Тартус", "Корабли в Тартус") == ["Тартус"]
    assert rx(r"Тартус|\bS-?400\b", "S-400 и Тартус") == ["S-400", "Тартус"]


def test_regex_and_keywords_in_one_rule() -> None:
    r = Rule(name="r", keywords=("Tartus",), regex=(r"\bS-?400\b",))
    o = Matcher(config(r)).match(Entry(key="k", title="S400 near Tartus"))[0]
    assert o.fired and [h.kind for h in o.hits] == ["regex", "keyword"]


def test_loaded_rules_match_as_written() -> None:
    cfg = parse_rules(
        f"""
version: 1
defaults: {{channel: "{CHANNEL}"}}
rules:
  - name: bases
    keywords: [Tartus, Тартус, طرطوس]
    exclude: [festival]
  - name: rx
    regex: ['\\bhmeimim\\b']
"""
    )
    out = Matcher(cfg).match(Entry(key="k", title="Хмеймим и Тартус", summary="Hméimim base"))
    assert [o.verdict for o in out] == ["matched", "matched"]
    assert out[1].hits[0].text == "Hméimim"


def test_empty_entry_and_empty_config() -> None:
    assert Matcher(config()).match(Entry(key="k", title="Tartus")) == []
    assert judge(["Tartus"], "").verdict == "no_match"


# Twelve \w patterns: each \w is every letter, digit and mark of Unicode, so together they exceed RE2's
# default 8 MB (the set failed to compile and every item raised).
CITY_REGEXES = tuple(
    rf"\b\w{{1,20}}{end}\b"
    for end in ("grad", "stan", "burg", "ovsk", "evsk", "ino", "ovo", "sk", "pol", "dar", "kent", "abad")
)


def test_many_unicode_word_regexes_load_and_match() -> None:
    rules = "".join(f"  - name: r{i}\n    regex: ['{p}']\n" for i, p in enumerate(CITY_REGEXES))
    cfg = parse_rules(f'version: 1\ndefaults: {{channel: "{CHANNEL}"}}\nrules:\n{rules}')
    out = Matcher(cfg).match(Entry(key="k", title="Volgograd, Kaliningradx, Tashkent"))
    assert [o.rule for o in out if o.fired] == ["r0", "r10"]
    assert [h.text for o in out if o.fired for h in o.hits] == ["Volgograd", "Tashkent"]


def test_a_regex_set_too_large_for_re2_is_split() -> None:
    from bot.rules.regex import _compile_sets, compile_regex

    translated = tuple(compile_regex(p).translated for p in CITY_REGEXES)
    split = _compile_sets(translated, 8 << 20)  # RE2's default: too small for one set of all twelve
    assert len(split.sets) > 1 and split.failed == ()
    assert sorted(i for _, members in split.sets for i in members) == list(range(12))
    assert split.match("tashkent, volgograd") == [0, 10]
    alone = _compile_sets(translated[:1], 1 << 20)  # too small even for one pattern
    assert alone.sets == () and alone.failed == (0,) and alone.match("volgograd") == []


class _CountingRegex:
    """An RE2 regex that counts its searches."""

    def __init__(self, regex: object) -> None:
        self.regex = regex
        self.searches = 0

    def search(self, text: object, pos: int = 0) -> object:
        self.searches += 1
        return self.regex.search(text, pos)  # type: ignore[attr-defined]


def test_failed_boundary_matches_do_not_make_regex_search_quadratic() -> None:
    """Each failed \\b check searched again one character later, over and over the same 20,000
    letters (5 s); failed matches are now retried only until they add up to a few times the text."""
    from dataclasses import replace

    from bot.rules.regex import compile_regex

    text = "a" * 20_000 + "gradx Volgograd"
    compiled = compile_regex(r"\w+grad\b")
    counting = _CountingRegex(compiled.regex)
    spans = list(replace(compiled, regex=counting).finditer(text))
    assert [text[s:e] for s, e in spans] == ["Volgograd"]
    assert counting.searches < 20
    # Short failed matches are still retried one character later (\w\w\b finds "bc" in "abc").
    assert list(compile_regex(r"\w\w\b").finditer("abc")) == [(1, 3)]
    # Spans are character offsets, whatever the UTF-8 length of what comes before.
    text = "😀 в Тартусе и Тартусом"
    found = compile_regex(r"\bтартус\w*").finditer(text)
    assert [text[s:e] for s, e in found] == ["Тартусе", "Тартусом"]


def nfd(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFD", text)


def test_decomposed_text_matches_like_composed_text() -> None:
    """NFD text (letter + combining mark) lost marks that folding keeps: й became и, ガ became カ."""
    assert nfd("Хмеймим") != "Хмеймим"
    assert hits(["Хмеймим"], nfd("База Хмеймим")) == [nfd("Хмеймим")]
    assert hits(["мои"], nfd("мой")) == []  # the breve makes another letter
    assert hits([nfd("Хмеймим")], "База Хмеймим") == ["Хмеймим"]  # a decomposed keyword too
    assert hits(["ガザ"], nfd("ガザ地区")) == [nfd("ガザ")]
    assert hits(["타르투스"], nfd("타르투스에서")) == [nfd("타르투스")]  # Hangul jamo
    # A span never leaves a mark behind: the accent folded away after the last letter is in it.
    assert hits(["cafe"], nfd("café au lait")) == [nfd("café")]


def test_decomposed_regex_patterns_are_composed_first() -> None:
    def rx(pattern: str, text: str) -> list[str]:
        o = Matcher(config(Rule(name="r", regex=(pattern,)))).match(Entry(key="k", title=text))[0]
        return [h.text for h in o.hits] if o.fired else []

    assert rx(nfd(r"\bмой\b"), "это мой дом") == ["мой"]
    assert rx(nfd(r"\bмой\b"), "это мои дома") == []
