"""Slash commands for everyone, through discord.py's real interaction path: INTERACTION_CREATE over the fake
Discord's gateway → discord.py's ConnectionState and CommandTree → our commands → the callback and
follow-up requests the fake records. Feeds come from a real HTTP server on 127.0.0.1; nothing of ours is
mocked."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.commands.catalogue import CATALOGUE
from bot.commands.chart import PNG_MAGIC
from bot.deliver.discord.runtime import DiscordRuntime
from tests.conftest import ALERTS, OTHER
from tests.fakes.discord_server import MANAGE_GUILD, FakeDiscord
from tests.fakes.feed_host import FeedHost, rss
from tests.fakes.slash_rig import MEMBER, OTHER_MEMBER, SlashRig, desk_rig, now, start_rig, stop_rig


@pytest.fixture
async def rig(fake_discord: FakeDiscord, feed_host: FeedHost, tmp_path: Path) -> AsyncIterator[SlashRig]:
    async with desk_rig(fake_discord, feed_host, tmp_path) as r:
        yield r


# -- registration --------------------------------------------------------------------------------------


def _registered(fake: FakeDiscord) -> dict[str, list[str]]:
    """``{"rule add": ["name", "keywords", …], "search": [...], …}`` from what was synced to Discord."""
    out: dict[str, list[str]] = {}
    for cmd in fake.commands[None]:
        subs = [o for o in cmd.get("options", []) if o["type"] == 1]
        if subs:
            for sub in subs:
                out[f"{cmd['name']} {sub['name']}"] = [o["name"] for o in sub.get("options", [])]
        else:
            out[cmd["name"]] = [o["name"] for o in cmd.get("options", [])]
    return out


async def test_every_command_of_the_catalogue_is_registered_globally_with_its_options(rig: SlashRig) -> None:
    registered = _registered(rig.fake)
    assert registered == {c.path: [o.name for o in c.options] for c in CATALOGUE}
    by_name = {c["name"]: c for c in rig.fake.commands[None]}
    # Only /audit is hidden from non-admins by Discord, and only when no admin role is configured.
    assert by_name["audit"]["default_member_permissions"] is None
    assert all(c.get("contexts") in (None, [0]) for c in rig.fake.commands[None])


# -- /search and its pages -----------------------------------------------------------------------------


@pytest.mark.parametrize("trouble", ["rate limited past discord.py's wait", "503"])
async def test_a_registration_that_fails_for_now_never_stops_the_login_and_is_retried(
    fake_discord: FakeDiscord,
    feed_host: FeedHost,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    trouble: str,
) -> None:
    """Registering the commands at login meets a 429 longer than discord.py waits (``RateLimited``) or a
    503, twice: the bot logs in once and gets READY all the same, warns once, and registers the commands
    in the background — after Discord's ``retry_after`` for a rate limit."""
    path = f"/applications/{fake_discord.application_id}/commands"
    if trouble == "503":
        fake_discord.fail(path=path, method="PUT", status=503, times=2)
    else:
        fake_discord.rate_limit(path=path, method="PUT", retry_after=1.0, times=2)
    caplog.set_level(logging.INFO, logger="bot.deliver.discord")

    def wait_at_most_half_a_second(runtime: DiscordRuntime) -> None:
        # discord.py's own cap (Client(max_ratelimit_timeout=…)) is at least 30 s; a test waits less.
        assert runtime.client is not None
        runtime.client.http.max_ratelimit_timeout = 0.5

    start = {"before_start": wait_at_most_half_a_second, "sync_retry": 0.5}
    async with desk_rig(fake_discord, feed_host, tmp_path, start=start) as rig:
        assert rig.runtime.login_error is None
        assert len(fake_discord.requests_to("GET", "/users/@me")) == 1  # one login, never failed
        async with asyncio.timeout(15):
            while len(fake_discord.requests_to("PUT", path)) < 3:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        puts = fake_discord.requests_to("PUT", path)
        assert [r.status for r in puts] == ([429, 429, 200] if trouble != "503" else [503, 503, 200])
        if trouble != "503":
            assert puts[1].at - puts[0].at >= 0.9 and puts[2].at - puts[1].at >= 0.9  # Discord's time
        assert _registered(fake_discord) == {c.path: [o.name for o in c.options] for c in CATALOGUE}
        warnings = [r for r in caplog.records if "could not register slash commands" in r.getMessage()]
        assert [r.levelno for r in warnings] == [logging.WARNING, logging.INFO]
        assert not [r for r in caplog.records if r.exc_info]


