"""The round-trip writer: edits touch only their own lines; everything else stays byte-identical."""

from __future__ import annotations

import difflib
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.rules.load import load_rules
from bot.rules.writer import (
    ConflictError,
    WriteError,
    add_feed,
    add_feeds,
    add_rule,
    read_snapshot,
    remove_feed,
    remove_rule,
    update_feed,
    update_rule,
)

ADMIN_FILE = """\
# yaml-language-server: $schema=./bot/rules/keywords.schema.json
# Analysts' rules — please keep the sections in order!
version: 1

defaults:
  channel: "123456789012345678"   # #alerts
  interval: 10m                   # be polite
  backfill: 24h

feeds:
  # --- wires ---
  - name: levant-wire        # main source
    url: https://example.org/rss
    tags: [syria, levant]
  - {name: world, url: "https://example.com/feed", tags: [world]}

rules:
  # Bases in Syria. Owner: Dana.
  - name: bases
    keywords: [Tartus, Tartous,   Khmeimim]   # spacing on purpose
    all:
      - Russia      # must be about Russia
    exclude: [festival]
    severity: high

  # Ports — owner: Sam
  - name: ports
    keywords:
    - Latakia     # the big one
    - 'Baniyas'
    - "Jableh"
    description: >-
      Ports on the
      Syrian coast
    feeds: [levant-wire]
  # - name: old-rule
  #   keywords: [retired]

# end of rules
"""


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    p = tmp_path / "keywords.yaml"
    p.write_text(ADMIN_FILE, encoding="utf-8")
    return p


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """(lines removed, lines added) between two texts."""
    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


def test_flow_list_edit_changes_one_line_and_keeps_its_comment(rules_file: Path) -> None:
    change = update_rule(rules_file, "bases", {"keywords": ["Tartus", "Tartous", "Khmeimim", "Hmeimim"]})
    after = rules_file.read_text(encoding="utf-8")
    removed, added = changed_lines(ADMIN_FILE, after)
    assert removed == ["    keywords: [Tartus, Tartous,   Khmeimim]   # spacing on purpose"]
    assert added == ["    keywords: [Tartus, Tartous, Khmeimim, Hmeimim] # spacing on purpose"]
    assert change.before is not None and change.after is not None
    assert change.before["keywords"] == ["Tartus", "Tartous", "Khmeimim"]
    assert change.after["keywords"][-1] == "Hmeimim"
    assert change.summary == "changed rule 'bases'"
    assert load_rules(rules_file).rule("bases").keywords[-1] == "Hmeimim"  # type: ignore[union-attr]


def test_block_list_edit_keeps_entries_and_their_comments(rules_file: Path) -> None:
    update_rule(rules_file, "ports", {"keywords": ["Latakia", "Jableh", "Tartus"]})
    after = rules_file.read_text(encoding="utf-8")
    removed, added = changed_lines(ADMIN_FILE, after)
    assert removed == ["    - 'Baniyas'"]
    assert added == ["    - Tartus"]
    assert "    - Latakia     # the big one\n" in after


def test_untouched_parts_are_byte_identical(rules_file: Path) -> None:
    update_rule(rules_file, "bases", {"severity": "critical", "channel": "234567890123456789"})
    after = rules_file.read_text(encoding="utf-8")
    removed, added = changed_lines(ADMIN_FILE, after)
    assert removed == ["    severity: high"]
    assert added == ["    severity: critical", "    channel: '234567890123456789'"]
    # every other line is there, in order, byte for byte
    assert after.replace(
        "    severity: critical\n    channel: '234567890123456789'\n", "    severity: high\n"
    ) == (ADMIN_FILE)


def test_removing_a_key(rules_file: Path) -> None:
    update_rule(rules_file, "bases", {"all": None})
    removed, added = changed_lines(ADMIN_FILE, rules_file.read_text(encoding="utf-8"))
    assert removed == ["    all:", "      - Russia      # must be about Russia"]
    assert added == []


