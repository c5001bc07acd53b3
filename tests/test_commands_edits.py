"""keywords.yaml edits from slash commands: only the lines of the entry concerned change, the result is
validated before it is written, and a hand edit made meanwhile is kept."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from bot.commands import edits
from bot.rules.load import load_rules

ADMIN_FILE = """\
# yaml-language-server: $schema=./keywords.schema.json
# Rules for the Syria desk — edited by hand AND from Discord.
version: 1

defaults:
  channel: '123456789012345678'   # single-quoted on purpose
  interval: 10m

feeds:
  # --- wires ---
  - name: wire
    url: https://wire.example/rss   # paid
    tags:
      - syria
      - wire

  - name: blog
    url: https://blog.example/feed


rules:
  # Bases: every spelling.
  # (two comment lines)
  - name: bases
    keywords:
      - Tartus      # English
      - Тартус      # Russian
    exclude: [festival]
    severity: high   # page the desk

  # Ports.
  - name: ports
    keywords: [Latakia]
    feeds: [wire]
# trailing comment at the end of the file
"""


@pytest.fixture
def path(tmp_path: Path) -> Path:
    p = tmp_path / "keywords.yaml"
    p.write_text(ADMIN_FILE, encoding="utf-8")
    return p


def changes(before: str, after: str) -> tuple[list[str], list[str]]:
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    return [d[2:] for d in diff if d.startswith("+ ")], [d[2:] for d in diff if d.startswith("- ")]


def test_adding_a_rule_appends_it_in_the_files_style_and_touches_nothing_else(path: Path) -> None:
    change = edits.add_rule(
        path, {"name": "ships", "keywords": ["frigate", "Корвет"], "channel": "234567890123456789"}
    )
    after = path.read_text(encoding="utf-8")
    added, removed = changes(ADMIN_FILE, after)
    assert removed == []
    assert added == [
        "",
        "  - name: ships",
        "    keywords: [frigate, Корвет]",
        '    channel: "234567890123456789"',
    ]
    assert after.index("  - name: ships") < after.index("# trailing comment")
    assert change.before is None and change.after == {
        "name": "ships",
        "keywords": ["frigate", "Корвет"],
        "channel": "234567890123456789",
    }
    assert change.config.rule("ships") is not None and load_rules(path).rule("ships") is not None


def test_setting_and_removing_keys_keeps_inline_comments_and_block_lists(path: Path) -> None:
    edits.update_rule(path, "bases", {"severity": "low", "paused_until": "2030-01-01T00:00:00Z"})
    text = path.read_text(encoding="utf-8")
    added, removed = changes(ADMIN_FILE, text)
    assert removed == ["    severity: high   # page the desk"]
    assert added == ["    severity: low   # page the desk", '    paused_until: "2030-01-01T00:00:00Z"']
    edits.update_rule(path, "bases", {"severity": "high", "paused_until": None})
    assert path.read_text(encoding="utf-8") == ADMIN_FILE


def test_removing_an_entry_takes_its_comment_and_leaves_the_rest_byte_identical(path: Path) -> None:
    change = edits.remove_rule(path, "bases")
    text = path.read_text(encoding="utf-8")
    added, removed = changes(ADMIN_FILE, text)
    assert added == []
    assert [r for r in removed if r.strip()] == [
        "  # Bases: every spelling.",
        "  # (two comment lines)",
        "  - name: bases",
        "    keywords:",
        "      - Tartus      # English",
        "      - Тартус      # Russian",
        "    exclude: [festival]",
        "    severity: high   # page the desk",
    ]
    assert "rules:\n  # Ports.\n  - name: ports\n" in text
    assert change.before is not None and change.before["keywords"] == ["Tartus", "Тартус"]


def test_feeds_added_and_removed(path: Path) -> None:
    edits.add_feed(
        path, {"name": "tass", "url": "https://tass.example/rss", "interval": "15m", "tags": ["ru"]}
    )
    text = path.read_text(encoding="utf-8")
    block = "\n  - name: tass\n    url: https://tass.example/rss\n    interval: 15m\n    tags: [ru]\n"
    assert block in text and text.index(block) < text.index("rules:")
    edits.remove_feed(path, "tass")
    assert path.read_text(encoding="utf-8") == ADMIN_FILE


def test_an_edit_the_loader_would_reject_is_refused_and_nothing_is_written(path: Path) -> None:
    with pytest.raises(edits.EditError, match="would not be valid: rule 'ports' feeds: unknown feed 'wire'"):
        edits.remove_feed(path, "wire")  # rule `ports` watches it by name
    with pytest.raises(edits.EditError, match="a rule named `bases` already exists"):
        edits.add_rule(path, {"name": "bases", "keywords": ["x"]})
    with pytest.raises(edits.EditError, match="severity must be one of"):
        edits.update_rule(path, "ports", {"severity": "urgent"})
    assert path.read_text(encoding="utf-8") == ADMIN_FILE
    assert [p.name for p in path.parent.iterdir()] == ["keywords.yaml"]  # no temporary file left


def test_a_hand_edit_made_while_an_edit_is_prepared_is_kept(path: Path) -> None:
    hand = ADMIN_FILE.replace("  interval: 10m", "  interval: 5m   # changed by hand")
    calls = []

    def mutate(lines: list[str], doc: object) -> tuple[list[str], None, None]:
        calls.append(1)
        if len(calls) == 1:
            path.write_text(hand, encoding="utf-8")  # the admin saves the file right now
        return [*lines, "# edited\n"], None, None

    edits._apply(path, mutate)  # type: ignore[arg-type]
    assert len(calls) == 2  # prepared again on the new text
    assert path.read_text(encoding="utf-8") == hand + "# edited\n"


def test_sections_written_on_one_line_are_not_edited(tmp_path: Path) -> None:
    p = tmp_path / "keywords.yaml"
    p.write_text('version: 1\ndefaults: {channel: "123456789012345678"}\nrules: [{name: a, keywords: [x]}]\n')
    with pytest.raises(edits.EditError, match="one-line list"):
        edits.add_rule(p, {"name": "b", "keywords": ["y"]})


def test_first_rule_in_a_file_without_rules(tmp_path: Path) -> None:
    p = tmp_path / "keywords.yaml"
    p.write_text('version: 1\ndefaults:\n  channel: "123456789012345678"  # desk\nrules: []   # none yet\n')
    edits.add_rule(p, {"name": "a", "keywords": ["x"]})
    assert p.read_text() == (
        'version: 1\ndefaults:\n  channel: "123456789012345678"  # desk\nrules:  # none yet\n'
        "  - name: a\n    keywords: [x]\n"
    )
    q = tmp_path / "k2.yaml"
    q.write_text('version: 1\ndefaults:\n  channel: "123456789012345678"\n')
    edits.add_feed(q, {"name": "f", "url": "https://f.example/rss"})
    assert q.read_text().endswith("\nfeeds:\n  - name: f\n    url: https://f.example/rss\n")
