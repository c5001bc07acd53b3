"""`newshound test-rule`: which rules fire on some text, why, and the matched words marked."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bot.cli import EXIT_NO_MATCH, EXIT_OK, EXIT_RULES, EXIT_USAGE, main
from tests.conftest import CHANNEL, write_rules
from tests.test_cli import NEWSHOUND, env_for, run_cli

RULES = f"""
version: 1
defaults:
  channel: "{CHANNEL}"
feeds:
  - name: wire
    url: https://example.org/rss
    tags: [syria]
  - name: world
    url: https://example.org/world
rules:
  - name: bases
    keywords: [Tartus, Тартус, طرطوس, Khmeimim]
    exclude: [festival]
    severity: high
    mention: ["345678901234567890"]
  - name: presence
    keywords: [troops, "evacuat*"]
    all: [Russia*, Syria*]
  - name: wire-only
    keywords: [Latakia]
    feeds: [wire]
  - name: off
    keywords: [Tartus]
    enabled: false
"""


@pytest.fixture
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in ("NEWSHOUND_KEYWORDS", "NEWSHOUND_DATABASE", "DISCORD_TOKEN", "NEWSHOUND_ADMIN_CHANNEL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    path = write_rules(tmp_path / "keywords.yaml", RULES)
    monkeypatch.setenv("NEWSHOUND_KEYWORDS", str(path))
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["test-rule", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_firing_rule_is_shown_with_its_evidence(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "Russian warships leave Tartus")
    assert code == EXIT_OK
    lines = out.splitlines()
    assert lines[0] == f"FIRES       bases (severity high → channel {CHANNEL}, pings 345678901234567890)"
    assert lines[1] == "            keyword 'Tartus' in title: Russian warships leave **Tartus**"
    assert "NO MATCH    presence, wire-only" in lines
    assert "DISABLED    off" in lines
    assert lines[-1] == "1 of 4 rules fires."


def test_exclusion_and_missing_all_are_explained(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "Tartus festival: Russian troops stay", "--mark", "brackets")
    assert code == EXIT_NO_MATCH
    assert "EXCLUDED    bases: excluded by 'festival' in title (had 'Tartus' in title)" in out
    assert (
        "            keyword 'Tartus' · exclude 'festival' in title: [Tartus] [festival]: Russian troops stay"
        in out
    )
    assert "MISSING     presence: had 'Russia*' in title, 'troops' in title but not 'Syria*'" in out
    assert out.rstrip().endswith("0 of 4 rules fire.")


def test_html_is_stripped_and_other_fields_and_scripts(
    rules: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys,
        "Корабли в порту <b>Тартус</b>",
        "--summary",
        "<p>قاعدة &quot;طرطوس&quot;</p>",
        "--mark",
        "stars",
    )
    assert code == EXIT_OK
    assert "keyword 'Тартус' in title: Корабли в порту **Тартус**" in out
    assert "keyword 'طرطوس' in summary: قاعدة \"**طرطوس**\"" in out


def test_feed_filters_apply_with_feed(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "Latakia port", "--feed", "wire")[0] == EXIT_OK
    code, out, _ = run(capsys, "Latakia port", "--feed", "world", "--all")
    assert code == EXIT_NO_MATCH
    assert "OTHER FEED  wire-only: rule does not watch this feed" in out
    assert "NO MATCH    bases: no keyword matched (looks at title, summary, content)" in out
    code, _, err = run(capsys, "Latakia", "--feed", "nope")
    assert code == EXIT_USAGE and "no feed named 'nope' (feeds: wire, world)" in err


def test_broken_rules_and_missing_text(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys)[0] == EXIT_USAGE
    rules.write_text("version: 1\nrules: [{name: a}]\n", encoding="utf-8")
    code, _, err = run(capsys, "Tartus")
    assert code == EXIT_RULES
    assert f"{rules}:2:9: rule 'a' needs `keywords` or `regex`" in err


async def test_the_installed_command(rules: Path, tmp_path: Path) -> None:
    env = env_for(tmp_path)
    code, out, _ = await run_cli(
        NEWSHOUND, "test-rule", "Troops evacuated from Khmeimim", env=env, cwd=tmp_path
    )
    assert code == 0 and "FIRES       bases" in out and "**Khmeimim**" in out  # not a terminal: stars
    code, out, _ = await run_cli(
        sys.executable, "-m", "bot", "test-rule", "nothing here", env=env, cwd=tmp_path
    )
    assert code == 3 and out.rstrip().endswith("0 of 4 rules fire.")