async def test_search_pages_with_buttons_and_only_the_asker_turns_them(rig: SlashRig) -> None:
    await rig.poll()
    first = await rig.ask("search", {"query": "tartus ships"}, user=MEMBER)
    assert first.type == 4 and not first.ephemeral
    embed = first.data["embeds"][0]
    assert embed["title"] == "Search: tartus ships"
    assert len(embed["fields"]) == 8 and "page 1/2" in embed["footer"]["text"]
    assert embed["fields"][0]["name"] == "Report 0: ships seen at Tartus"  # newest first
    assert first.data["allowed_mentions"] == {"parse": []}
    prev, nxt = first.buttons
    assert prev["disabled"] and not nxt.get("disabled")

    second = await rig.click(first, "Next", user=MEMBER)
    assert second.type == 7  # the message is edited in place
    embed2 = second.data["embeds"][0]
    assert "page 2/2" in embed2["footer"]["text"] and len(embed2["fields"]) == 6
    assert {f["name"] for f in embed2["fields"]}.isdisjoint({f["name"] for f in embed["fields"]})
    assert second.buttons[1]["disabled"]

    back = await rig.click(second, "◀ Previous", user=MEMBER)
    assert back.data["embeds"][0]["fields"] == embed["fields"]

    stranger = await rig.click(first, "Next", user=OTHER_MEMBER)
    assert stranger.type == 4 and stranger.ephemeral
    assert "Only the person who ran `/search`" in stranger.text


async def test_page_buttons_still_work_after_a_restart(rig: SlashRig, tmp_path: Path) -> None:
    await rig.poll()
    first = await rig.ask("search", {"query": "tartus"}, user=MEMBER)
    await stop_rig(rig)
    again = await start_rig(rig.fake, rig.settings)
    try:
        second = await again.click(first, "Next", user=MEMBER)
        assert second.type == 7 and "page 2/2" in second.text
    finally:
        await stop_rig(again)


async def test_long_results_are_shortened_not_dropped_so_every_page_shows_them_all(
    rig: SlashRig, feed_host: FeedHost
) -> None:
    # Google-News-sized links and long headlines: a page of them is over Discord's 6,000 characters.
    feed_host.set(
        "/wire.xml",
        rss(
            [
                {
                    "title": f"Item {i:02d}: Russian navy vessels leave the port of Tartus as imagery shows "
                    f"more activity near Khmeimim air base (analysis, update) - Levant Daily Wire {i}",
                    "link": f"https://news.example/rss/articles/CBMi{'x' * 280}{i}?oc=5",
                    "guid": f"urn:long:{i}",
                    "description": "Satellite images show three frigates leaving Tartus; analysts say it is "
                    "the largest movement since 2015. " * 2,
                    "published": now() - timedelta(minutes=5 + i),
                }
                for i in range(20)
            ]
        ),
    )
    await rig.poll()
    shown: list[str] = []
    answer = await rig.ask("search", {"query": "tartus"}, user=MEMBER)
    while True:
        shown += [f["name"][:7] for f in answer.data["embeds"][0]["fields"]]
        if "page 3/3" in answer.text:
            break
        answer = await rig.click(answer, "Next", user=MEMBER)
    assert sorted(shown) == [f"Item {i:02d}" for i in range(20)]
    latest = await rig.ask("latest", {"count": 10}, user=MEMBER)
    assert len(latest.data["embeds"][0]["fields"]) == 10
    assert rig.fake.rejected == []


async def test_search_filters_by_rule_and_days_and_says_when_nothing_matches(rig: SlashRig) -> None:
    await rig.poll()
    by_rule = await rig.ask("search", {"query": "tartus", "rule": "bases", "days": 1}, user=MEMBER)
    assert "matched by rule **bases**" in by_rule.text and "14 items" not in by_rule.text
    none = await rig.ask("search", {"query": "zanzibar"}, user=MEMBER)
    assert none.type == 4 and "No stored item holds every word of “zanzibar”" in none.text


# -- bad arguments: one sentence and an example, privately ---------------------------------------------


