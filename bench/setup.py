"""Files the benchmarks hand to the bot: a keywords.yaml naming N loopback feeds."""

from __future__ import annotations

from pathlib import Path

RULES = """
rules:
  - name: bases
    description: Russia's naval base at Tartus and air base at Khmeimim
    keywords: [Tartus, Tartous, Khmeimim, Hmeimim, Тартус, Хмеймим, طرطوس, حميميم]
    exclude: [festival]
    severity: high
  - name: russian-presence
    description: Russian forces, bases or withdrawal in Syria
    keywords: [naval base, air base, airbase, military base*, evacuat*, withdraw*, troops]
    all: [Russia*, Syria*]
    severity: normal
  - name: tech
    keywords: [Python, SQLite, Rust, compiler, Linux kernel]
    severity: low
"""


def feed_url(port: int, i: int, hosts: int) -> str:
    return f"http://127.0.0.{1 + i % hosts}:{port}/f/{i}.xml"


def write_keywords(
    path: Path,
    port: int,
    feeds: int,
    hosts: int = 1,
    interval: str = "10m",
    backfill: str = "24h",
    max_age: str = "7d",
) -> Path:
    lines = [
        "version: 1",
        "defaults:",
        '  channel: "123456789012345678"',
        f"  interval: {interval}",
        f"  backfill: {backfill}",
        f"  max_age: {max_age}",
        "feeds:",
    ]
    for i in range(feeds):
        lines.append(f"  - name: feed-{i:05d}")
        lines.append(f"    url: {feed_url(port, i, hosts)}")
    path.write_text("\n".join(lines) + "\n" + RULES)
    return path