def test_renaming_a_rule(rules_file: Path) -> None:
    change = update_rule(rules_file, "bases", {"name": "russian-bases"})
    removed, added = changed_lines(ADMIN_FILE, rules_file.read_text(encoding="utf-8"))
    assert (removed, added) == (["  - name: bases"], ["  - name: russian-bases"])
    assert change.config.rule("russian-bases") is not None


def test_add_rule_goes_after_the_last_rule_before_trailing_comments(rules_file: Path) -> None:
    change = add_rule(
        rules_file,
        {
            "name": "hama",
            "keywords": ["Hama", "حماة"],
            "mention": ["345678901234567890"],
            "severity": "low",
            "paused_until": datetime(2026, 3, 1, 9, tzinfo=UTC),
        },
    )
    after = rules_file.read_text(encoding="utf-8")
    removed, added = changed_lines(ADMIN_FILE, after)
    assert removed == []
    assert added == [
        "  - name: hama",
        "    keywords: [Hama, حماة]",
        "    mention: ['345678901234567890']",
        "    severity: low",
        "    paused_until: '2026-03-01T09:00:00Z'",
    ]
    assert after.index("  - name: hama") < after.index("  # - name: old-rule")
    assert change.before is None and change.after == {
        "name": "hama",
        "keywords": ["Hama", "حماة"],
        "mention": ["345678901234567890"],
        "severity": "low",
        "paused_until": "2026-03-01T09:00:00Z",
    }
    rule = change.config.rule("hama")
    assert rule is not None and rule.paused_until == datetime(2026, 3, 1, 9, tzinfo=UTC)


def test_terms_that_yaml_would_misread_unquoted_are_written_quoted(rules_file: Path) -> None:
    # In a flow list a bare `?q` starts a mapping, and a NEL character (U+0085) is a line break.
    odd = ["?q", "? war", "Tartus", "c\x85d"]
    change = add_rule(rules_file, {"name": "odd", "keywords": odd, "description": "why? \x85 because"})
    rule = change.config.rule("odd")
    assert rule is not None and list(rule.keywords) == odd and rule.description == "why? \x85 because"
    assert load_rules(rules_file).rule("odd") == rule  # what is on disk reads back the same


def test_remove_rule_takes_only_its_own_lines(rules_file: Path) -> None:
    change = remove_rule(rules_file, "ports")
    removed, added = changed_lines(ADMIN_FILE, rules_file.read_text(encoding="utf-8"))
    assert added == []
    assert removed == [
        "  - name: ports",
        "    keywords:",
        "    - Latakia     # the big one",
        "    - 'Baniyas'",
        '    - "Jableh"',
        "    description: >-",
        "      Ports on the",
        "      Syrian coast",
        "    feeds: [levant-wire]",
    ]
    assert change.before is not None and change.before["description"] == "Ports on the Syrian coast"
    assert change.after is None


def test_feeds_add_update_remove(rules_file: Path) -> None:
    add_feed(rules_file, {"name": "wire-2", "url": "https://example.net/rss", "tags": ["syria"]})
    text = rules_file.read_text(encoding="utf-8")
    assert "  - name: wire-2\n    url: https://example.net/rss\n    tags: [syria]\n\nrules:" in text
    update_feed(rules_file, "levant-wire", {"interval": "5m"})
    removed, added = changed_lines(text, rules_file.read_text(encoding="utf-8"))
    assert (removed, added) == ([], ["    interval: 5m"])
    remove_feed(rules_file, "wire-2")
    removed, added = changed_lines(ADMIN_FILE, rules_file.read_text(encoding="utf-8"))
    assert (removed, added) == ([], ["    interval: 5m"])


def test_an_edit_that_would_break_the_file_is_refused(rules_file: Path) -> None:
    with pytest.raises(WriteError) as info:
        remove_feed(rules_file, "levant-wire")  # rule "ports" watches it
    assert "invalid" in info.value.reason
    assert any("unknown feed 'levant-wire'" in p.message for p in info.value.problems)
    with pytest.raises(WriteError):
        update_rule(rules_file, "bases", {"severity": "urgent"})
    with pytest.raises(WriteError):
        add_rule(rules_file, {"name": "bases", "keywords": ["x"]})  # name taken
    with pytest.raises(WriteError):
        add_rule(rules_file, {"name": "x", "keyword": ["x"]})  # unknown key
    with pytest.raises(WriteError):
        update_rule(rules_file, "nope", {"severity": "low"})
    assert rules_file.read_text(encoding="utf-8") == ADMIN_FILE


