"""Matcher throughput: items per second against 10, 100, 1,000 and 10,000 keywords on 2 KB items.

    python -m bench.match            # the table
    python -m bench.match --quick    # fewer items, for a smoke run

``run()`` returns the rows for the overall benchmark runner. Everything is generated from a fixed seed:
keywords are made-up place names (10 per rule; one in ten a two-word phrase, one in ten a ``prefix*``,
every rule with one ``exclude`` term and every fifth with an ``all`` term), items are 2 KB of made-up
prose of which about one in ten mentions a keyword. Three kinds of item are timed: ASCII English-like
text, Latin with accents, and a mix of Cyrillic and Arabic. Each figure is the best of five short runs, so
that other work on the machine does not count against the matcher. Items go through ``Matcher.match``
exactly as the poller calls it (title, summary and content; one outcome per rule).
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import asdict, dataclass
from typing import Any

from bot.match import Matcher
from bot.model import Entry
from bot.rules.model import Config, Defaults, Rule

SIZES = (10, 100, 1_000, 10_000)
ITEM_BYTES = 2048
_LATIN = "abcdefghijklmnopqrstuvwxyz"
_ACCENTED = "abcdefghijklmnopqrstuvwxyz" * 8 + "éèàçüöñ"  # about 3% accented letters, as in French
_CYRILLIC = "абвгдежзийклмнопрстуфхцчшщыэюя"
_ARABIC = "ابتثجحخدذرزسشصضطظعغفقكلمنهويةأى"


@dataclass(frozen=True, slots=True)
class Row:
    keywords: int
    rules: int
    compile_ms: float
    ascii_items_per_s: float
    accented_items_per_s: float
    cyrillic_arabic_items_per_s: float
    ascii_us_per_item: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _word(rng: random.Random, alphabet: str, lo: int = 2, hi: int = 10) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def make_config(n_keywords: int, seed: int = 7) -> Config:
    rng = random.Random(seed)
    rules: list[Rule] = []
    made = 0
    while made < n_keywords:
        k = min(10, n_keywords - made)
        words = []
        for j in range(k):
            alphabet = (_LATIN, _LATIN, _LATIN, _CYRILLIC, _ARABIC)[j % 5]
            w = _word(rng, alphabet, 5, 11).capitalize()
            if j % 10 == 3:
                w = f"{w} {_word(rng, alphabet, 4, 8)}"
            elif j % 10 == 7:
                w = _word(rng, alphabet, 6, 8).capitalize() + "*"
            words.append(w)
        made += k
        i = len(rules)
        rules.append(
            Rule(
                name=f"rule-{i}",
                keywords=tuple(words),
                exclude=(_word(rng, _LATIN, 6, 10),),
                all=(_word(rng, _LATIN, 5, 9),) if i % 5 == 0 else (),
                channel="123456789012345678",
            )
        )
    return Config(path="bench", defaults=Defaults(channel="123456789012345678"), rules=tuple(rules))


def make_items(config: Config, kind: str, count: int, seed: int = 11) -> list[Entry]:
    rng = random.Random(seed)
    alphabet = {"ascii": _LATIN, "accented": _ACCENTED}.get(kind)
    vocab: list[str] = []
    for _ in range(3000):
        a = alphabet or rng.choice((_CYRILLIC, _ARABIC, _LATIN))
        vocab.append(_word(rng, a))
    keywords = [k.rstrip("*") for r in config.rules for k in r.keywords]
    items = []
    for n in range(count):
        parts: list[str] = []
        size = 0
        while size < ITEM_BYTES:
            w = rng.choice(vocab)
            if rng.random() < 0.08:
                w = w.capitalize()
            if rng.random() < 0.07:
                w += rng.choice((",", ".", ";", ":"))
            parts.append(w)
            size += len(w.encode()) + 1
        if n % 10 == 0 and keywords:
            parts[rng.randrange(len(parts))] = rng.choice(keywords)
        text = " ".join(parts)
        while len(text.encode()) > ITEM_BYTES:
            text = text[:-1]
        title, summary = text[:90], text[90:500]
        items.append(Entry(key=str(n), title=title, summary=summary, content=text[500:]))
    return items


def _throughput(matcher: Matcher, items: list[Entry], seconds: float, repeat: int = 5) -> float:
    """Items per second: the best of ``repeat`` runs of about ``seconds / repeat`` each (like ``timeit``,
    so that other work on the machine does not count against the matcher)."""
    for e in items[:50]:
        matcher.match(e)  # warm caches
    best = 0.0
    for _ in range(repeat):
        done = 0
        start = time.perf_counter()
        deadline = start + seconds / repeat
        while True:
            for e in items:
                matcher.match(e)
            done += len(items)
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, done / (now - start))
    return best


def run(sizes: tuple[int, ...] = SIZES, items: int = 500, seconds: float = 1.5) -> list[Row]:
    """Measure every size; one row each."""
    rows = []
    for n in sizes:
        config = make_config(n)
        t0 = time.perf_counter()
        matcher = Matcher(config)
        compile_ms = (time.perf_counter() - t0) * 1000
        rates = {
            kind: _throughput(matcher, make_items(config, kind, items), seconds)
            for kind in ("ascii", "accented", "mixed")
        }
        rows.append(
            Row(
                keywords=n,
                rules=len(config.rules),
                compile_ms=round(compile_ms, 1),
                ascii_items_per_s=round(rates["ascii"]),
                accented_items_per_s=round(rates["accented"]),
                cyrillic_arabic_items_per_s=round(rates["mixed"]),
                ascii_us_per_item=round(1e6 / rates["ascii"], 1),
            )
        )
    return rows


def format_table(rows: list[Row]) -> str:
    head = (
        "keywords",
        "rules",
        "compile ms",
        "ASCII items/s",
        "µs/item",
        "accented items/s",
        "Cyrillic+Arabic items/s",
    )
    lines = [" | ".join(head), " | ".join("-" * len(h) for h in head)]
    for r in rows:
        cells = (
            f"{r.keywords:,}",
            f"{r.rules:,}",
            f"{r.compile_ms:,.1f}",
            f"{r.ascii_items_per_s:,.0f}",
            f"{r.ascii_us_per_item:,.1f}",
            f"{r.accented_items_per_s:,.0f}",
            f"{r.cyrillic_arabic_items_per_s:,.0f}",
        )
        lines.append(" | ".join(c.rjust(len(h)) for c, h in zip(cells, head, strict=True)))
    if rows:
        first, last = rows[0], rows[-1]
        lines.append("")
        lines.append(
            f"{last.keywords:,} keywords vs {first.keywords:,}: "
            f"{first.ascii_items_per_s / last.ascii_items_per_s:.2f}x slower (ASCII), "
            f"{first.cyrillic_arabic_items_per_s / last.cyrillic_arabic_items_per_s:.2f}x (Cyrillic+Arabic)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.match", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer items and shorter runs")
    args = parser.parse_args(argv)
    rows = run(items=200, seconds=0.2) if args.quick else run()
    print(f"Matcher throughput on {ITEM_BYTES}-byte items, one core")
    print(format_table(rows))


if __name__ == "__main__":
    main()
