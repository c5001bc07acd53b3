"""The discord.py client: endpoint overrides, intents, the on-ready channel check, the gateway, and the
interaction path the slash-commands issue builds on."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

import discord
import pytest
from discord import app_commands

from bot.deliver import Target
from bot.deliver.discord.checks import channel_uses
from bot.deliver.discord.client import apply_endpoints, redact
from bot.deliver.discord.runtime import DiscordRuntime
from bot.deliver.worker import DeliveryWorker
from bot.rules.model import Config, Defaults, Rule
from bot.store import StoreThread
from tests.conftest import ADMIN, ALERTS, OTHER, make_settings, start_client, stop_client
from tests.fakes.discord_server import EMBED_LINKS, VIEW_CHANNEL, FakeDiscord
from tests.test_discord_delivery import alert, enqueue

MISSING_CHANNEL = "300000000000000077"


async def test_overrides_route_rest_and_gateway_to_the_configured_server(fake_discord: FakeDiscord) -> None:
    fake_discord.resume_gateway_url = "ws://127.0.0.1:9/not-the-configured-gateway"
    client = await start_client(fake_discord)
    try:
        paths = [(r.method, r.path) for r in fake_discord.requests]
        assert ("GET", "/users/@me") in paths and ("GET", "/oauth2/applications/@me") in paths
        assert all(r.headers["Authorization"] == f"Bot {fake_discord.token}" for r in fake_discord.requests)
        assert len(fake_discord.identifies) == 1
        # Fewest intents: guilds only — no message content, members or presences.
        assert fake_discord.identifies[0]["intents"] == discord.Intents(guilds=True).value == 1
        # READY named another resume URL, but the configured gateway stays pinned: RESUME comes back here.
        await fake_discord.drop_gateway(code=None)
        await fake_discord.wait_for_gateway(1)
        assert len(fake_discord.resumes) == 1 and len(fake_discord.identifies) == 1
        assert client.ws is not None and str(client.ws.gateway) == fake_discord.gateway_url
        message = await client.get_partial_messageable(int(ALERTS)).send("routed")
        assert fake_discord.channel_messages(ALERTS)[0]["id"] == str(message.id)
    finally:
        await stop_client(client)


async def test_only_the_rest_base_set_asks_that_server_for_the_gateway(fake_discord: FakeDiscord) -> None:
    from bot.deliver.discord.client import NewshoundClient

    endpoints = apply_endpoints(fake_discord.api_base, None)
    assert endpoints.discover_gateway
    client = NewshoundClient(endpoints=endpoints, guild_ready_timeout=0.05)
    await client.login(fake_discord.token)
    task = asyncio.create_task(client.connect())
    try:
        async with asyncio.timeout(10):
            await client.checked.wait()
        assert ("GET", "/gateway/bot") in [(r.method, r.path) for r in fake_discord.requests]
        assert len(fake_discord.identifies) == 1
    finally:
        await client.close()
        await asyncio.gather(task, return_exceptions=True)


def config_with_channels() -> Config:
    return Config(
        path="keywords.yaml",
        defaults=Defaults(channel=ALERTS),
        rules=(
            Rule(name="bases", keywords=("Tartus",), channel=ALERTS),
            Rule(name="ports", keywords=("Latakia",), channel=OTHER),
            Rule(name="ghost", keywords=("x",), channel=MISSING_CHANNEL),
            Rule(name="hooked", keywords=("y",), webhook="https://discord.com/api/webhooks/1/abc"),
            Rule(name="default-channel", keywords=("z",)),
        ),
    )


def test_channel_uses_name_every_rule_channel_and_the_defaults() -> None:
    uses = channel_uses(config_with_channels(), ADMIN)
    assert [(u.channel, u.label) for u in uses] == [
        (ALERTS, "defaults.channel"),
        (ALERTS, "rule 'bases'"),
        (OTHER, "rule 'ports'"),
        (MISSING_CHANNEL, "rule 'ghost'"),
        (ALERTS, "rule 'default-channel'"),
        (ADMIN, "NEWSHOUND_ADMIN_CHANNEL"),
    ]


async def test_on_ready_reports_each_unusable_channel_once(
    fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    fake_discord.set_bot_overwrite(OTHER, deny=EMBED_LINKS)
    config = config_with_channels()
    runtime = DiscordRuntime(
        token=fake_discord.token,
        api_base=fake_discord.api_base,
        gateway_url=fake_discord.gateway_url,
        admin_channel=ADMIN,
        channel_uses=lambda: channel_uses(config, ADMIN),
        guild_ready_timeout=0.05,
        reidentify_delay=0.0,
    )
    caplog.set_level(logging.WARNING, logger="bot.deliver.discord.client")
    await runtime.start()
    try:
        assert await runtime.wait_ready(10)
        notices = fake_discord.channel_messages(ADMIN)
        texts = [m["embeds"][0]["description"] for m in notices]
        assert len(texts) == 2, texts
        assert "rule 'ports'" in texts[0] and "Embed Links" in texts[0] and "#other" in texts[0]
        assert "rule 'ghost'" in texts[1] and MISSING_CHANNEL in texts[1] and "cannot see" in texts[1]
        logged = [r.getMessage() for r in caplog.records]
        assert any("rule 'ports'" in m and "Embed Links" in m for m in logged)
        assert all(m["mention_everyone"] is False and m["mention_roles"] == [] for m in notices)
        # A fresh session (new READY) checks again but does not repeat the report.
        assert runtime.client is not None
        runtime.client.checked.clear()
        await fake_discord.invalidate_sessions()
        async with asyncio.timeout(10):
            await runtime.client.checked.wait()
        assert len(fake_discord.identifies) == 2
        assert len(fake_discord.channel_messages(ADMIN)) == 2
        # The bot loses View Channel on #alerts: that is new, so it is reported.
        fake_discord.set_bot_overwrite(ALERTS, deny=VIEW_CHANNEL)
        runtime.client.checked.clear()
        await fake_discord.invalidate_sessions()
        async with asyncio.timeout(10):
            await runtime.client.checked.wait()
        await fake_discord.wait_for_messages(3, channel=ADMIN)
        last = fake_discord.channel_messages(ADMIN)[-1]["embeds"][0]["description"]
        assert "rule 'bases'" in last and "defaults.channel" in last and "View Channel" in last
    finally:
        await runtime.close()


def _ghost_rules(path: Path, *, ghost: bool) -> None:
    lines = [
        "version: 1",
        "defaults:",
        f'  channel: "{ALERTS}"',
        "feeds:",
        "  - name: wire",
        "    url: http://127.0.0.1:9/feed.xml",
        "rules:",
        "  - name: bases",
        "    keywords: [Tartus]",
    ]
    if ghost:
        lines += ["  - name: ghost", "    keywords: [x]", f'    channel: "{MISSING_CHANNEL}"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    stamp = time.time() + (2 if ghost else 1)  # a new mtime each edit, however quick
    os.utime(path, (stamp, stamp))


async def test_a_channel_notice_waits_out_an_admin_channel_outage(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    """The on-ready check's notice goes through the notices outbox, as `newshound run` wires it: an admin
    channel that is down when the check runs delays the notice, never loses it. A problem fixed and back
    later is reported again."""
    from bot.cli import _build
    from bot.deliver.notices import NoticeSender

    _ghost_rules(tmp_path / "keywords.yaml", ghost=True)
    settings = make_settings(
        tmp_path, NEWSHOUND_ADMIN_CHANNEL=ADMIN, NEWSHOUND_SEND_TIMEOUT="1", **fake_discord.env()
    )
    fake_discord.fail(channel=ADMIN, status=503, times=None)  # the admin channel is down for now
    app, runtime = _build(settings)
    assert runtime is not None
    await app.start()
    await runtime.start()
    try:
        assert await runtime.wait_ready(10)
        assert fake_discord.channel_messages(ADMIN) == []
        (queued,) = await app.store.run(lambda s: s.notices())
        assert queued.kind == "channel" and "rule 'ghost'" in queued.text and queued.sent_at is None

        await fake_discord.recover()
        later = NoticeSender(app.store, app.sink, clock=lambda: time.time() + 3600)  # its retry is due
        assert await later.drain() == 1
        (notice,) = fake_discord.channel_messages(ADMIN)
        assert "rule 'ghost'" in notice["embeds"][0]["description"]
        await runtime.recheck_channels()  # the same problem again: not repeated
        assert len(await app.store.run(lambda s: s.notices())) == 1

        # The rule goes (the problem with it), then comes back: a new occurrence, reported again.
        for ghost in (False, True):
            _ghost_rules(tmp_path / "keywords.yaml", ghost=ghost)
            await app.reload_rules()
            await runtime.recheck_channels()
        await fake_discord.wait_for_messages(2, channel=ADMIN)
        assert "rule 'ghost'" in fake_discord.channel_messages(ADMIN)[1]["embeds"][0]["description"]
    finally:
        await runtime.close()
        await app.close()


async def test_rejected_token_is_reported_not_retried(fake_discord: FakeDiscord) -> None:
    runtime = DiscordRuntime(
        token="wrong", api_base=fake_discord.api_base, gateway_url=fake_discord.gateway_url
    )
    await runtime.start()
    try:
        assert not await runtime.wait_logged_in(10)
        assert runtime.login_error and "rejected" in runtime.login_error
        assert len(fake_discord.requests_to("GET", "/users/@me")) == 1
    finally:
        await runtime.close()


async def _runtime_and_worker(
    fake: FakeDiscord, tmp_path: Path
) -> tuple[DiscordRuntime, StoreThread, DeliveryWorker]:
    runtime = DiscordRuntime(
        token=fake.token,
        api_base=fake.api_base,
        gateway_url=fake.gateway_url,
        admin_channel=ADMIN,
        send_timeout=0.5,
        guild_ready_timeout=0.05,
        reidentify_delay=0.0,
    )
    store = StoreThread(tmp_path / "newshound.db")
    await store.open()
    worker = DeliveryWorker(store, runtime.sink, backoff_base=0.05, backoff_max=0.2)
    runtime.on_ready(worker.recover)
    return runtime, store, worker


async def _add(store: StoreThread, title: str) -> int:
    now = time.time()
    (alert_id,) = await store.run(lambda s: enqueue(s, Target(channel=ALERTS), [alert(title)], now))
    return alert_id


async def test_a_token_revoked_while_running_is_a_rejected_token(
    fake_discord: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The token is reset while the bot runs: Discord closes the gateway with 4004. That is a rejected
    token (``run`` stops with exit 2), not a bot that stays up unable to send."""
    runtime, store, worker = await _runtime_and_worker(fake_discord, tmp_path)
    caplog.set_level(logging.INFO)
    await runtime.start()
    try:
        assert await runtime.wait_ready(10)
        await fake_discord.revoke_token()
        async with asyncio.timeout(10):
            await runtime.rejected.wait()
        assert runtime.login_error and "rejected" in runtime.login_error and "4004" in runtime.login_error
        # An alert meanwhile waits in the outbox ("not connected"), never an internal error.
        alert_id = await _add(store, "after the token was reset")
        report = await worker.drain()
        assert report.retried == 1 and report.sent == 0
        row = await store.run(lambda s: s.alert(alert_id))
        assert row is not None and row["status"] == "pending"
        assert "not connected" in row["error"] and "internal error" not in row["error"]
        assert not [r for r in caplog.records if r.exc_info]
    finally:
        await runtime.close()
        await store.close()


