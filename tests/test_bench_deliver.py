"""bench/deliver.py runs end to end and returns its rows (no timing asserted here)."""

from __future__ import annotations

import discord.gateway
import discord.http

from bench.deliver import format_table, run


def test_bench_runs_and_delivers_everything() -> None:
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    try:
        rows = run(quick=True)
    finally:
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway
    assert [r.what for r in rows] == ["render (ordinary)", "render (enormous)", "drain", "drain, 5/s buckets"]
    assert all(r.alerts_per_s > 0 for r in rows)
    assert format_table(rows).splitlines()[0].split()[:2] == ["what", "alerts"]