@pytest.mark.parametrize(
    ("command", "values", "expected"),
    [
        ("search", {"query": "   "}, "`query` is empty. For example: `/search query:Tartus days:7`"),
        ("search", {"query": "***"}, "`query` needs at least one word"),
        ("search", {"query": "x", "days": 0}, "`days` must be between 1 and 3650, not 0."),
        ("search", {"query": "x", "rule": "basez"}, "There is no rule named `basez` (did you mean `bases`?)"),
        ("latest", {"count": 500}, "`count` must be between 1 and 50, not 500. For example: `/latest"),
        ("rule show", {"name": "nope"}, "There is no rule named `nope`"),
        ("trend", {"keyword": "x", "days": 9999}, "`days` must be between 1 and 365"),
        ("why", {"link": " "}, "`link` is empty"),
    ],
)
async def test_a_bad_argument_gets_one_private_sentence_and_an_example(
    rig: SlashRig, command: str, values: dict[str, object], expected: str
) -> None:
    answer = await rig.ask(command, values, user=MEMBER)
    assert answer.type == 4 and answer.ephemeral
    assert expected in answer.data["content"]
    assert "For example: `/" in answer.data["content"]
    assert answer.data["content"].count(". ") <= 2


# -- the other answers ---------------------------------------------------------------------------------


async def test_latest_lists_alerts_with_where_they_went_and_their_status(rig: SlashRig) -> None:
    await rig.poll()
    answer = await rig.ask("latest", {"rule": "bases", "count": 3}, user=MEMBER)
    assert answer.type == 4 and not answer.ephemeral
    fields = answer.data["embeds"][0]["fields"]
    assert len(fields) == 3
    assert f"<#{ALERTS}>" in fields[0]["value"] and "✅ sent" in fields[0]["value"]
    ids = {m["id"] for m in rig.fake.channel_messages(ALERTS)}
    links = [
        v.split(f"/{ALERTS}/")[1].split(")")[0] for v in (f["value"] for f in fields) if f"/{ALERTS}/" in v
    ]
    assert links and set(links) <= ids  # jump links to the alert messages


async def test_rule_list_and_show(rig: SlashRig) -> None:
    listed = await rig.ask("rule list", user=MEMBER)
    names = [f["name"] for f in listed.data["embeds"][0]["fields"]]
    assert names == ["bases", "ports"]
    assert f"<#{OTHER}>" in listed.data["embeds"][0]["fields"][1]["value"]
    shown = await rig.ask("rule show", {"name": "bases"}, user=MEMBER)
    text = shown.text
    assert "Tartus, Tartous, Khmeimim" in text and "None of these (exclude): festival" in text
    assert "Severity: high" in text and "State: ▶️ active" in text


async def test_rule_test_marks_the_matched_words_and_says_why(rig: SlashRig) -> None:
    answer = await rig.ask("rule test", {"text": "Ships leave Tartūs and Latakia; the festival in Tartus"})
    embed = answer.data["embeds"][0]
    assert embed["title"] == "1 rule would fire"
    assert embed["description"] == "Ships leave **Tartūs** and **Latakia**; the **festival** in **Tartus**"
    rules = embed["fields"][0]["value"]
    assert "⛔ **bases** is excluded: “festival” vetoes it (it had “Tartūs” (`Tartus`), “Tartus”)" in rules
    assert "✅ **ports** would fire: matched “Latakia”" in rules
    nothing = await rig.ask("rule test", {"text": "Tartuse ülikool"})  # Estonian: not a match
    assert nothing.data["embeds"][0]["title"] == "No rule would fire"


async def test_feed_list_shows_health_and_why_a_feed_fails(rig: SlashRig) -> None:
    fresh = await rig.ask("feed list", user=MEMBER)  # nothing polled yet is not "healthy"
    assert fresh.data["embeds"][0]["description"] == "0 healthy, 2 not polled yet."
    await rig.poll()
    answer = await rig.ask("feed list", user=MEMBER)
    embed = answer.data["embeds"][0]
    assert embed["description"] == "1 healthy, 1 with problems."
    broken = next(f for f in embed["fields"] if f["name"].startswith("broken"))
    assert "⚠️ degraded" in broken["value"] and "503" in broken["value"]
    wire = next(f for f in embed["fields"] if f["name"].startswith("levant-wire"))
    assert wire["name"] == "levant-wire — Levant Wire"
    assert (
        "✅ ok" in wire["value"]
        and "last fetch <t:" in wire["value"]
        and "last new item <t:" in wire["value"]
    )


