"""README.md stays true: every command, setting and keywords.yaml key is documented, and CI runs exactly
the test command the README gives."""

from __future__ import annotations

import re
from pathlib import Path

from bot.cli import commands
from bot.config import ENV_NAMES
from bot.rules.load import DEFAULT_KEYS, FEED_KEYS, RULE_KEYS, TOP_KEYS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def quick_start() -> list[str]:
    block = re.search(r"## Quick start\s+```sh\n(.*?)```", README, re.S)
    assert block, "README needs a Quick start with a ```sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_starts_with_two_commands_and_ci_runs_the_test_one() -> None:
    first, second = quick_start()
    assert "newshound once" in first
    assert "pytest" in second
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ci_lines = [line.strip() for line in ci.splitlines() if line.strip() and not line.startswith("#")]
    assert second.strip() in ci_lines
    install = [step.strip() for step in first.split("&& .venv/bin/newshound")[0].split(" && ")]
    for step in install:  # CI installs the way the quick start does
        assert step.replace("pip install", "pip install --quiet") in ci_lines or step in ci_lines, step


def test_every_command_is_documented() -> None:
    for name in commands():
        assert f"`newshound {name}" in README, f"command {name!r} is missing from README.md"


def test_documented_commands_exist() -> None:
    documented = set(re.findall(r"`newshound ([a-z][a-z-]*)", README))
    assert documented <= set(commands()), documented - set(commands())


def test_every_setting_is_in_the_configuration_table() -> None:
    table = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    for env in ENV_NAMES.values():
        assert f"| `{env}` |" in table, f"{env} is missing from README's configuration table"
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", table, re.M))
    assert documented == set(ENV_NAMES.values())


def test_every_settings_range_is_the_one_the_readme_gives() -> None:
    import annotated_types as at

    from bot.config import Settings

    section = " ".join(README.split("## Configuration", 1)[1].split("\n## ", 1)[0].split())
    for name, f in Settings.model_fields.items():
        words = [f"more than {m.gt:g}" for m in f.metadata if isinstance(m, at.Gt)]
        words += [f"at least {m.ge:g}" for m in f.metadata if isinstance(m, at.Ge)]
        words += [f"at most {m.le:g}" for m in f.metadata if isinstance(m, at.Le)]
        if words:
            said = f"`{ENV_NAMES[name]}` {', '.join(words)}"
            assert said in section, f"README's configuration section should say: {said}"


def test_every_keywords_yaml_key_is_documented() -> None:
    section = README.split("## keywords.yaml", 1)[1].split("\n## ", 1)[0]
    for key in (*TOP_KEYS, *DEFAULT_KEYS, *FEED_KEYS, *RULE_KEYS):
        assert f"`{key}`" in section, f"keywords.yaml key {key!r} is not documented in README.md"


def test_starter_keywords_yaml_is_valid() -> None:
    from bot.rules.load import load_rules

    config = load_rules(ROOT / "keywords.yaml")
    assert {r.name for r in config.rules} == {"bases", "russian-presence"}
    assert any("news.google.com/rss/search" in f.url for f in config.feeds)
