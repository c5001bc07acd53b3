"""keywords.yaml validation: every problem the issue lists, each reported as file:line:column."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.rules.load import RulesError, load_rules, parse_rules

CH = "123456789012345678"
HEAD = f"""version: 1
defaults:
  channel: "{CH}"
feeds:
  - name: wire
    url: https://example.org/rss
    tags: [syria, world]
rules:
"""


def problems(text: str) -> list[str]:
    """Every problem as 'line:column: message' (the path is checked separately)."""
    with pytest.raises(RulesError) as info:
        parse_rules(textwrap.dedent(text).lstrip("\n"), "k.yaml")
    out = []
    for p in info.value.problems:
        assert str(p).startswith(f"k.yaml:{p.line}:{p.column}: ")
        out.append(f"{p.line}:{p.column}: {p.message}")
    return out


def rule_problems(body: str) -> list[str]:
    """Problems of rules appended to a valid head (rules start on line 9)."""
    return problems(HEAD + textwrap.dedent(body).lstrip("\n"))


# (YAML after the head, the expected problems: "line:column: start of message")
RULE_CASES: list[tuple[str, list[str]]] = [
    (  # unknown key, with a suggestion
        """
        - name: a
          keyword: [Tartus]
        """,
        [
            "10:3: unknown rule key 'keyword'; did you mean 'keywords'?",
            "9:3: rule 'a' needs `keywords` or `regex`",
        ],
    ),
    (  # unknown key without a close spelling lists the allowed ones
        """
        - name: a
          keywords: [Tartus]
          colour: red
        """,
        ["11:3: unknown rule key 'colour'; allowed: name, keywords,"],
    ),
    (  # wrong types
        """
        - name: a
          keywords: Tartus Tartous
          all: {x: 1}
          enabled: "yes"
          severity: 3
          description: [x]
        """,
        [
            "11:8: rule 'a' all must be a list of text",
            "12:12: rule 'a' enabled must be true or false",
            "13:13: rule 'a' severity must be one of low, normal, high, critical, not 3",
            "14:16: rule 'a' description must be text",
        ],
    ),
    (  # empty lists
        """
        - name: a
          keywords: []
          exclude: []
          fields: []
        """,
        [
            "10:13: rule 'a' keywords is an empty list",
            "11:12: rule 'a' exclude is an empty list",
            "12:11: rule 'a' fields is an empty list",
        ],
    ),
    (  # empty entries and terms without words
        """
        - name: a
          keywords: [Tartus, "", "***", "Tar*tus", "—"]
        """,
        [
            "10:22: rule 'a' keywords: entry 2 must be non-empty text",
            "10:26: rule 'a' keywords: '***': '*' is only allowed at the end",
            "10:33: rule 'a' keywords: 'Tar*tus': '*' is only allowed at the end",
            "10:44: rule 'a' keywords: '—' has no letters or digits to match",
        ],
    ),
    (  # duplicate rule names
        """
        - name: a
          keywords: [x]
        - name: a
          keywords: [y]
        """,
        ["11:9: duplicate rule name 'a' (first on line 9)"],
    ),
    (  # invalid regexes, each at its own entry
        """
        - name: a
          regex:
            - 'Tart(us'
            - '\\bok\\b'
            - 'x*'
            - "\\bTartus"
        """,
        [
            "11:7: rule 'a' regex 'Tart(us' is invalid: missing ): Tart(us",
            "13:7: rule 'a' regex 'x*' is invalid: it matches empty text",
            "14:7: rule 'a' regex '\\x08Tartus' is invalid: it holds the control character \\b (backspace)",
        ],
    ),
    (  # unknown feed and tag in feeds, with suggestions
        """
        - name: a
          keywords: [x]
          feeds: [wrie, "tag:syra", "tag:nothing-like-it"]
        """,
        [
            "11:11: rule 'a' feeds: unknown feed 'wrie'; did you mean 'wire'?",
            "11:17: rule 'a' feeds: no feed has tag 'syra'; did you mean 'syria'?",
            "11:29: rule 'a' feeds: no feed has tag 'nothing-like-it'",
        ],
    ),
    (  # malformed channel and role ids
        """
        - name: a
          keywords: [x]
          channel: "12345"
          mention: ["345678901234567890", "@here", 42]
        """,
        [
            "11:12: rule 'a' channel must be a Discord id (17–20 digits",
            "12:35: rule 'a' mention: '@here' is not a role id",
            "12:44: rule 'a' mention: 42 is not a role id",
        ],
    ),
    (  # fields that do not exist
        """
        - name: a
          keywords: [x]
          fields: [title, body]
        """,
        ["11:19: rule 'a' fields: unknown field 'body'"],
    ),
    (  # bad time
        """
        - name: a
          keywords: [x]
          paused_until: next tuesday
        """,
        ["11:17: rule 'a' paused_until must be a time like 2026-01-31T18:00:00Z"],
    ),
    (  # a term both wanted and excluded
        """
        - name: a
          keywords: [Tartus, Latakia]
          exclude: [festival, tartus]
        """,
        ["11:23: rule 'a' exclude: 'tartus' is also in `keywords`"],
    ),
    (  # missing name, not a mapping
        """
        - keywords: [x]
        - just text
        """,
        ["9:3: rules[0] needs a `name`", "10:3: rules[1] must be a mapping"],
    ),
]


@pytest.mark.parametrize(("body", "expected"), RULE_CASES)
def test_rule_problems(body: str, expected: list[str]) -> None:
    found = rule_problems(body)
    assert len(found) == len(expected), found
    for got, want in zip(found, sorted(expected, key=_position), strict=True):
        assert got.startswith(want), (got, want)


def _position(line: str) -> tuple[int, int]:
    a, b = line.split(":")[:2]
    return int(a), int(b)


def test_bad_yaml_reports_line_and_column() -> None:
    found = problems(
        """
        version: 1
        rules:
          - name: a
            keywords: [Tartus
        feeds: []
        """
    )
    assert len(found) == 1 and found[0].startswith("5:") and "YAML syntax" in found[0]


def test_tabs_are_bad_yaml() -> None:
    found = problems("version: 1\nrules:\n\t- name: a\n")
    assert found[0].startswith("3:1: YAML syntax")


def test_duplicate_yaml_keys() -> None:
    found = problems(
        """
        version: 1
        rules:
          - name: a
            keywords: [x]
            keywords: [y]
        """
    )
    assert found == [
        "3:5: rule 'a' has no channel: set `channel` on it or `defaults.channel`",
        "5:5: YAML: duplicate key 'keywords' in the mapping that starts on line 3",
    ]


def test_top_level_problems() -> None:
    assert problems("version: 2\nrule: []\n") == [
        "1:10: unsupported version 2; this Newshound reads version 1",
        "2:1: unknown top-level key 'rule'; did you mean 'rules'?",
    ]
    assert problems("- a\n- b\n") == ["1:1: the file must be a mapping with version, defaults, feeds, rules"]
    assert problems("") == ["1:1: the file is empty; it needs `version: 1`"]
    assert problems("defaults: {}\n") == ["1:1: missing `version: 1`"]


def test_defaults_and_feed_problems() -> None:
    found = problems(
        """
        version: 1
        defaults:
          channel: 1234
          interval: 10x
          backfill: -1h
          max_age: 0
          intervall: 5m
        feeds:
          - name: wire
            url: ftp://example.org/rss
            interval: often
          - name: wire
            url: https://example.org/2
            webhook: https://example.org/not-a-webhook
          - url: https://example.org/3
        rules: {}
        """
    )
    expected = [
        "3:12: defaults.channel must be a Discord id",
        "4:13: defaults.interval: '10x' is not a duration",
        "5:13: defaults.backfill: '-1h' is not a duration",
        "6:12: defaults.max_age: duration must be positive",
        "7:3: unknown key in defaults 'intervall'; did you mean 'interval'?",
        "10:10: feeds[0] url must be an http:// or https:// URL",
        "11:15: feed 'wire' interval: 'often' is not a duration",
        "12:11: duplicate feed name 'wire' (first on line 9)",
        "14:14: feed 'wire' webhook must be a Discord webhook URL",
        "15:5: feeds[2] needs a `name`",
        "16:8: `rules` must be a list of rules",
    ]
    assert len(found) == len(expected), found
    for got, want in zip(found, expected, strict=True):
        assert got.startswith(want), (got, want)


def test_webhook_urls_are_never_echoed() -> None:
    secret = "https://discord.com/api/webhook/SECRET-token"
    found = problems(
        f"""
        version: 1
        defaults:
          webhook: "{secret}"
          channel: "{CH}"
        rules: []
        """
    )
    assert all("SECRET" not in p for p in found)


def test_a_webhook_url_with_anything_after_the_token_is_refused_and_a_key_never_shows_a_token() -> None:
    from bot.model import Target

    # Discord shows these Slack- and GitHub-compatible forms too; their payloads are not Discord's, and
    # a name taken from the second-to-last part of the path would have been the token.
    for suffix in ("/slack", "/github", "/x/y"):
        secret = f"https://discord.com/api/webhooks/123456789012345678/SECRET-token{suffix}"
        found = problems(
            f"""
            version: 1
            defaults:
              webhook: "{secret}"
            rules: []
            """
        )
        assert len(found) == 1 and "must be a Discord webhook URL" in found[0], found
        assert "SECRET" not in found[0]
        assert Target(webhook=secret).key == "webhook:123456789012345678"
    url = "https://discord.com/api/v10/webhooks/123456789012345678/SECRET-token/"
    config = parse_rules(f'version: 1\ndefaults:\n  webhook: "{url}"\nrules: []\n', "k.yaml")
    assert config.defaults.webhook == url


def test_all_problems_are_reported_at_once() -> None:
    found = rule_problems(
        """
        - name: a
          keywords: []
        - name: b
          keywords: [x]
          severity: urgent
        - name: a
          regex: ['(']
        """
    )
    assert [f.split(":")[0] for f in found] == ["10", "13", "14", "15"]


def test_valid_file_becomes_a_config() -> None:
    config = parse_rules(
        HEAD
        + textwrap.dedent(
            """
            - name: bases
              keywords: [Tartus, "evacuat*", Russian navy]
              all: [Russia]
              exclude: festival
              regex: ['\\bS-?400\\b']
              fields: [title, summary, tags]
              feeds: [wire, "tag:world"]
              channel: 234567890123456789
              mention: "345678901234567890"
              severity: critical
              enabled: false
              paused_until: 2026-01-31T18:00:00Z
              description: Bases
            """
        ).lstrip("\n")
    )
    r = config.rules[0]
    assert r.keywords == ("Tartus", "evacuat*", "Russian navy")
    assert r.exclude == ("festival",)
    assert r.regex == ("\\bS-?400\\b",)
    assert r.fields == ("title", "summary", "tags")
    assert r.feeds == ("wire", "tag:world")
    assert r.channel == "234567890123456789" and r.mention == ("345678901234567890",)
    assert (r.severity, r.enabled, r.description) == ("critical", False, "Bases")
    assert r.paused_until == datetime(2026, 1, 31, 18, tzinfo=UTC)
    assert r.line == 9


def test_load_rules_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RulesError) as info:
        load_rules(tmp_path / "nope.yaml")
    assert str(info.value) == f"{tmp_path / 'nope.yaml'}:1:1: file not found"


def test_starter_keywords_yaml_loads() -> None:
    config = load_rules(Path(__file__).resolve().parent.parent / "keywords.yaml")
    assert config.rules and config.feeds


def test_a_regex_no_re2_set_can_hold_is_reported_at_its_position(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.rules.regex

    monkeypatch.setattr(bot.rules.regex, "MAX_MEM", 1 << 20)  # sets only: the pattern alone compiles
    assert rule_problems(
        """
        - name: a
          regex:
            - '\\bok\\b'
            - '\\b\\w{1,20}grad\\b'
        """
    ) == [
        "12:7: rule 'a' regex '\\\\b\\\\w{1,20}grad\\\\b' is too large: RE2 cannot compile it within 1 MB; "
        "repeat less (each \\w is every letter of Unicode)"
    ]


def test_an_unquoted_text_with_commas_is_not_taken_for_one_term() -> None:
    """`keywords: Tartus, Khmeimim` became the single phrase "Tartus, Khmeimim", which never matches."""
    assert rule_problems(
        """
        - name: a
          keywords: Tartus, Khmeimim
          all: Russia,Syria
          exclude: festival , concert
        """
    ) == [
        "10:13: rule 'a' keywords: 'Tartus, Khmeimim' is one term with commas in it; for a list write "
        "[Tartus, Khmeimim], for one term quote it",
        "11:8: rule 'a' all: 'Russia,Syria' is one term with commas in it; for a list write [Russia, Syria], "
        "for one term quote it",
        "12:12: rule 'a' exclude: 'festival , concert' is one term with commas in it; for a list write "
        "[festival, concert], for one term quote it",
    ]
    quoted = parse_rules(HEAD + '  - name: a\n    keywords: "Washington, D.C."\n    exclude: [festival]\n')
    assert quoted.rules[0].keywords == ("Washington, D.C.",)


def test_unquoted_numbers_are_terms_as_written() -> None:
    """YAML reads 007 as 7 and 1.10 as 1.1: the keywords were rewritten and never matched as written."""
    config = parse_rules(
        HEAD
        + "  - name: a\n    keywords: [007, 1.10, 0x1F, 1e3, 1_000, 2024]\n    all: [1.50]\n"
        + "  - name: b\n    keywords:\n      - 007\n"
    )
    assert config.rules[0].keywords == ("007", "1.10", "0x1F", "1e3", "1_000", "2024")
    assert config.rules[0].all == ("1.50",)
    assert config.rules[1].keywords == ("007",)
    with pytest.raises(RulesError, match="'007' is also in `keywords`"):
        parse_rules(HEAD + "  - name: a\n    keywords: [007]\n    exclude: [007]\n")
    # Characters YAML 1.2 does not count as line breaks (in a quoted string, above), and a byte-order
    # mark before the first line, do not move where the numbers are read from.
    above = HEAD + '  - name: n\n    description: "a\u2028b\x85c\u2029d"\n    keywords: [x]\n'
    config = parse_rules(above + "  - name: a\n    keywords:\n      - 2024\n      - 1.10\n")
    assert config.rules[1].keywords == ("2024", "1.10")
    config = parse_rules(
        f'\ufeffrules: [{{name: r, keywords: [007, 1.10]}}]\nversion: 1\ndefaults: {{channel: "{CH}"}}\n'
    )
    assert config.rules[0].keywords == ("007", "1.10")


@pytest.mark.parametrize("zero", ["0", '"0"', "0s", "0m", "0h0m", "0.0"])
def test_backfill_accepts_zero_in_any_form(zero: str) -> None:
    """`backfill: 0` was allowed but `backfill: 0s` refused ("duration must be positive")."""
    config = parse_rules(f'version: 1\ndefaults:\n  channel: "{CH}"\n  backfill: {zero}\n')
    assert config.defaults.backfill == 0.0


def test_other_durations_are_still_never_zero() -> None:
    assert problems(
        f"""
        version: 1
        defaults:
          channel: "{CH}"
          interval: 0s
          max_age: 0s
          backfill: -1
        """
    ) == [
        "4:13: defaults.interval: duration must be positive, got '0s' (or `auto`)",
        "5:12: defaults.max_age: duration must be positive, got '0s'",
        "6:13: defaults.backfill: duration must be positive, got -1",
    ]


def test_duplicate_keys_do_not_hide_the_other_problems() -> None:
    """The first duplicate key stopped everything: only it was reported."""
    assert problems(
        f"""
        version: 1
        defaults:
          channel: "{CH}"
          channel: "{CH}"
        rules:
          - name: a
            keywords: [x]
            keywords: [y]
            severity: hgh
        """
    ) == [
        "4:3: YAML: duplicate key 'channel' in the mapping that starts on line 3",
        "8:5: YAML: duplicate key 'keywords' in the mapping that starts on line 6",
        "9:15: rule 'a' severity must be one of low, normal, high, critical, not 'hgh'; did you mean 'high'?",
    ]