async def test_why_tells_when_seen_which_rules_where_it_went_and_delivery(rig: SlashRig) -> None:
    await rig.poll()
    alerted = await rig.ask("why", {"link": "https://news.example/tartus/0?utm_source=x"}, user=MEMBER)
    text = alerted.text
    assert "Seen <t:" in text and "in feed **levant-wire**" in text
    assert "Verdict: ✅ alerted" in text
    assert "Rules when it was seen: ✅ **bases**: matched 'Tartus' in summary, 'Tartus' in title" in text
    assert "▫️ ports: found none of their keywords" in text
    assert f"→ <#{ALERTS}> (rules: bases)" in text and "✅ sent" in text
    excluded = await rig.ask("why", {"link": "urn:festival Tartus:0"}, user=MEMBER)
    assert "Verdict: ⛔ excluded\n" in excluded.text
    assert (
        "⛔ **bases**: excluded by 'festival' in summary, 'festival' in title \\(had 'Tartus'"
        in excluded.text
    )
    unknown = await rig.ask("why", {"link": "https://elsewhere.example/x"}, user=MEMBER)
    assert "I have never seen an item with the link or guid" in unknown.text
    assert "**broken**" in unknown.text  # a failing feed is named as a possible reason


async def test_a_retitled_item_alerts_in_discord_with_its_old_headline_and_why_says_so(
    rig: SlashRig, feed_host: FeedHost
) -> None:
    quiet = {
        "title": "Explosion reported at a Syrian port",
        "link": "https://news.example/developing/1",
        "guid": "urn:developing:1",
        "description": "Details are scarce.",
        "published": now() - timedelta(minutes=5),
    }
    feed_host.set("/wire.xml", rss([quiet], title="Levant Wire"))
    await rig.poll()
    before = len(rig.fake.channel_messages(ALERTS))
    feed_host.set(
        "/wire.xml", rss([{**quiet, "title": "Explosion at the naval base in Tartus"}], title="Levant Wire")
    )
    await rig.poll()
    sent = rig.fake.channel_messages(ALERTS)[before:]
    assert len(sent) == 1
    embed = sent[0]["embeds"][0]
    assert embed["title"] == "Explosion at the naval base in Tartus"
    assert {
        "name": "Headline updated; it was",
        "value": "Explosion reported at a Syrian port",
        "inline": False,
    } in (embed["fields"])
    text = (await rig.ask("why", {"link": "https://news.example/developing/1"}, user=MEMBER)).text
    assert "Verdict: ✅ alerted" in text
    assert "Headline updated: 'Explosion reported at a Syrian port'; bases: matched 'Tartus' in title" in text


async def test_why_on_an_item_recorded_for_its_age_says_the_rules_were_not_asked(
    rig: SlashRig, feed_host: FeedHost
) -> None:
    old = {
        "title": "Ships leave Tartus",
        "link": "https://news.example/old/1",
        "guid": "urn:old:1",
        "description": "An old report from Tartus.",
        "published": now() - timedelta(days=3),
    }
    feed_host.set("/wire.xml", rss([old], title="Levant Wire"))
    await rig.poll()
    answer = await rig.ask("why", {"link": "https://news.example/old/1"}, user=MEMBER)
    text = answer.text
    assert "Verdict: " in text and "first poll of the feed: published 72.0 h before" in text
    assert "Rules when it was seen: not consulted" in text
    assert "found none of their keywords" not in text
    assert "With today's rules: would fire: bases" in text
    # once pruned, it lost only its text: there were no rule reasons to lose
    await rig.app.store.run(lambda s: s.prune((now() + timedelta(days=100)).timestamp(), 90 * 86400.0))
    pruned = (await rig.ask("why", {"link": "https://news.example/old/1"}, user=MEMBER)).text
    assert "first poll of the feed: published 72.0 h before" in pruned
    assert "Rules when it was seen: no longer known: its text was dropped <t:" in pruned


async def test_why_on_a_pruned_item_says_what_was_dropped_and_what_is_kept(rig: SlashRig) -> None:
    await rig.poll()
    later = now() + timedelta(days=100)
    pruned = await rig.app.store.run(lambda s: s.prune(later.timestamp(), 90 * 86400.0))
    assert pruned.items > 0
    answer = await rig.ask("why", {"link": "https://news.example/tartus/0"}, user=MEMBER)
    text = answer.text
    assert "Verdict: ✅ alerted" in text and f"→ <#{ALERTS}> (rules: bases)" in text and "✅ sent" in text
    assert (
        "Rules when it was seen: no longer known: its text and each rule's reasons were dropped <t:" in text
    )
    assert "after 90d (retention, `NEWSHOUND_RETENTION_DAYS`)" in text
    assert "With today's rules" not in text and "found none of their keywords" not in text
    found = await rig.ask("search", {"query": "tartus"}, user=MEMBER)  # still found by its headline
    assert "Report 0: ships seen at Tartus" in found.text


