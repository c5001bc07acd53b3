"""Outbox → worker → Discord sinks → discord.py's real HTTP code → the fake Discord, and back into the store.

Nothing of ours is mocked: faults are injected at the network edge (the fake), crashes are simulated by
cancelling the worker mid-send and starting a new store + client + worker on the same database.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pytest

from bot.deliver import Target
from bot.deliver.console import ConsoleSink
from bot.deliver.discord.client import NewshoundClient
from bot.deliver.discord.render import render_alert
from bot.deliver.discord.sink import DiscordDelivery, DiscordSink, WebhookSink, nonce_for
from bot.deliver.worker import DeliveryWorker
from bot.model import Entry
from bot.store import NewItem, PlannedAlert, PollRecord, Store, StoreThread
from bot.summarise import Alert, AlertMatch
from tests.conftest import ADMIN, ALERTS, OTHER, start_client, stop_client
from tests.fakes.discord_server import READ_MESSAGE_HISTORY, FakeDiscord

ROLE = "400000000000000001"
OTHER_ROLE = "400000000000000002"
SEND_TIMEOUT = 0.5
_keys = itertools.count(1)


def alert(title: str, **kw: Any) -> Alert:
    base: dict[str, Any] = {
        "feed": "levant-wire",
        "feed_title": "Levant Wire",
        "title": title,
        "link": f"https://news.example/{title.replace(' ', '-')}",
        "summary": f"{title}. Ships were seen in Tartus.",
        "matches": (AlertMatch("bases", ("Tartus",), "high"),),
        "severity": "high",
        "highlights": ("Tartus",),
        "published": "2025-03-01T12:30:00+00:00",
        "source": "Reuters",
    }
    base.update(kw)
    return Alert(**base)


def enqueue(store: Store, target: Target, alerts: list[Alert], now: float) -> list[int]:
    """Puts alerts in the outbox the way a poll does (one item per alert)."""
    store.sync_feeds([("levant-wire", "http://127.0.0.1/feed.xml")], now)
    items = []
    for a in alerts:
        key = f"urn:test:{next(_keys)}"
        entry = Entry(key=key, title=a.title, link=a.link, summary=a.summary)
        items.append(NewItem(entry=entry, verdict="alerted", reason="test", alerts=[PlannedAlert(target, a)]))
    return store.record_poll(
        PollRecord(feed="levant-wire", at=now, next_poll_at=now + 600, items=items)
    ).alert_ids


@dataclass
class Rig:
    """One "process": a store, a logged-in client, the sinks and a worker, on one database file."""

    fake: FakeDiscord
    db: Path
    store: StoreThread
    client: NewshoundClient | None
    sink: DiscordDelivery
    worker: DeliveryWorker
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    async def add(self, target: Target, *alerts: Alert) -> list[int]:
        import time

        now = time.time()
        return await self.store.run(lambda s: enqueue(s, target, list(alerts), now))

    async def row(self, alert_id: int) -> dict[str, Any]:
        row = await self.store.run(lambda s: s.alert(alert_id))
        assert row is not None
        return row

    async def rows(self, ids: list[int]) -> list[dict[str, Any]]:
        return [await self.row(i) for i in ids]

    def run(self) -> asyncio.Event:
        stop = asyncio.Event()
        self.tasks.append(asyncio.create_task(self.worker.run_forever(stop, idle=0.2)))
        return stop

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.sink.close()
        if self.client is not None:
            await stop_client(self.client)
        await self.store.close()


async def make_rig(
    fake: FakeDiscord, db: Path, *, bot: bool = True, console: TextIO | None = None, **worker: Any
) -> Rig:
    """``console``: without a bot, channel alerts are printed there (as `newshound run` does with only
    webhooks configured)."""
    store = StoreThread(db)
    await store.open()
    client = await start_client(fake) if bot else None
    if not bot:
        from bot.deliver.discord.client import apply_endpoints

        apply_endpoints(fake.api_base, fake.gateway_url)
    channels = DiscordSink(client, admin_channel=ADMIN, timeout=SEND_TIMEOUT) if client else None
    if channels is not None:
        channels.logged_in.set()
    webhooks = WebhookSink(
        timeout=SEND_TIMEOUT, client=client, admin=channels.notify_admin if channels is not None else None
    )
    fallback = ConsoleSink(console) if console is not None else None
    sink = DiscordDelivery(channels=channels, webhooks=webhooks, fallback=fallback)
    worker.setdefault("backoff_base", 0.05)
    worker.setdefault("backoff_max", 0.2)
    return Rig(fake, db, store, client, sink, DeliveryWorker(store, sink, **worker))


@pytest.fixture
async def rig(fake_discord: FakeDiscord, tmp_path: Path) -> AsyncIterator[Rig]:
    fake_discord.add_role(ROLE, name="analysts")
    fake_discord.add_role(OTHER_ROLE, name="everyone-else")
    r = await make_rig(fake_discord, tmp_path / "newshound.db")
    try:
        yield r
    finally:
        await r.close()


CH = Target(channel=ALERTS)
CH2 = Target(channel=OTHER)


async def until(predicate: Callable[[], bool], within: float = 10.0) -> None:
    """Waits (polling the fake's records) until ``predicate()`` holds."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - conditions span the fake and the store: poll
            await asyncio.sleep(0.01)


def titles(fake: FakeDiscord, channel: str) -> list[str]:
    return [m["embeds"][0].get("title", "") for m in fake.channel_messages(channel)]


# -- what arrives ----------------------------------------------------------------------------------


async def test_alert_arrives_once_as_rendered_and_its_message_id_is_stored(rig: Rig) -> None:
    a = alert("Russia reinforces Tartus naval base", mentions=(ROLE,))
    (aid,) = await rig.add(CH, a)
    report = await rig.worker.drain()
    assert report.sent == 1 and report.failed == report.retried == 0
    (msg,) = rig.fake.channel_messages(ALERTS)
    rendered = render_alert(a)
    assert {k: v for k, v in msg["embeds"][0].items() if k != "flags"} == rendered.embed
    assert msg["content"] == f"<@&{ROLE}>"
    (req,) = rig.fake.requests_to("POST", f"/channels/{ALERTS}/messages")
    assert req.headers["Content-Type"] == "application/json"
    assert req.json["allowed_mentions"] == {"parse": [], "roles": [int(ROLE)]}
    row = await rig.row(aid)
    assert (
        req.json["nonce"] == msg["nonce"] == nonce_for(await _outbox(rig, aid)) and req.json["enforce_nonce"]
    )
    assert row["status"] == "sent" and row["message_id"] == msg["id"] and row["sending_at"] is None
    assert await rig.worker.drain() == type(report)()  # nothing left


async def _outbox(rig: Rig, alert_id: int) -> Any:
    items = await rig.store.run(lambda s: s.pending_for(CH.key, 1e12, 1000))
    row = await rig.row(alert_id)
    from bot.model import OutboxAlert

    return next(
        (i for i in items if i.id == alert_id),
        OutboxAlert(alert_id, CH, alert("x"), created_at=row["created_at"]),
    )


async def test_feed_text_full_of_mentions_pings_only_the_rules_roles(rig: Rig) -> None:
    nasty = (
        "@everyone @here <@123456789012345678> <@!123456789012345678> <@&400000000000000002> "
        "<#300000000000000002>"
    )
    pinging = alert(nasty, summary=nasty, source=nasty, author=nasty, feed_title=nasty, mentions=(ROLE,))
    quiet = alert(nasty + " 2", summary=nasty, mentions=())
    await rig.add(CH, pinging, quiet)
    await rig.worker.drain()
    first, second = rig.fake.channel_messages(ALERTS)
    assert first["mention_roles"] == [ROLE] and first["mentions"] == [] and first["mention_everyone"] is False
    assert second["mention_roles"] == [] and second["mentions"] == [] and second["mention_everyone"] is False
    assert "@everyone" not in first["content"] and "123456789012345678" not in first["content"]


async def test_each_channel_gets_its_alerts_in_order(rig: Rig) -> None:
    await rig.add(CH, *(alert(f"A{i}") for i in range(6)))
    await rig.add(CH2, *(alert(f"B{i}") for i in range(4)))
    await rig.worker.drain()
    assert titles(rig.fake, ALERTS) == [f"A{i}" for i in range(6)]
    assert titles(rig.fake, OTHER) == [f"B{i}" for i in range(4)]


# -- rate limits -----------------------------------------------------------------------------------


async def test_429_is_waited_out_without_holding_up_another_channel(rig: Rig) -> None:
    rig.fake.rate_limit(channel=ALERTS, retry_after=0.6)
    await rig.add(CH, alert("A0"), alert("A1"))
    await rig.add(CH2, alert("B0"), alert("B1"), alert("B2"))
    report = await rig.worker.drain()
    assert report.sent == 5 and report.retried == 0
    assert titles(rig.fake, ALERTS) == ["A0", "A1"] and titles(rig.fake, OTHER) == ["B0", "B1", "B2"]
    posts = [r for r in rig.fake.requests if r.method == "POST"]
    limited = next(i for i, r in enumerate(posts) if r.status == 429)
    a_sent = next(i for i, r in enumerate(posts) if r.status == 200 and r.scope == f"channel:{ALERTS}")
    b_sent = [i for i, r in enumerate(posts) if r.status == 200 and r.scope == f"channel:{OTHER}"]
    # Every B message went out while A was still waiting for its rate limit to pass.
    assert all(limited < i < a_sent for i in b_sent)


async def test_429_longer_than_the_client_waits_becomes_a_stored_retry(rig: Rig) -> None:

    rig.fake.rate_limit(channel=ALERTS, retry_after=45.0)
    (aid,) = await rig.add(CH, alert("A0"))
    await rig.add(CH2, alert("B0"))
    started = time.time()
    report = await rig.worker.drain()
    assert report.sent == 1 and report.retried == 1
    assert titles(rig.fake, OTHER) == ["B0"] and titles(rig.fake, ALERTS) == []
    row = await rig.row(aid)
    assert row["status"] == "pending" and "rate limited" in row["error"]
    assert row["next_attempt_at"] >= started + 44


# -- outages ---------------------------------------------------------------------------------------


async def test_5xx_is_retried_with_backoff_until_it_works(rig: Rig) -> None:
    rig.fake.fail(channel=ALERTS, status=503, times=2)
    (aid,) = await rig.add(CH, alert("A0"))
    first = await rig.worker.drain()
    assert first.retried == 1 and "503" in first.errors[0]
    row = await rig.row(aid)
    assert row["status"] == "pending" and row["attempts"] == 1 and row["next_attempt_at"] is not None
    stop = rig.run()
    await until(lambda: _sync_rows(rig, [aid])[0].get("status") == "sent")  # recorded once Discord said so
    stop.set()
    assert titles(rig.fake, ALERTS) == ["A0"]
    assert [r.status for r in rig.fake.requests_to("POST", f"/channels/{ALERTS}")] == [503, 503, 200]


async def test_the_worker_idles_while_a_retried_send_is_in_flight(rig: Rig) -> None:
    """A retried alert's send hangs: its ``next_attempt_at`` is in the past while the send runs. The
    delivery loop must wait for that send to end, not wake every 50 ms to look again."""
    assert rig.sink.channels is not None
    rig.sink.channels.timeout = 5.0
    rig.fake.fail(channel=ALERTS, status=503, times=1)
    rig.fake.hang(channel=ALERTS, times=1)
    rounds: list[float] = []

    def trace(sql: str) -> None:  # every delivery round asks the store when the next retry is due
        if "MIN(next_attempt_at)" in sql:
            rounds.append(time.monotonic())

    await rig.store.run(lambda s: s.db.conn.set_trace_callback(trace))
    (aid,) = await rig.add(CH, alert("A0"))
    stop = asyncio.Event()
    rig.tasks.append(asyncio.create_task(rig.worker.run_forever(stop, idle=30.0)))
    try:
        await until(lambda: len(rig.fake.requests_to("POST", f"/channels/{ALERTS}")) == 2)  # hanging now
        hanging_since = time.monotonic()
        await asyncio.sleep(1.5)
        assert len([t for t in rounds if t >= hanging_since]) <= 3, len(rounds)
        rig.fake.release()  # the hung request ends (503); the retry after it goes through
        await until(lambda: _sync_rows(rig, [aid])[0].get("status") == "sent")
    finally:
        stop.set()
        await rig.store.run(lambda s: s.db.conn.set_trace_callback(None))


async def test_a_500_is_retried_inside_discord_py(rig: Rig) -> None:
    # discord.py itself retries 500/502/504 after a second; the sink sees a normal success.
    rig.fake.fail(channel=ALERTS, status=500, times=1)
    rig.sink.channels.timeout = 5.0  # type: ignore[union-attr]
    await rig.add(CH, alert("A0"))
    report = await rig.worker.drain()
    assert report.sent == 1
    assert [r.status for r in rig.fake.requests_to("POST", f"/channels/{ALERTS}")] == [500, 200]


async def test_a_send_through_a_closed_session_is_retried_not_an_internal_error(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """What a channel send meets while discord.py has closed the client's HTTP session (a gateway close it
    cannot resume) and the bot has not logged in again yet: aiohttp's "Session is closed"."""
    assert rig.client is not None
    await rig.client.http.close()
    (aid,) = await rig.add(CH, alert("A0"))
    report = await rig.worker.drain()
    assert report.retried == 1 and report.sent == 0
    row = await rig.row(aid)
    assert row["status"] == "pending" and "session was closed" in row["error"]
    assert "internal error" not in row["error"]
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.parametrize("mode", ["refuse", "hang", "5xx"])
async def test_outage_then_recovery_loses_nothing_and_keeps_order(rig: Rig, mode: str) -> None:
    await rig.fake.outage(mode)  # type: ignore[arg-type]
    ids = await rig.add(CH, *(alert(f"A{i}") for i in range(4)))
    ids += await rig.add(CH2, *(alert(f"B{i}") for i in range(3)))
    stop = rig.run()
    await until(lambda: all(r["error"] for r in _sync_rows(rig, [ids[0], ids[4]])))
    more = await rig.add(CH, alert("A4"))
    await rig.fake.recover()
    # Every alert ends up recorded as sent (the last POST can land before the bot has read its answer:
    # wait for the store, not for the fake's message count).
    await until(lambda: {r.get("status") for r in _sync_rows(rig, ids + more)} == {"sent"})
    stop.set()
    await asyncio.sleep(0.3)  # let anything (wrongly) still in flight land before counting
    assert titles(rig.fake, ALERTS) == [f"A{i}" for i in range(5)]
    assert titles(rig.fake, OTHER) == [f"B{i}" for i in range(3)]


def _sync_rows(rig: Rig, ids: list[int]) -> list[dict[str, Any]]:
    store = Store(rig.db)
    try:
        return [store.alert(i) or {} for i in ids]
    finally:
        store.db.close()


async def test_timeout_after_discord_created_the_message_is_not_sent_twice(rig: Rig) -> None:
    rig.fake.hang(channel=ALERTS, after_create=True)
    (aid,) = await rig.add(CH, alert("A0"))
    first = await rig.worker.drain()
    assert first.retried == 1 and "did not answer" in first.errors[0]
    assert len(rig.fake.channel_messages(ALERTS)) == 1
    row = await rig.row(aid)
    assert row["status"] == "pending" and row["sending_at"] is not None
    await asyncio.sleep(0.1)
    second = await rig.worker.drain()
    assert second.sent == 1
    (msg,) = rig.fake.channel_messages(ALERTS)
    assert (await rig.row(aid))["message_id"] == msg["id"]


@pytest.mark.parametrize("recognised_by", ["nonce", "history"])
async def test_kill_between_send_and_mark_does_not_duplicate(
    fake_discord: FakeDiscord, tmp_path: Path, recognised_by: str
) -> None:
    if recognised_by == "nonce":
        # The bot cannot read history here: only Discord's nonce check can recognise the resend.
        fake_discord.set_bot_overwrite(ALERTS, deny=READ_MESSAGE_HISTORY)
    else:
        # Discord's nonce window has passed (a long restart): only the history check can.
        fake_discord.nonce_window = 0.0
    db = tmp_path / "newshound.db"
    first = await make_rig(fake_discord, db)
    ids = await first.add(CH, alert("A0"), alert("A1"))
    fake_discord.hang(channel=ALERTS, after_create=True)  # A0 reaches Discord, the answer never comes
    stop = first.run()
    await until(lambda: len(fake_discord.channel_messages(ALERTS)) == 1)
    stop.set()
    await first.close()  # the process dies: the worker is cancelled mid-send, nothing else is recorded
    row = _sync_rows(first, [ids[0]])[0]
    assert row["status"] == "pending" and row["sending_at"] is not None and row["message_id"] is None
    fake_discord.release()

    second = await make_rig(fake_discord, db)  # a new process on the same database
    try:
        report = await second.worker.drain()
        assert report.sent == 2
        assert titles(fake_discord, ALERTS) == ["A0", "A1"]
        rows = await second.rows(ids)
        assert [r["message_id"] for r in rows] == [m["id"] for m in fake_discord.channel_messages(ALERTS)]
    finally:
        await second.close()


async def test_backoff_is_stored_and_survives_a_restart(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    db = tmp_path / "newshound.db"
    first = await make_rig(fake_discord, db, backoff_base=30.0, backoff_max=60.0)
    fake_discord.fail(channel=ALERTS, status=503, times=1)
    (aid,) = await first.add(CH, alert("A0"))
    await first.worker.drain()
    due = (await first.row(aid))["next_attempt_at"]
    await first.close()
    second = await make_rig(fake_discord, db)
    try:
        assert (await second.worker.drain()).sent == 0  # still backing off after the restart
        assert fake_discord.channel_messages(ALERTS) == []
        await second.store.run(lambda s: s.db.execute("UPDATE alerts SET next_attempt_at = ?", [due - 60]))
        assert (await second.worker.drain()).sent == 1
    finally:
        await second.close()


# -- permanent errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "text"),
    [
        (403, 50001, "Missing Access"),
        (403, 50013, "Missing Permissions"),
        (404, 10003, "Unknown Channel"),
        (400, 50035, "Invalid Form Body"),
    ],
)
async def test_permanent_error_fails_once_and_tells_the_admin_once(
    rig: Rig, status: int, code: int, text: str
) -> None:
    rig.fake.fail(channel=ALERTS, status=status, code=code, message=text, times=None)
    ids = await rig.add(CH, alert("A0"), alert("A1"), alert("A2"))
    await rig.add(CH2, alert("B0"))
    report = await rig.worker.drain()
    assert report.failed == 3 and report.sent == 1 and report.retried == 0
    rows = await rig.rows(ids)
    assert {r["status"] for r in rows} == {"failed"}
    assert all(f"{status}" in r["error"] and text in r["error"] and str(code) in r["error"] for r in rows)
    assert len(rig.fake.requests_to("POST", f"/channels/{ALERTS}/messages")) == 3  # one try each, no loop
    (notice,) = rig.fake.channel_messages(ADMIN)
    body = notice["embeds"][0]["description"]
    assert f"channel:{ALERTS}" in body and text in body and "bases" in body
    assert (await rig.worker.drain()).failed == 0
    await rig.add(CH, alert("A3"))
    assert (await rig.worker.drain()).failed == 1
    assert len(rig.fake.channel_messages(ADMIN)) == 1  # same channel, same reason: not told again


async def test_a_failure_notice_waits_out_an_admin_channel_outage_and_a_restart(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:

    from bot.deliver.notices import NoticeSender

    db = tmp_path / "newshound.db"
    first = await make_rig(fake_discord, db)
    fake_discord.fail(channel=ALERTS, status=403, code=50013, message="Missing Permissions", times=None)
    fake_discord.fail(channel=ADMIN, status=503, times=None)  # the admin channel is down for now
    await first.add(CH, alert("A0"))
    assert (await first.worker.drain()).failed == 1
    assert fake_discord.channel_messages(ADMIN) == []
    await first.close()  # and the bot restarts before it is back
    await fake_discord.recover()

    second = await make_rig(fake_discord, db)
    try:
        await second.add(CH, alert("A1"))
        assert (await second.worker.drain()).sent == 1
        # `newshound run` sends queued notices every 30 s: once the first try's backoff has passed
        later = NoticeSender(second.store, second.sink, clock=lambda: time.time() + 3600)
        assert await later.drain() == 1
        (notice,) = fake_discord.channel_messages(ADMIN)
        body = notice["embeds"][0]["description"]
        assert f"channel:{ALERTS}" in body and "Missing Permissions" in body and "bases" in body
        assert await later.drain() == 0  # told once
    finally:
        await second.close()


async def test_a_channel_that_disappears_is_reported(rig: Rig) -> None:
    rig.fake.remove_channel(OTHER)
    (aid,) = await rig.add(CH2, alert("B0"))
    await rig.worker.drain()
    row = await rig.row(aid)
    assert row["status"] == "failed" and "10003" in row["error"] and "Unknown Channel" in row["error"]
    assert f"channel:{OTHER}" in rig.fake.channel_messages(ADMIN)[0]["embeds"][0]["description"]


# -- webhooks --------------------------------------------------------------------------------------


async def test_webhook_delivery_with_feed_name_and_avatar_and_no_secret_in_logs(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = rig.fake.add_webhook(OTHER)
    token = url.rsplit("/", 1)[1]
    target = Target(webhook=url, username="Levant Wire (Discord mirror)", avatar="https://img.example/lw.png")
    (aid,) = await rig.add(target, alert("W0", mentions=(ROLE,), summary="@everyone look"))
    rig.fake.fail(webhook=url.split("/")[-2], status=403, code=50013, times=1)  # one error, logged
    await rig.worker.drain()
    await rig.store.run(lambda s: s.db.execute("UPDATE alerts SET status='pending', next_attempt_at=NULL"))
    report = await rig.worker.drain()
    assert report.sent == 1
    (msg,) = rig.fake.channel_messages(OTHER)
    hook_id = url.split("/")[-2]
    assert msg["webhook_id"] == hook_id
    assert msg["author"]["username"] == "Levant Wire ( mirror)"  # Discord refuses names with "discord"
    assert msg["avatar_url"] == "https://img.example/lw.png"
    assert msg["mention_roles"] == [ROLE] and msg["mention_everyone"] is False
    post = rig.fake.requests_to("POST", f"/webhooks/{hook_id}/")[-1]
    assert post.query["wait"] == "1"
    assert (await rig.row(aid))["message_id"] == msg["id"]
    assert token not in caplog.text
    assert f"webhook:{hook_id}" in caplog.text  # the loggable name is used instead


async def test_webhooks_work_without_a_bot_token(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    r = await make_rig(fake_discord, tmp_path / "newshound.db", bot=False)
    try:
        url = fake_discord.add_webhook(ALERTS)
        await r.add(Target(webhook=url), alert("W0"))
        assert (await r.worker.drain()).sent == 1
        assert all("Authorization" not in q.headers for q in fake_discord.requests)
        assert titles(fake_discord, ALERTS) == ["W0"]
    finally:
        await r.close()


@pytest.mark.parametrize("scope", ["webhook", "global"])
async def test_a_long_webhook_rate_limit_is_a_stored_retry_at_discords_time(rig: Rig, scope: str) -> None:
    """discord.py's webhook code sleeps through any 429 (it has no maximum wait): a long one must come
    back at once as a retry at the time Discord named, as for channels — without holding the target."""
    hook = rig.fake.add_webhook(OTHER)
    hook_id = int(hook.rstrip("/").split("/")[-2])
    rig.fake.rate_limit(webhook=hook_id, retry_after=200.0, is_global=scope == "global")
    rig.fake.rate_limit(webhook=hook_id, retry_after=0.3, times=1)  # a short one after it: waited out
    (aid,) = await rig.add(Target(webhook=hook), alert("W0"))
    started = time.time()
    report = await rig.worker.drain()
    assert time.time() - started < 5
    assert report.retried == 1 and report.sent == 0
    row = await rig.row(aid)
    assert row["status"] == "pending" and "rate limited for 200" in row["error"]
    assert row["next_attempt_at"] >= started + 199
    assert rig.fake.channel_messages(OTHER) == []
    # When Discord's time has come, the short 429 is waited out inside the send, and the alert goes.
    await rig.store.run(lambda s: s.retry_now())
    assert (await rig.worker.drain()).sent == 1
    assert [r.status for r in rig.fake.requests_to("POST", f"/webhooks/{hook_id}")] == [429, 429, 200]


async def test_a_webhook_url_with_a_wrong_token_fails_and_tells_the_admin_once(rig: Rig) -> None:
    hook = rig.fake.add_webhook(OTHER)
    hook_id, token = hook.rstrip("/").split("/")[-2:]
    wrong = hook[: -len(token)] + "not-the-token"
    ids = await rig.add(Target(webhook=wrong), alert("W0"))
    ids += await rig.add(Target(webhook=wrong), alert("W1"))
    report = await rig.worker.drain()
    assert report.failed == 2 and report.retried == 0
    for row in await rig.rows(ids):
        assert row["status"] == "failed"
        assert "Invalid Webhook Token (code 50027)" in row["error"] and "copy the URL again" in row["error"]
    (notice,) = rig.fake.channel_messages(ADMIN)
    body = notice["embeds"][0]["description"]
    assert f"webhook:{hook_id}" in body and "50027" in body and "not-the-token" not in body
    assert rig.fake.channel_messages(OTHER) == []


async def test_a_webhook_alert_whose_answer_was_lost_waits_while_the_bot_logs_in_again(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    """The check for an earlier attempt goes through the bot: while it is logging in again (after a fatal
    gateway close) the check cannot be made, and resending without it would post the alert twice."""
    from bot.deliver.discord.runtime import DiscordRuntime

    fake = fake_discord
    runtime = DiscordRuntime(
        token=fake.token,
        api_base=fake.api_base,
        gateway_url=fake.gateway_url,
        admin_channel=ADMIN,
        send_timeout=0.5,
        guild_ready_timeout=0.05,
        reidentify_delay=0.0,
    )
    store = StoreThread(tmp_path / "nh.db")
    await store.open()
    worker = DeliveryWorker(store, runtime.sink, backoff_base=0.05, backoff_max=0.2)
    await runtime.start()
    try:
        assert await runtime.wait_ready(10)
        url = fake.add_webhook(OTHER)
        fake.hang(webhook=url.split("/")[-2], after_create=True)
        (aid,) = await store.run(lambda s: enqueue(s, Target(webhook=url), [alert("W0")], time.time()))
        assert (await worker.drain()).retried == 1
        assert len(fake.channel_messages(OTHER)) == 1  # posted; the answer was lost
        fake.fail(path="/users/@me", method="GET", status=503, times=None)  # logging in again fails
        await fake.drop_gateway(code=4012)
        async with asyncio.timeout(10):
            while runtime.client.user is not None:  # noqa: ASYNC110 - the runtime's own state
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # the retry is due
        report = await worker.drain()
        assert report.retried == 1 and report.sent == 0
        assert len(fake.channel_messages(OTHER)) == 1
        fake.clear_faults()  # logged in again: the earlier attempt is found, not sent again
        async with asyncio.timeout(10):
            while runtime.client.user is None:  # noqa: ASYNC110 - the runtime's own state
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        report = await worker.drain()
        assert report.sent == 1, report
        (message,) = fake.channel_messages(OTHER)
        assert (
            await store.run(
                lambda s: s.db.execute("SELECT message_id FROM alerts WHERE id = ?", [aid]).fetchone()
            )
        )[0] == message["id"]
    finally:
        await runtime.close()
        await store.close()


async def test_webhook_resend_after_a_lost_answer_is_recognised(rig: Rig) -> None:
    url = rig.fake.add_webhook(OTHER)
    hook_id = url.split("/")[-2]
    rig.fake.hang(webhook=hook_id, after_create=True)
    (aid,) = await rig.add(Target(webhook=url), alert("W0"))
    assert (await rig.worker.drain()).retried == 1
    assert len(rig.fake.channel_messages(OTHER)) == 1
    await asyncio.sleep(0.1)
    assert (await rig.worker.drain()).sent == 1
    (msg,) = rig.fake.channel_messages(OTHER)
    assert (await rig.row(aid))["message_id"] == msg["id"]


# -- bursts ----------------------------------------------------------------------------------------


async def test_a_burst_is_collapsed_into_one_digest(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    fake_discord.add_role(ROLE, name="analysts")
    r = await make_rig(fake_discord, tmp_path / "newshound.db", burst_limit=3, burst_window=60.0)
    try:
        ids = await r.add(CH, *(alert(f"A{i}", mentions=(ROLE,) if i == 5 else ()) for i in range(8)))
        await r.add(CH2, alert("B0"))
        report = await r.worker.drain()  # `once`: the digest goes at once
        assert report.sent == 9 and report.digests == 1
        messages = fake_discord.channel_messages(ALERTS)
        assert titles(fake_discord, ALERTS)[:3] == ["A0", "A1", "A2"]
        assert len(messages) == 4 and titles(fake_discord, OTHER) == ["B0"]
        digest = messages[3]
        lines = digest["embeds"][0]["description"].splitlines()
        assert [line.split("]", 1)[0] for line in lines] == [f"• [A{i}" for i in range(3, 8)]
        assert "(https://news.example/A3)" in lines[0]
        assert digest["mention_roles"] == [ROLE]  # a role ping inside the burst still pings
        rows = await r.rows(ids)
        assert [x["message_id"] for x in rows[3:]] == [digest["id"]] * 5
        assert {x["status"] for x in rows} == {"sent"}
    finally:
        await r.close()


async def test_while_running_a_burst_waits_for_its_window_then_sends_one_digest(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    r = await make_rig(fake_discord, tmp_path / "newshound.db", burst_limit=2, burst_window=0.6)
    try:
        stop = r.run()
        await r.add(CH, *(alert(f"A{i}") for i in range(5)))
        await until(lambda: len(fake_discord.channel_messages(ALERTS)) >= 2)
        await r.add(CH, alert("A5"))  # arrives during the burst: joins the same digest
        r.worker.wake()
        await until(lambda: len(fake_discord.channel_messages(ALERTS)) >= 3)
        stop.set()
        messages = fake_discord.channel_messages(ALERTS)
        assert len(messages) == 3, [m["embeds"][0].get("title") for m in messages]
        assert messages[2]["embeds"][0]["title"] == "4 more alerts in the last minute"
        assert len(messages[2]["embeds"][0]["description"].splitlines()) == 4
    finally:
        await r.close()


async def test_after_a_restart_the_next_digest_still_waits_a_window(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    """At most one digest per window, across a restart: what went out when is read from the outbox. (Kept
    in memory, a restarted worker would send the next alerts one by one at once.)"""
    from datetime import datetime

    def posted(message: dict[str, Any]) -> float:
        return datetime.fromisoformat(message["timestamp"]).timestamp()

    db = tmp_path / "newshound.db"
    window = 2.0
    first = await make_rig(fake_discord, db, burst_limit=3, burst_window=window)
    try:
        stop = first.run()
        await first.add(CH, *(alert(f"A{i}") for i in range(5)))  # A0-A2 one by one, A3+A4 a digest
        await until(lambda: len(fake_discord.channel_messages(ALERTS)) >= 4)
        stop.set()
    finally:
        await first.close()
    digest = fake_discord.channel_messages(ALERTS)[3]
    assert digest["embeds"][0]["title"] == "2 more alerts in the last minute"

    second = await make_rig(fake_discord, db, burst_limit=3, burst_window=window)
    try:
        second.run()
        # The burst is read back from the outbox: the digest is one message in the window, so two more
        # go one by one, and then the burst is on again — its digest waits for a window after the last.
        await second.add(CH, *(alert(f"A{i}") for i in range(5, 10)))
        assert time.time() < posted(digest) + window, "the restart took longer than the window"
        await until(lambda: len(fake_discord.channel_messages(ALERTS)) >= 7)
        await asyncio.sleep(0.3)
        messages = fake_discord.channel_messages(ALERTS)
        assert titles(fake_discord, ALERTS)[4:] == ["A5", "A6", "3 more alerts in the last minute"]
        assert posted(messages[6]) >= posted(digest) + window - 0.05
    finally:
        await second.close()


async def test_after_a_burst_a_channel_gets_its_alerts_one_by_one_again(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    """A digest is one message: once fewer messages than the limit fall in the window, alerts go one by
    one again. (Counting the digest's alerts, or holding every alert for a window after any digest, kept a
    channel with steady traffic below the limit on a digest a minute for ever.)"""
    window = 1.0
    r = await make_rig(fake_discord, tmp_path / "newshound.db", burst_limit=3, burst_window=window)
    try:
        r.run()
        await r.add(CH, *(alert(f"A{i}") for i in range(6)))  # A0-A2 one by one, A3-A5 a digest
        await until(lambda: len(fake_discord.channel_messages(ALERTS)) >= 4)
        assert titles(fake_discord, ALERTS)[3] == "3 more alerts in the last minute"
        await asyncio.sleep(window * 0.3)  # the digest is in the window: one message, not three alerts
        for i in range(6, 9):  # steady traffic below the limit: two alerts a window
            await r.add(CH, alert(f"A{i}"))
            r.worker.wake()
            await asyncio.sleep(window / 2)
        await until(lambda: len(fake_discord.channel_messages(ALERTS)) >= 7)
        assert titles(fake_discord, ALERTS)[4:] == ["A6", "A7", "A8"]
    finally:
        await r.close()


async def test_an_alert_whose_answer_was_lost_in_a_burst_is_not_repeated_in_a_digest(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    """A2, held in a burst, goes out alone; Discord posts it but the answer never comes. When it is retried
    the burst is still on: A2 must be recognised in the channel, not posted again inside a digest."""
    r = await make_rig(fake_discord, tmp_path / "newshound.db", burst_limit=2, burst_window=60.0)
    try:
        await r.add(CH, alert("A0"), alert("A1"))
        await r.worker.drain()
        (a2,) = await r.add(CH, alert("A2"))
        fake_discord.hang(channel=ALERTS, after_create=True)
        assert (await r.worker.drain()).retried == 1
        fake_discord.release()
        later = await r.add(CH, alert("A3"), alert("A4"))
        await asyncio.sleep(0.3)  # A2's retry is due
        report = await r.worker.drain()
        assert report.sent == 3 and report.digests == 1
        messages = fake_discord.channel_messages(ALERTS)
        assert titles(fake_discord, ALERTS)[:3] == ["A0", "A1", "A2"] and len(messages) == 4
        digest = messages[3]["embeds"][0]["description"]
        assert "[A3]" in digest and "[A4]" in digest and "[A2]" not in digest
        assert (await r.row(a2))["message_id"] == messages[2]["id"]
        assert [x["message_id"] for x in await r.rows(later)] == [messages[3]["id"]] * 2
    finally:
        await r.close()


async def test_without_a_token_the_terminal_gets_every_alert_at_once_and_webhooks_still_digest(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    import io

    out = io.StringIO()
    r = await make_rig(
        fake_discord, tmp_path / "newshound.db", bot=False, console=out, burst_limit=2, burst_window=60.0
    )
    try:
        stop = r.run()
        await r.add(CH, *(alert(f"A{i}") for i in range(6)))
        r.worker.wake()
        # Not two now and the other four a minute later: the terminal is never held for a digest.
        await until(lambda: out.getvalue().count("[HIGH] A") == 6, within=5.0)
        stop.set()
        await asyncio.gather(*r.tasks)
        assert [line.split("] ")[1] for line in out.getvalue().splitlines() if "[HIGH]" in line] == [
            f"A{i}" for i in range(6)
        ]
        url = fake_discord.add_webhook(OTHER)
        await r.add(Target(webhook=url), *(alert(f"W{i}") for i in range(4)))
        assert (await r.worker.drain()).digests == 1
        assert titles(fake_discord, OTHER) == ["W0", "W1", "2 more alerts in the last minute"]
    finally:
        await r.close()


async def test_a_digest_of_many_rules_is_accepted_by_discord(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    """A full digest whose footer names 60 long rule names: Discord refuses an embed over 6,000 characters
    with a 400, which would fail every alert in it for good."""
    r = await make_rig(fake_discord, tmp_path / "newshound.db", burst_limit=1, burst_window=60.0)
    try:
        rules = [f"watch-{i:02d}-russian-naval-presence-tartus-khmeimim" for i in range(60)]
        burst = [
            alert(
                f"Russian frigate seen leaving Tartus harbour, item {i}",
                link=f"https://n.example/{i}",
                matches=(
                    AlertMatch(rules[i % 60], ("Tartus",)),
                    AlertMatch(rules[(i + 30) % 60], ("Tartus",)),
                ),
            )
            for i in range(51)
        ]
        ids = await r.add(CH, *burst)
        report = await r.worker.drain()
        assert report.failed == 0 and report.sent == 51 and report.digests == 2, report.errors
        _, *digests = fake_discord.channel_messages(ALERTS)
        assert len(digests) == 2 and len(digests[0]["embeds"][0]["footer"]["text"]) > 1800
        rows = await r.rows(ids)
        assert {x["status"] for x in rows} == {"sent"}
        assert {x["message_id"] for x in rows[1:]} == {d["id"] for d in digests}
    finally:
        await r.close()


async def test_worker_keeps_running_when_the_admin_channel_is_broken(rig: Rig) -> None:
    rig.fake.remove_channel(ADMIN)
    rig.fake.fail(channel=ALERTS, status=403, code=50001, message="Missing Access", times=None)
    await rig.add(CH, alert("A0"))
    await rig.add(CH2, alert("B0"))
    report = await rig.worker.drain()
    assert report.failed == 1 and report.sent == 1
    assert rig.fake.requests_to("POST", f"/channels/{ADMIN}/messages")[-1].status == 404


async def test_a_digest_cut_short_by_a_crash_is_sent_again_as_the_same_digest(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake_discord.nonce_window = 0.0  # a long restart: only the history check can recognise it
    db = tmp_path / "newshound.db"
    first = await make_rig(fake_discord, db, burst_limit=2, burst_window=0.5)
    await first.add(CH, alert("A0"), alert("A1"))
    await first.worker.drain()
    ids = await first.add(CH, alert("A2"), alert("A3"), alert("A4"))
    fake_discord.hang(channel=ALERTS, after_create=True)
    drain = asyncio.create_task(first.worker.drain())
    await fake_discord.wait_for_messages(3, channel=ALERTS)
    drain.cancel()
    await asyncio.gather(drain, return_exceptions=True)
    await first.close()  # crashed after Discord posted the digest, before it was recorded
    fake_discord.release()
    await asyncio.sleep(0.6)  # the burst window is over: on its own the new worker would not digest

    second = await make_rig(fake_discord, db, burst_limit=2, burst_window=0.5)
    try:
        report = await second.worker.drain()
        assert report.sent == 3
        messages = fake_discord.channel_messages(ALERTS)
        assert len(messages) == 3, [m["embeds"][0].get("title") for m in messages]
        assert [r["message_id"] for r in await second.rows(ids)] == [messages[2]["id"]] * 3
    finally:
        await second.close()


async def test_feed_health_notices_reach_the_admin_channel_and_wait_out_an_outage(rig: Rig) -> None:

    from bot.deliver.notices import NoticeSender
    from bot.store import NoticeDraft

    sender = NoticeSender(rig.store, rig.sink, backoff_base=0.01, backoff_max=0.01)
    draft = NoticeDraft(
        key="failing:levant:1", kind="failing", text="feed levant-wire failing for a day @everyone"
    )
    await rig.store.run(lambda s: s.add_notice(draft, time.time()))
    await rig.fake.outage("5xx")
    assert await sender.drain() == 0  # Discord down: the sink raises, the notice stays queued
    await rig.fake.recover()
    await asyncio.sleep(0.05)
    assert await sender.drain() == 1
    (notice,) = rig.fake.channel_messages(ADMIN)
    assert "levant-wire failing" in notice["embeds"][0]["description"]
    assert notice["mention_everyone"] is False
    assert await sender.drain() == 0  # never repeated
