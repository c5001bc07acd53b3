"""docs/rules.md stays true: every key documented, examples valid, the test-rule example real."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli import main
from bot.rules.load import DEFAULT_KEYS, FEED_KEYS, RULE_KEYS, TOP_KEYS, parse_rules

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    return DOC.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_every_key_is_documented_in_its_table() -> None:
    for title, keys in (
        ("Top level", TOP_KEYS),
        ("`defaults`", DEFAULT_KEYS),
        ("`feeds`", FEED_KEYS),
        ("`rules`", RULE_KEYS),
    ):
        documented = set(re.findall(r"^\| `([a-z_]+)`(?:, `([a-z_]+)`)? \|", section(title), re.M))
        names = {n for pair in documented for n in pair if n}
        assert names == set(keys), (title, names ^ set(keys))


def test_the_complete_example_loads() -> None:
    block = section("Examples").split("```yaml\n", 1)[1].split("```", 1)[0]
    config = parse_rules(block, "docs/rules.md")
    assert [r.name for r in config.rules] == ["bases", "withdrawal", "air-defence", "ports"]


def test_order_of_evaluation_matches_the_matcher() -> None:
    import bot.match

    doc_steps = re.findall(r"→ \*\*([a-z ]+)\*\*", section("Order of evaluation"))
    code = (bot.match.__doc__ or "").split("Order of evaluation", 1)[1]
    code_steps = re.findall(r"→ ``([a-z_]+)``", code)
    assert doc_steps == ["disabled", "other feed", "no match", "excluded", "missing all"]
    assert [s.replace(" ", "_") for s in doc_steps] + ["matched"] == code_steps


def test_the_test_rule_example_is_real_output(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSHOUND_KEYWORDS", str(ROOT / "keywords.yaml"))
    block = section("Trying rules: `newshound test-rule`").split("```\n", 1)[1].split("```", 1)[0]
    command, *expected = block.splitlines()
    args = re.findall(r'"([^"]*)"|(--\S+)', command.removeprefix("$ newshound test-rule "))
    code = main(["test-rule", *(a or b for a, b in args), "--mark", "stars"])
    assert code == 3
    assert capsys.readouterr().out.splitlines() == expected