async def test_a_login_failing_after_the_token_was_accepted_sends_nothing_through_a_closed_session(
    fake_discord: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """discord.py's login first accepts the token (``GET /users/@me``, which sets ``client.user``), then
    asks for the application: when that fails, the half-logged-in client must not look logged in."""
    fake_discord.fail(path="/oauth2/applications/@me", method="GET", status=503, times=None)
    runtime, store, worker = await _runtime_and_worker(fake_discord, tmp_path)
    caplog.set_level(logging.INFO)
    await runtime.start()
    try:
        async with asyncio.timeout(10):
            while not fake_discord.requests_to("GET", "/oauth2/applications/@me"):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # the failed login has been cleaned up; the next try is ~1 s away
        runtime.stop_waiting_for_login()  # as `newshound once` does when Discord is unreachable
        alert_id = await _add(store, "during a half-done login")
        report = await worker.drain()
        assert report.retried == 1
        row = await store.run(lambda s: s.alert(alert_id))
        assert row is not None and "not connected" in row["error"], row["error"]
        assert not [r for r in caplog.records if r.exc_info]
        # Discord answers again: the next login works and the alert goes out.
        fake_discord.clear_faults()
        assert await runtime.wait_ready(10)
        await worker.recover()
        assert (await worker.drain()).sent == 1
        assert len(fake_discord.channel_messages(ALERTS)) == 1
    finally:
        await runtime.close()
        await store.close()


@pytest.mark.parametrize("code", [4012, 4014])
async def test_a_gateway_closed_for_good_logs_in_again(
    fake_discord: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture, code: int
) -> None:
    """discord.py gives up on close codes it cannot resume (4010–4014; for most it also closes the HTTP
    session). The bot logs in and connects again, and alerts go out."""
    runtime, store, worker = await _runtime_and_worker(fake_discord, tmp_path)
    caplog.set_level(logging.INFO)
    await runtime.start()
    stop = asyncio.Event()
    delivering = asyncio.create_task(worker.run_forever(stop, idle=0.2))
    try:
        assert await runtime.wait_ready(10)
        assert runtime.client is not None
        await fake_discord.drop_gateway(code=code)
        await _add(store, "while reconnecting")
        await fake_discord.wait_for_messages(1, channel=ALERTS, within=15)
        assert len(fake_discord.identifies) == 2
        assert len(fake_discord.requests_to("GET", "/users/@me")) == 2  # logged in afresh
        assert runtime.login_error is None and not runtime.rejected.is_set()
        assert any(
            f"closed with code {code}" in r.getMessage() or "intent" in r.getMessage()
            for r in caplog.records
            if r.name == "bot.deliver.discord.runtime"
        )
        assert not [r for r in caplog.records if r.exc_info and r.name.startswith("bot.")]
    finally:
        stop.set()
        await delivering
        await runtime.close()
        await store.close()


async def test_a_gateway_outage_logs_one_line_per_reconnect_attempt(
    fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    """discord.py logs each reconnect attempt as an ERROR with a traceback; what reaches the log is one
    WARNING line naming the cause."""
    runtime = DiscordRuntime(
        token=fake_discord.token,
        api_base=fake_discord.api_base,
        gateway_url=fake_discord.gateway_url,
        guild_ready_timeout=0.05,
        reidentify_delay=0.0,
    )
    caplog.set_level(logging.WARNING)
    await runtime.start()
    try:
        assert await runtime.wait_ready(10)
        await fake_discord.outage("5xx")  # the gateway refuses connections (503)
        async with asyncio.timeout(15):
            while not any("reconnect" in r.getMessage() for r in caplog.records):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        await fake_discord.recover()
        await fake_discord.wait_for_gateway(1, within=15)
    finally:
        await runtime.close()
    attempts = [r for r in caplog.records if r.name == "discord.client" and "reconnect" in r.getMessage()]
    assert attempts
    for record in attempts:
        assert record.levelno == logging.WARNING and record.exc_info is None and record.exc_text is None
        assert record.getMessage().startswith("Discord gateway connection lost")
        assert "attempting a reconnect in" in record.getMessage() and "\n" not in record.getMessage()
    assert "Traceback" not in caplog.text


async def test_a_channel_check_that_fails_forgets_nothing_it_reported() -> None:
    """A check that could not run knows nothing: the problems it reported stay reported, so the next good
    check does not report them again (as new, with a new notice)."""
    from bot.deliver.discord.checks import ChannelUse
    from bot.deliver.discord.client import NewshoundClient

    state = {"fail": False}

    def uses() -> list[ChannelUse]:
        if state["fail"]:
            raise RuntimeError("no rules to read")
        return [ChannelUse("123456789012345678", "rule 'x'")]

    reported: list[object] = []

    async def report(problem: object) -> None:
        reported.append(problem)

    client = NewshoundClient(channel_uses=uses, report=report)
    try:
        assert len(await client.check_channels()) == 1  # not in that server: reported
        state["fail"] = True
        assert len(await client.check_channels()) == 1  # the last known problems
        state["fail"] = False
        await client.check_channels()
        assert len(reported) == 1
    finally:
        await client.close()


async def test_sigterm_while_the_client_is_being_reset_still_closes_cleanly(
    fake_discord: FakeDiscord,
) -> None:
    """A SIGTERM that cancels the runtime while discord.py is closing the client (to log in again) left a
    cancelled close behind, which made the runtime's own close raise CancelledError (run exited with a
    traceback, skipping the store's close). discord.py's HTTP close is slowed to widen that window."""
    fake_discord.fail(path="/users/@me", method="GET", status=503, times=None)  # logging in keeps failing
    runtime = DiscordRuntime(
        token=fake_discord.token, api_base=fake_discord.api_base, gateway_url=fake_discord.gateway_url
    )
    assert runtime.client is not None
    entered = asyncio.Event()
    close_http = runtime.client.http.close

    async def slow_close() -> None:
        entered.set()
        await asyncio.sleep(0.3)
        await close_http()

    runtime.client.http.close = slow_close  # type: ignore[method-assign]
    await runtime.start()
    async with asyncio.timeout(10):
        await entered.wait()
    await runtime.close()  # no CancelledError
    assert runtime.client.is_closed()


def test_redact_hides_webhook_and_interaction_tokens() -> None:
    text = "POST https://discord.com/api/v10/webhooks/123456789012345678/AbC-def_123.x?wait=1 token=s3cret"
    assert (
        redact(text, "s3cret")
        == "POST https://discord.com/api/v10/webhooks/123456789012345678/***?wait=1 token=***"
    )
    assert redact("/interactions/1/tok-en/callback") == "/interactions/1/***/callback"


async def test_interaction_create_reaches_an_app_command(
    fake_discord: FakeDiscord, discord_client: discord.Client
) -> None:
    """How the slash-commands issue tests commands: a CommandTree on the client, synced to the fake, and
    INTERACTION_CREATE sent over the fake gateway; the callback is recorded on the FakeInteraction."""
    tree = app_commands.CommandTree(discord_client)
    seen: list[str] = []

    @tree.command(name="echo", description="Say it back")
    async def echo(interaction: discord.Interaction, text: str) -> None:
        seen.append(text)
        await interaction.response.send_message(f"you said {text}", ephemeral=True)
        await interaction.followup.send("and a follow-up")

    synced = await tree.sync()
    assert [c.name for c in synced] == ["echo"]
    assert fake_discord.commands[None][0]["options"][0]["name"] == "text"
    member = fake_discord.add_member(500000000000000001, name="reader")
    payload = fake_discord.command_interaction(
        "echo", [{"name": "text", "type": 3, "value": "@everyone hi"}], user_id=member.id, channel_id=ALERTS
    )
    interaction = await fake_discord.send_interaction(payload)
    async with asyncio.timeout(10):
        await interaction.answered.wait()
        await interaction.followed_up.wait()
    assert seen == ["@everyone hi"]
    assert interaction.callback["type"] == 4
    assert interaction.callback["data"]["content"] == "you said @everyone hi"
    assert interaction.callback["data"]["flags"] == 64  # ephemeral
    assert interaction.followups[0]["content"] == "and a follow-up"


async def test_changed_rules_are_checked_again(fake_discord: FakeDiscord) -> None:
    config = Config(path="keywords.yaml", rules=(Rule(name="bases", keywords=("Tartus",), channel=ALERTS),))
    current = [config]
    runtime = DiscordRuntime(
        token=fake_discord.token,
        api_base=fake_discord.api_base,
        gateway_url=fake_discord.gateway_url,
        admin_channel=ADMIN,
        channel_uses=lambda: channel_uses(current[0], ADMIN),
        guild_ready_timeout=0.05,
    )
    await runtime.start()
    try:
        assert await runtime.wait_ready(10)
        assert fake_discord.channel_messages(ADMIN) == []
        current[0] = Config(
            path="keywords.yaml", rules=(Rule(name="new", keywords=("x",), channel=MISSING_CHANNEL),)
        )
        await runtime.recheck_channels()
        (notice,) = fake_discord.channel_messages(ADMIN)
        assert "rule 'new'" in notice["embeds"][0]["description"]
    finally:
        await runtime.close()


async def test_a_button_click_reaches_the_view(
    fake_discord: FakeDiscord, discord_client: discord.Client
) -> None:
    """Pagination-style buttons: the command answers with a view, a click comes back as a component
    interaction and is answered by editing the message (callback type 7)."""
    tree = app_commands.CommandTree(discord_client)

    class Pager(discord.ui.View):
        page = 1

        @discord.ui.button(label="Next", custom_id="pager:next")
        async def next_page(
            self, interaction: discord.Interaction, _button: discord.ui.Button[Pager]
        ) -> None:
            self.page += 1
            await interaction.response.edit_message(content=f"page {self.page}", view=self)

    @tree.command(name="pages", description="Paged answer")
    async def pages(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("page 1", view=Pager())

    await tree.sync()
    first = await fake_discord.send_interaction(fake_discord.command_interaction("pages", channel_id=ALERTS))
    async with asyncio.timeout(10):
        await first.answered.wait()
    assert first.original is not None
    assert first.callback["data"]["components"][0]["components"][0]["custom_id"] == "pager:next"
    click = await fake_discord.send_interaction(
        fake_discord.component_interaction("pager:next", first.original)
    )
    async with asyncio.timeout(10):
        await click.answered.wait()
    assert click.callback["type"] == 7 and click.callback["data"]["content"] == "page 2"