async def test_trend_defers_then_attaches_a_png_chart(rig: SlashRig) -> None:
    await rig.poll()
    answer = await rig.ask("trend", {"keyword": "Tartus", "days": 7}, user=MEMBER)
    assert answer.deferred and not answer.ephemeral
    assert "**Tartus**: 14 matching items in the last 7 days" in answer.text
    assert answer.data["attachments"] == [
        {"id": 0, "filename": "trend.png", "description": "Daily items holding Tartus"}
    ]
    [(name, data)] = answer.files
    assert name == "trend.png" and data.startswith(PNG_MAGIC) and len(data) > 5000
    assert "count by headline only" not in answer.text
    longer = await rig.ask("trend", {"keyword": "Tartus", "days": 365}, user=MEMBER)
    assert "Items older than 90d count by headline only (their text is pruned)." in longer.text


async def test_status_and_help(rig: SlashRig) -> None:
    await rig.poll()
    status = await rig.ask("status", user=MEMBER)
    text = status.text
    assert "Version:" in text and "Uptime:" in text and "Feeds: 1 ok, 1 failing" in text
    assert "Alerts today: " in text and "Outbox: 0 waiting" in text and "Last poll: <t:" in text
    assert "Items stored: " in text and " (in full for 90d)" in text
    help_ = await rig.ask("help", user=MEMBER)
    assert help_.ephemeral
    for c in CATALOGUE:
        assert f"`/{c.path}" in help_.text
    assert "*You are not an admin here.*" in help_.text


async def test_autocomplete_offers_rule_and_feed_names(rig: SlashRig) -> None:
    answer = await rig.ask("rule show", {"name": "po"}, user=MEMBER, kind=4, focused="name")
    assert answer.type == 8
    assert answer.interaction.callback["data"]["choices"] == [{"name": "ports", "value": "ports"}]
    everything = await rig.ask("search", {"query": "x", "rule": ""}, user=MEMBER, kind=4, focused="rule")
    assert [c["value"] for c in everything.interaction.callback["data"]["choices"]] == ["bases", "ports"]
    feeds = await rig.ask("feed remove", {"name": "wire"}, user=MEMBER, kind=4, focused="name")
    assert feeds.interaction.callback["data"]["choices"] == [{"name": "levant-wire", "value": "levant-wire"}]


async def test_admin_by_permission_sees_help_without_the_note(rig: SlashRig) -> None:
    owner = await rig.ask("help")  # the guild owner: every permission
    assert "You are not an admin" not in owner.text
    assert MANAGE_GUILD  # (the fake computes permissions like Discord)


# -- hostile feed text stays within Discord's limits and pings no one ----------------------------------


async def test_enormous_hostile_items_fit_discords_limits_in_every_answer(
    rig: SlashRig, feed_host: FeedHost
) -> None:
    evil = "@everyone **Tartus** <@123456789012345678> [x](https://evil.example) `code` " * 60
    feed_host.set(
        "/wire.xml",
        rss(
            [
                {
                    "title": f"{i} {evil}",
                    "link": f"https://news.example/long/{i}?" + "q=1&" * 300,
                    "guid": f"urn:long:{i}",
                    "description": evil * 5,
                    "published": now(),
                }
                for i in range(12)
            ],
            title="Levant Wire " + "x" * 500,
        ),
    )
    await rig.poll()
    answers = [
        await rig.ask("search", {"query": "tartus everyone"}, user=MEMBER),
        await rig.ask("latest", {"count": 50}, user=MEMBER),
        await rig.ask("why", {"link": "urn:long:3"}, user=MEMBER),
        await rig.ask("feed list", user=MEMBER),
        await rig.ask("rule test", {"text": evil[:1500]}, user=MEMBER),
    ]
    for answer in answers:
        assert answer.type == 4 and not answer.ephemeral, answer.text[:300]  # not an error
        assert answer.data["allowed_mentions"] == {"parse": []}
        assert rig.fake.rejected == []  # the fake checks every Discord limit (sizes, 25 fields, 6,000 total)
        assert "@everyone" not in answer.text.replace("\\@everyone", "")
        assert "<@123456789012345678>" not in answer.text
    assert len(answers[0].data["embeds"][0]["fields"]) == 8
