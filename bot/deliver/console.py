"""Console sink: alerts printed to a terminal in readable form when no Discord token is set."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.deliver import DeliveryResult, OutboxAlert

_BAR = "─" * 72


def render(item: OutboxAlert) -> str:
    a = item.alert
    lines = [_BAR, f"[{a.severity.upper()}] {a.title}"]
    if a.previous_title:
        lines.append(f"  (headline updated; it was: {a.previous_title})")
    if a.link:
        lines.append(f"  {a.link}")
    origin = a.feed_title or a.feed
    if a.source and a.source != origin:
        origin = f"{origin} — {a.source}"
    when = f" · {a.published.replace('T', ' ')[:16]} UTC" if a.published else ""
    lines.append(f"  {origin}{when} → {item.target.key}")
    if a.summary:
        lines.append(f"  {a.summary}")
    lines.append(f"  matched: {a.matched_line}")
    if a.mentions:
        lines.append(f"  would notify roles: {', '.join(a.mentions)}")
    return "\n".join(lines)


class ConsoleSink:
    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    async def send(self, item: OutboxAlert) -> DeliveryResult:
        out = self.stream or sys.stdout
        print(render(item), file=out, flush=True)
        return DeliveryResult.sent(None)

    async def notify_admin(self, text: str) -> None:
        print(f"[admin] {text}", file=sys.stderr, flush=True)