def test_a_hand_edit_to_the_same_key_is_never_overwritten(rules_file: Path) -> None:
    base = read_snapshot(rules_file)
    hand = ADMIN_FILE.replace("exclude: [festival]", "exclude: [festival, concert]")
    rules_file.write_text(hand, encoding="utf-8")
    with pytest.raises(ConflictError) as info:
        update_rule(rules_file, "bases", {"exclude": ["festival", "fair"]}, base=base)
    assert "exclude changed in the file meanwhile" in info.value.reason
    assert rules_file.read_text(encoding="utf-8") == hand


def test_a_hand_edit_elsewhere_is_kept_and_the_edit_reapplied(rules_file: Path) -> None:
    base = read_snapshot(rules_file)
    hand = ADMIN_FILE.replace("  interval: 10m                   # be polite", "  interval: 15m  # slower")
    rules_file.write_text(hand, encoding="utf-8")
    change = update_rule(rules_file, "bases", {"severity": "low"}, base=base)
    assert change.reapplied
    after = rules_file.read_text(encoding="utf-8")
    assert "  interval: 15m  # slower\n" in after and "    severity: low\n" in after


def test_removing_a_rule_edited_meanwhile_is_refused(rules_file: Path) -> None:
    base = read_snapshot(rules_file)
    hand = ADMIN_FILE.replace('    - "Jableh"\n', '    - "Jableh"\n    - Tartus\n')
    rules_file.write_text(hand, encoding="utf-8")
    with pytest.raises(ConflictError):
        remove_rule(rules_file, "ports", base=base)
    assert rules_file.read_text(encoding="utf-8") == hand


def test_adding_a_rule_someone_else_just_added_is_refused(rules_file: Path) -> None:
    base = read_snapshot(rules_file)
    add_rule(rules_file, {"name": "hama", "keywords": ["Hama"]})
    with pytest.raises(ConflictError):
        add_rule(rules_file, {"name": "hama", "keywords": ["Hamah"]}, base=base)


def test_write_is_atomic_and_keeps_mode_and_symlinks(tmp_path: Path) -> None:
    real = tmp_path / "config" / "keywords.yaml"
    real.parent.mkdir()
    real.write_text(ADMIN_FILE, encoding="utf-8")
    os.chmod(real, 0o640)
    link = tmp_path / "keywords.yaml"
    link.symlink_to(real)
    update_rule(link, "bases", {"severity": "low"})
    assert link.is_symlink()
    assert "    severity: low\n" in real.read_text(encoding="utf-8")
    assert (real.stat().st_mode & 0o777) == 0o640
    assert sorted(p.name for p in real.parent.iterdir()) == ["keywords.yaml"]  # no temp file left


def test_crlf_line_endings_are_kept(tmp_path: Path) -> None:
    p = tmp_path / "keywords.yaml"
    p.write_bytes(ADMIN_FILE.replace("\n", "\r\n").encode())
    update_rule(p, "bases", {"severity": "low"})
    data = p.read_bytes()
    assert b"    severity: low\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")


def test_empty_and_missing_sections(tmp_path: Path) -> None:
    p = tmp_path / "keywords.yaml"
    p.write_text('version: 1\ndefaults:\n  channel: "123456789012345678"\nrules: []   # none yet\n')
    add_rule(p, {"name": "a", "keywords": ["Tartus"]})
    assert p.read_text() == (
        'version: 1\ndefaults:\n  channel: "123456789012345678"\n'
        "rules:   # none yet\n  - name: a\n    keywords: [Tartus]\n"
    )
    add_feed(p, {"name": "wire", "url": "https://example.org/rss"})
    assert p.read_text().endswith("feeds:\n  - name: wire\n    url: https://example.org/rss\n")
    remove_rule(p, "a")
    assert load_rules(p).rules == ()
    add_rule(p, {"name": "b", "keywords": ["Latakia"], "feeds": ["wire"]})
    assert load_rules(p).rule("b") is not None


