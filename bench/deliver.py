"""Discord delivery: rendering speed, and draining the outbox through discord.py into the fake Discord.

    python -m bench.deliver            # the table
    python -m bench.deliver --quick    # fewer alerts, for a smoke run

Rows:

* ``render`` — ``render_alert`` on an ordinary alert and on an enormous one (every field far over its
  limit, hundreds of highlights and roles), alerts per second, best of five runs;
* ``drain`` — ``DeliveryWorker.drain`` of N alerts spread over C channels, through the real sinks,
  discord.py's HTTP client and the fake Discord on 127.0.0.1 (no rate limits): alerts per second end to end,
  including SQLite;
* ``drain, 5/s buckets`` — the same with Discord-like per-channel buckets (5 messages per second, answered
  with pre-emptive ``X-RateLimit-*`` headers and 429 beyond): the wall time shows channels being served in
  parallel (serial would take ``N / 5`` seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.deliver import Target
from bot.deliver.discord.client import NewshoundClient, apply_endpoints
from bot.deliver.discord.render import render_alert
from bot.deliver.discord.sink import DiscordDelivery, DiscordSink, WebhookSink
from bot.deliver.worker import DeliveryWorker
from bot.model import Entry
from bot.store import NewItem, PlannedAlert, PollRecord, StoreThread
from bot.summarise import Alert, AlertMatch
from tests.fakes.discord_server import FakeDiscord

FIRST_CHANNEL = 300000000000000100


@dataclass(frozen=True, slots=True)
class Row:
    what: str
    alerts: int
    channels: int
    seconds: float
    alerts_per_s: float


def make_alert(i: int, *, huge: bool = False) -> Alert:
    text = f"Russian ships arrived in Tartus on day {i}. Officials said little about Khmeimim."
    if huge:
        words = "Ŧartus 東京 مرحبا 🚢 word Khmeimim " * 3000
        return Alert(
            feed="f" * 3000,
            feed_title=words,
            title=words,
            link="https://news.example/" + "a" * 1500,
            summary=words,
            matches=tuple(AlertMatch(f"rule-{r}", ("term " * 40,), "critical") for r in range(200)),
            severity="critical",
            mentions=tuple(str(400000000000000000 + r) for r in range(200)),
            highlights=(*(f"h{r}" for r in range(400)), "Tartus", "Khmeimim"),
            published="2025-03-01T12:30:00+00:00",
            source=words,
            author=words,
        )
    return Alert(
        feed="levant-wire",
        feed_title="Levant Wire",
        title=f"Story {i}: Tartus",
        link=f"https://news.example/{i}",
        summary=text,
        matches=(AlertMatch("bases", ("Tartus", "Khmeimim"), "high"),),
        severity="high",
        highlights=("Tartus", "Khmeimim"),
        published="2025-03-01T12:30:00+00:00",
        source="Reuters",
    )


def bench_render(count: int) -> list[Row]:
    rows = []
    for label, huge in (("render (ordinary)", False), ("render (enormous)", True)):
        n = max(1, count // 25) if huge else count
        alerts = [make_alert(i, huge=huge) for i in range(n)]
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            for a in alerts:
                render_alert(a)
            best = min(best, time.perf_counter() - t0)
        rows.append(Row(label, n, 0, best, n / best))
    return rows


async def bench_drain(alerts: int, channels: int, *, bucket: int | None) -> Row:
    fake = FakeDiscord()
    if bucket is not None:
        fake.bucket_limit, fake.bucket_window = bucket, 1.0
    ids = [str(FIRST_CHANNEL + c) for c in range(channels)]
    for cid in ids:
        fake.add_channel(cid)
    await fake.start()
    client = NewshoundClient(endpoints=apply_endpoints(fake.api_base, fake.gateway_url))
    with tempfile.TemporaryDirectory() as tmp:
        store = StoreThread(Path(tmp) / "bench.db")
        try:
            await client.login(fake.token)  # REST only: delivery does not need the gateway
            sink = DiscordSink(client, timeout=30.0)
            sink.logged_in.set()
            delivery = DiscordDelivery(channels=sink, webhooks=WebhookSink())
            worker = DeliveryWorker(store, delivery, burst_limit=0)
            now = time.time()

            def fill(s: Any) -> None:
                s.sync_feeds([("bench", "http://127.0.0.1/feed")], now)
                items = [
                    NewItem(
                        entry=Entry(key=f"k{i}", title=f"Story {i}"),
                        verdict="alerted",
                        reason="bench",
                        alerts=[PlannedAlert(Target(channel=ids[i % channels]), make_alert(i))],
                    )
                    for i in range(alerts)
                ]
                s.record_poll(PollRecord(feed="bench", at=now, next_poll_at=now + 600, items=items))

            await store.run(fill)
            t0 = time.perf_counter()
            report = await worker.drain()
            seconds = time.perf_counter() - t0
            if report.sent != alerts or len(fake.all_messages()) != alerts:
                raise RuntimeError(f"delivered {report.sent} of {alerts}: {report}")
            await delivery.close()
        finally:
            await client.close()
            await store.close()
            await fake.stop()
    label = "drain" if bucket is None else f"drain, {bucket}/s buckets"
    return Row(label, alerts, channels, seconds, alerts / seconds)


def run(quick: bool = False) -> list[Row]:
    rows = bench_render(50 if quick else 500)
    rows.append(asyncio.run(bench_drain(40 if quick else 400, 4 if quick else 10, bucket=None)))
    rows.append(asyncio.run(bench_drain(12 if quick else 60, 2 if quick else 4, bucket=5)))
    return rows


def format_table(rows: list[Row]) -> str:
    lines = [f"{'what':<24} {'alerts':>7} {'channels':>9} {'seconds':>9} {'alerts/s':>10}"]
    for r in rows:
        lines.append(
            f"{r.what:<24} {r.alerts:>7} {r.channels or '-':>9} {r.seconds:>9.3f} {r.alerts_per_s:>10.0f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rows = run(quick=args.quick)
    print(format_table(rows))


if __name__ == "__main__":
    main()
