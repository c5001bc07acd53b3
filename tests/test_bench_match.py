"""bench/match.py runs and returns rows the overall benchmark runner can use (no timing asserted here)."""

from __future__ import annotations

from bench.match import format_table, make_config, make_items, run
from bot.match import Matcher


def test_run_returns_one_row_per_size() -> None:
    rows = run(sizes=(10, 100), items=20, seconds=0.01)
    assert [(r.keywords, r.rules) for r in rows] == [(10, 1), (100, 10)]
    assert all(r.ascii_items_per_s > 0 and r.cyrillic_arabic_items_per_s > 0 for r in rows)
    assert set(rows[0].as_dict()) >= {"keywords", "ascii_items_per_s", "compile_ms"}
    table = format_table(rows)
    assert table.splitlines()[0].startswith("keywords | rules")


def test_generated_items_are_2kb_and_some_match() -> None:
    config = make_config(100)
    assert sum(len(r.keywords) for r in config.rules) == 100
    items = make_items(config, "mixed", 30)
    sizes = {len((e.title + e.summary + e.content).encode()) for e in items}
    assert max(sizes) <= 2048 and min(sizes) > 1900
    matcher = Matcher(config)
    fired = sum(any(o.fired for o in matcher.match(e)) for e in items)
    assert 1 <= fired <= 10