def test_a_file_indented_differently_gets_new_items_in_its_own_style(tmp_path: Path) -> None:
    p = tmp_path / "keywords.yaml"
    p.write_text(
        'version: 1\ndefaults:\n    channel: "123456789012345678"\nrules:\n- name: a\n  keywords: [x]\n'
    )
    add_rule(p, {"name": "b", "keywords": ["y"]})
    assert p.read_text().endswith("- name: a\n  keywords: [x]\n- name: b\n  keywords: [y]\n")


def test_every_edit_result_loads_and_says_what_was_asked(rules_file: Path) -> None:
    update_rule(rules_file, "ports", {"keywords": ["Tartus"], "description": None, "severity": "critical"})
    rule = load_rules(rules_file).rule("ports")
    assert rule is not None
    assert (rule.keywords, rule.description, rule.severity) == (("Tartus",), "", "critical")
    update_rule(rules_file, "ports", {"keywords": ["Baniyas", "Tartus"]})  # reordered: re-rendered
    rule = load_rules(rules_file).rule("ports")
    assert rule is not None and rule.keywords == ("Baniyas", "Tartus")


def test_removing_the_key_on_the_dash_line(tmp_path: Path) -> None:
    p = tmp_path / "keywords.yaml"
    p.write_text(
        'version: 1\ndefaults:\n  channel: "123456789012345678"\nrules:\n'
        "  - keywords: [x]\n    name: a\n    severity: high\n  - name: b\n    keywords: [y]\n"
    )
    update_rule(p, "a", {"keywords": None, "regex": ["x+"]})
    rule = load_rules(p).rule("a")
    assert rule is not None and rule.keywords == () and rule.regex == ("x+",)
    assert p.read_text().endswith("  - name: b\n    keywords: [y]\n")


def test_a_broken_file_is_not_edited(rules_file: Path) -> None:
    broken = ADMIN_FILE.replace("severity: high", "severity: urgent")
    rules_file.write_text(broken, encoding="utf-8")
    with pytest.raises(WriteError) as info:
        update_rule(rules_file, "ports", {"severity": "low"})
    assert "has problems already" in info.value.reason and info.value.problems
    assert rules_file.read_text(encoding="utf-8") == broken


def test_add_feeds_adds_many_in_one_edit_as_add_feed_would_one_by_one(tmp_path: Path) -> None:
    feeds = [
        {"name": f"wire-{i}", "url": f"https://example{i}.org/rss", "tags": ["imported", f"t{i}"]}
        for i in range(30)
    ]
    feeds[7]["tags"] = ["?q", "x\x85y"]  # written quoted: rendered key by key, each checked, as add_feed does
    one_by_one = tmp_path / "one.yaml"
    one_by_one.write_text(ADMIN_FILE, encoding="utf-8")
    for feed in feeds:
        add_feed(one_by_one, feed)
    batch = tmp_path / "batch.yaml"
    batch.write_text(ADMIN_FILE, encoding="utf-8")
    result = add_feeds(batch, feeds)
    assert batch.read_text(encoding="utf-8") == one_by_one.read_text(encoding="utf-8")
    assert [c.name for c in result.changes] == [f["name"] for f in feeds] and result.skipped == ()
    assert result.changes[0].after == feeds[0] and result.changes[0].summary == "added feed 'wire-0'"
    assert [f.name for f in result.config.feeds][-30:] == [f["name"] for f in feeds]
    removed, added = changed_lines(ADMIN_FILE, batch.read_text(encoding="utf-8"))
    assert removed == [] and len(added) == 90  # comments, layout and every other line as they were


def test_add_feeds_leaves_out_what_cannot_be_added_with_the_reason_and_adds_the_rest(
    rules_file: Path,
) -> None:
    result = add_feeds(
        rules_file,
        [
            {"name": "first", "url": "https://first.example/rss"},
            {"name": "no-host", "url": "http:///rss"},
            {"name": "levant-wire", "url": "https://other.example/rss"},
            {"name": "odd", "url": "https://odd.example/rss", "colour": "red"},
            {"name": "first", "url": "https://again.example/rss"},
            {"url": "https://nameless.example/rss"},
            {"name": "last", "url": "https://last.example/rss", "interval": "5 parsecs"},
            {"name": "fine", "url": "https://fine.example/rss", "tags": ["x"]},
        ],
    )
    assert [c.name for c in result.changes] == ["first", "fine"]
    reasons = {str(s.item.get("name")): s.error for s in result.skipped}
    assert list(reasons) == ["no-host", "levant-wire", "odd", "first", "None", "last"]
    assert str(reasons["no-host"]) == (
        "feed 'no-host' would not load: url must be an http:// or https:// URL, not 'http:///rss'"
    )
    assert reasons["levant-wire"].reason == "there is already a feed named 'levant-wire'"
    assert reasons["odd"].reason.startswith("unknown feed key(s): 'colour'")
    assert reasons["first"].reason == "feed 'first' is given twice"
    assert reasons["None"].reason == "a new feed needs a name"
    assert reasons["last"].reason.startswith("feed 'last' would not load: feed 'last' interval: ")
    text = rules_file.read_text(encoding="utf-8")
    removed, added = changed_lines(ADMIN_FILE, text)
    assert removed == []
    assert added == [
        "  - name: first",
        "    url: https://first.example/rss",
        "  - name: fine",
        "    url: https://fine.example/rss",
        "    tags: [x]",
    ]
    assert [f.name for f in load_rules(rules_file).feeds] == ["levant-wire", "world", "first", "fine"]


def test_add_feeds_with_nothing_to_add_writes_nothing(rules_file: Path) -> None:
    before = rules_file.stat().st_mtime_ns, rules_file.stat().st_ino
    result = add_feeds(rules_file, [{"name": "world", "url": "https://example.com/feed"}])
    assert result.changes == () and len(result.skipped) == 1
    assert result.new_digest == result.old_digest == read_snapshot(rules_file).digest
    assert (rules_file.stat().st_mtime_ns, rules_file.stat().st_ino) == before


def test_add_feeds_never_adds_a_feed_someone_added_meanwhile(rules_file: Path) -> None:
    base = read_snapshot(rules_file)
    hand = ADMIN_FILE.replace(
        "  - {name: world,", "  - {name: mine, url: https://b.example/rss}\n  - {name: world,"
    )
    rules_file.write_text(hand, encoding="utf-8")
    feeds = [{"name": "a", "url": "https://a.example/rss"}, {"name": "b", "url": "https://b.example/rss"}]
    with pytest.raises(ConflictError) as info:
        add_feeds(rules_file, feeds, base=base)
    assert info.value.reason.startswith("a feed with the URL 'https://b.example/rss' was added to the file")
    assert rules_file.read_text(encoding="utf-8") == hand
    elsewhere = ADMIN_FILE.replace(
        "  interval: 10m                   # be polite", "  interval: 15m  # slower"
    )
    rules_file.write_text(elsewhere, encoding="utf-8")
    result = add_feeds(rules_file, feeds, base=base)
    assert result.reapplied and [c.name for c in result.changes] == ["a", "b"]
    assert "  interval: 15m  # slower\n" in rules_file.read_text(encoding="utf-8")


def test_add_feed_to_a_file_without_a_final_newline(tmp_path: Path) -> None:
    p = tmp_path / "keywords.yaml"
    p.write_text(
        'version: 1\ndefaults:\n  channel: "123456789012345678"\nfeeds:\n  - name: a\n    url: https://a.org/x'
    )
    add_feed(p, {"name": "b", "url": "https://b.org/x"})
    assert p.read_text().endswith("    url: https://a.org/x\n  - name: b\n    url: https://b.org/x\n")
