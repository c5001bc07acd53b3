"""Admin slash commands through discord.py's real interaction path against the fake Discord: permission
refusals, keywords.yaml edited in place (diffed before/after, comments kept), changes in force at once
(a new rule fires on the next poll, no restart), the audit trail and the admin channel notice."""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN, ALERTS, OTHER
from tests.fakes.discord_server import MANAGE_GUILD, SEND_MESSAGES, FakeDiscord
from tests.fakes.feed_host import FeedHost, rss
from tests.fakes.slash_rig import ADMIN_USER, MEMBER, Answer, SlashRig, desk_rig, items, now

ANALYSTS = 400000000000000020
MANAGERS = 400000000000000021
MANAGER = 500000000000000009
READ_ONLY = "300000000000000005"  # the bot may read but not post here


@pytest.fixture
async def rig(fake_discord: FakeDiscord, feed_host: FeedHost, tmp_path: Path) -> AsyncIterator[SlashRig]:
    fake_discord.add_role(ANALYSTS, name="analysts")
    fake_discord.add_role(MANAGERS, name="managers", permissions=MANAGE_GUILD)
    fake_discord.add_member(MANAGER, name="dana", roles=[MANAGERS])
    fake_discord.add_channel(READ_ONLY, name="read-only", bot_deny=SEND_MESSAGES)
    async with desk_rig(fake_discord, feed_host, tmp_path) as r:
        yield r


def resolved(fake: FakeDiscord, channel: str | None = None, role: int | None = None) -> dict[str, Any]:
    """The ``resolved`` block Discord adds for channel and role options."""
    out: dict[str, Any] = {}
    if channel is not None:
        ch = fake.channel(channel)
        assert ch is not None
        out["channels"] = {channel: {**ch.to_json(), "permissions": "0"}}
    if role is not None:
        out["roles"] = {str(role): fake.guild.roles[role].to_json()}
    return out


def added_and_removed(before: str, after: str) -> tuple[list[str], list[str]]:
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    return [d[2:] for d in diff if d.startswith("+ ")], [d[2:] for d in diff if d.startswith("- ")]


def admin_notices(fake: FakeDiscord) -> list[str]:
    return [m["embeds"][0].get("description", "") for m in fake.channel_messages(ADMIN) if m.get("embeds")]


def alerts_in(fake: FakeDiscord, channel: str) -> list[dict[str, Any]]:
    """Messages the bot posted in ``channel`` (not public replies to commands)."""
    return [m for m in fake.channel_messages(channel) if m["type"] == 0]


def assert_private(answer: Answer) -> None:
    assert answer.ephemeral, "admin replies and errors are ephemeral"


# -- /rule add: the whole path -------------------------------------------------------------------------------


async def test_rule_add_edits_the_file_in_place_audits_notifies_and_fires_on_the_next_poll(
    rig: SlashRig, feed_host: FeedHost
) -> None:
    await rig.poll()  # the wire's first items are seen (and alerted by `bases`)
    before = rig.keywords.read_text(encoding="utf-8")
    answer = await rig.ask(
        "rule add",
        {
            "name": "ships",
            "keywords": "frigate, corvette ,Корвет",
            "exclude": "model",
            "channel": OTHER,
            "severity": "critical",
            "mention": str(ANALYSTS),
        },
        user=ADMIN_USER,
        resolved=resolved(rig.fake, OTHER, ANALYSTS),
    )
    assert answer.deferred and answer.ephemeral  # a slow command defers first, privately
    assert answer.data["embeds"][0]["title"] == "Rule ships added"
    assert f"posts to <#{OTHER}>, pinging <@&{ANALYSTS}>" in answer.text
    assert answer.data["allowed_mentions"] == {"parse": []}

    # keywords.yaml: exactly the new rule appended; every other byte kept.
    after = rig.keywords.read_text(encoding="utf-8")
    added, removed = added_and_removed(before, after)
    assert removed == []
    assert [a for a in added if a.strip()] == [
        "  - name: ships",
        "    keywords: [frigate, corvette, Корвет]",
        "    exclude: [model]",
        f"    channel: '{OTHER}'",
        f"    mention: ['{ANALYSTS}']",
        "    severity: critical",
    ]
    assert after.startswith(before)

    # The audit log: who, when, before → after.
    [entry] = rig.audit()
    assert entry["actor"] == f"alice ({ADMIN_USER})" and entry["action"] == "rule add"
    assert entry["target"] == "ships" and entry["before"] is None
    assert json.loads(entry["after"])["keywords"] == ["frigate", "corvette", "Корвет"]
    # …and the admin channel.
    [notice] = admin_notices(rig.fake)
    notice = notice.replace("\\", "")  # the notice is shown verbatim: its markdown characters are escaped
    assert notice.startswith(f"alice ({ADMIN_USER}) ran /rule add on ships at 20")
    assert "\n+ keywords: [frigate, corvette, Корвет]\n" in notice

    # In force at once: the next poll alerts a new item through the new rule, no restart.
    feed_host.set(
        "/wire.xml",
        rss(
            [
                {"title": "A Russian corvette sails", "link": "https://news.example/c", "published": now()},
                *items(12),
            ],
            title="Levant Wire",
        ),
    )
    await rig.poll()
    [alert] = [m for m in alerts_in(rig.fake, OTHER) if "corvette" in m["embeds"][0].get("title", "")]
    assert f"<@&{ANALYSTS}>" in alert["content"] and alert["mention_roles"] == [str(ANALYSTS)]
    assert "ships" in json.dumps(alert["embeds"][0], ensure_ascii=False)


async def test_rule_add_channel_defaults_to_defaults_channel(rig: SlashRig) -> None:
    answer = await rig.ask("rule add", {"name": "quiet", "keywords": "ceasefire"}, user=ADMIN_USER)
    assert f"posts to <#{ALERTS}>" in answer.text
    text = rig.keywords.read_text(encoding="utf-8")
    assert text.endswith("  - name: quiet\n    keywords: [ceasefire]\n")
    shown = await rig.ask("rule show", {"name": "quiet"}, user=MEMBER)
    assert f"Posts to: <#{ALERTS}>" in shown.text


async def test_rule_add_refuses_a_channel_the_bot_cannot_post_in(rig: SlashRig) -> None:
    before = rig.keywords.read_bytes()
    answer = await rig.ask(
        "rule add",
        {"name": "n", "keywords": "x", "channel": READ_ONLY},
        user=ADMIN_USER,
        resolved=resolved(rig.fake, READ_ONLY),
    )
    assert_private(answer)
    assert answer.data["content"].startswith(
        f"I cannot post in <#{READ_ONLY}>: I lack the Send Messages, Embed Links permissions there; pick"
    )
    assert rig.keywords.read_bytes() == before


# -- who may -------------------------------------------------------------------------------------------------

ADMIN_COMMANDS: list[tuple[str, dict[str, Any]]] = [
    ("rule add", {"name": "x", "keywords": "y"}),
    ("rule remove", {"name": "bases"}),
    ("rule pause", {"name": "bases", "duration": "1h"}),
    ("rule resume", {"name": "bases"}),
    ("feed add", {"name": "x", "url": "https://example.org/rss"}),
    ("feed remove", {"name": "broken"}),
    ("audit", {}),
]


@pytest.mark.parametrize(("command", "values"), ADMIN_COMMANDS)
async def test_a_plain_member_is_refused_privately_and_nothing_changes(
    rig: SlashRig, command: str, values: dict[str, Any]
) -> None:
    before = rig.keywords.read_bytes()
    answer = await rig.ask(command, values, user=MEMBER)
    assert answer.type == 4 and answer.ephemeral  # refused at once, before any work
    assert answer.data["content"].startswith("Only admins can do that: it needs the Manage Server permission")
    assert "Nothing was changed." in answer.data["content"]
    assert rig.keywords.read_bytes() == before
    assert rig.audit() == [] and admin_notices(rig.fake) == []


async def test_manage_server_or_the_admin_role_makes_an_admin(rig: SlashRig) -> None:
    by_role = await rig.ask("rule pause", {"name": "ports"}, user=ADMIN_USER)  # NEWSHOUND_ADMIN_ROLE
    assert by_role.data["embeds"][0]["title"] == "Rule ports paused"
    by_permission = await rig.ask("rule resume", {"name": "ports"}, user=MANAGER)  # Manage Server
    assert by_permission.data["embeds"][0]["title"] == "Rule ports resumed"
    owner = await rig.ask("audit")  # the owner has every permission
    assert [f["name"] for f in owner.data["embeds"][0]["fields"]] == [
        "/rule resume ports",
        "/rule pause ports",
    ]
    assert [e["actor"] for e in rig.audit()] == [f"dana ({MANAGER})", f"alice ({ADMIN_USER})"]


async def test_the_admin_role_may_be_given_by_name(
    fake_discord: FakeDiscord, feed_host: FeedHost, tmp_path: Path
) -> None:
    async with desk_rig(fake_discord, feed_host, tmp_path, NEWSHOUND_ADMIN_ROLE="newshound-admins") as rig:
        allowed = await rig.ask("rule pause", {"name": "ports"}, user=ADMIN_USER)
        assert allowed.data["embeds"][0]["title"] == "Rule ports paused"
        refused = await rig.ask("rule resume", {"name": "ports"}, user=MEMBER)
        assert "or the role newshound-admins" in refused.data["content"]


async def test_without_an_admin_role_discord_hides_audit_from_non_admins(
    fake_discord: FakeDiscord, feed_host: FeedHost, tmp_path: Path
) -> None:
    async with desk_rig(fake_discord, feed_host, tmp_path, NEWSHOUND_ADMIN_ROLE=None) as rig:
        by_name = {c["name"]: c for c in rig.fake.commands[None]}
        assert int(by_name["audit"]["default_member_permissions"]) == MANAGE_GUILD
        assert by_name["rule"]["default_member_permissions"] is None  # /rule list is for everyone
        # …but the check in code is what counts: a member sending it anyway is refused.
        refused = await rig.ask("audit", user=MEMBER)
        assert refused.ephemeral and refused.data["content"].startswith("Only admins can do that")


# -- bad arguments -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "values", "expected"),
    [
        ("rule add", {"name": "bases", "keywords": "x"}, "A rule named `bases` already exists"),
        (
            "rule add",
            {"name": "n", "keywords": " , ,"},
            "`keywords` needs at least one word, comma-separated.",
        ),
        ("rule add", {"name": "n", "keywords": "a*b"}, "'*' is only allowed at the end of a keyword"),
        ("rule add", {"name": "n", "keywords": "x", "severity": "urgent"}, "`severity` must be one of low"),
        ("rule add", {"name": ":n", "keywords": "x"}, "must not start with ':'"),
        ("rule pause", {"name": "bases", "duration": "soon"}, "`duration` must be a duration like 30m"),
        ("rule pause", {"name": "basis"}, "There is no rule named `basis` (did you mean `bases`?)"),
        ("rule resume", {"name": "bases"}, "Rule `bases` is not paused; nothing was changed."),
        (
            "feed add",
            {"name": "x", "url": "ftp://example.org/rss"},
            "`url` must be a full http:// or https://",
        ),
        ("feed add", {"name": "levant-wire", "url": "https://e.org/"}, "A feed named `levant-wire` already"),
        (
            "feed add",
            {"name": "x", "url": "https://e.org/", "interval": "5s"},
            "`interval` must be between 1m",
        ),
        ("feed remove", {"name": "nope"}, "There is no feed named `nope`"),
        ("audit", {"count": 0}, "`count` must be between 1 and 50"),
    ],
)
async def test_a_bad_admin_argument_gets_one_private_sentence_and_nothing_changes(
    rig: SlashRig, command: str, values: dict[str, Any], expected: str
) -> None:
    before = rig.keywords.read_bytes()
    answer = await rig.ask(command, values, user=ADMIN_USER)
    assert_private(answer)
    assert expected in answer.data["content"]
    if command != "rule resume":
        assert "For example: `/" in answer.data["content"]
    assert rig.keywords.read_bytes() == before and rig.audit() == []


# -- pause, resume, remove: exact round trips ----------------------------------------------------------------


async def test_pause_for_a_while_then_resume_restores_the_file_byte_for_byte(
    rig: SlashRig, feed_host: FeedHost
) -> None:
    original = rig.keywords.read_text(encoding="utf-8")
    paused = await rig.ask("rule pause", {"name": "bases", "duration": "2h"}, user=ADMIN_USER)
    assert_private(paused)
    assert "It will not fire until <t:" in paused.text
    added, removed = added_and_removed(original, rig.keywords.read_text(encoding="utf-8"))
    assert removed == [] and len(added) == 1 and added[0].startswith("    paused_until: '20")
    shown = await rig.ask("rule show", {"name": "bases"}, user=MEMBER)
    assert "State: ⏸️ paused until <t:" in shown.text

    await rig.poll()  # while paused, Tartus items do not alert
    assert alerts_in(rig.fake, ALERTS) == []

    resumed = await rig.ask("rule resume", {"name": "bases"}, user=ADMIN_USER)
    assert "- paused_until: 20" in resumed.text
    assert rig.keywords.read_text(encoding="utf-8") == original
    assert [e["action"] for e in rig.audit()] == ["rule resume", "rule pause"]
    assert json.loads(rig.audit()[1]["after"])["paused_until"].startswith("20")


async def test_pause_until_resumed_writes_enabled_false(rig: SlashRig) -> None:
    await rig.ask("rule pause", {"name": "ports"}, user=ADMIN_USER)
    text = rig.keywords.read_text(encoding="utf-8")
    assert '    channel: "300000000000000002"\n    enabled: false\n' in text
    listed = await rig.ask("rule list", user=MEMBER)
    assert "⏸️ paused until resumed" in listed.data["embeds"][0]["fields"][1]["value"]
    choices = await rig.ask("rule resume", {"name": ""}, user=ADMIN_USER, kind=4, focused="name")
    assert choices.interaction.callback["data"]["choices"] == [{"name": "ports", "value": "ports"}]


async def test_rule_remove_takes_the_rules_lines_and_nothing_else(rig: SlashRig) -> None:
    before = rig.keywords.read_text(encoding="utf-8")
    answer = await rig.ask("rule remove", {"name": "bases"}, user=ADMIN_USER)
    assert answer.data["embeds"][0]["title"] == "Rule bases removed"
    added, removed = added_and_removed(before, rig.keywords.read_text(encoding="utf-8"))
    assert added == []
    assert [r for r in removed if r.strip()] == [
        "  - name: bases",
        "    description: Russia's bases at Tartus and Khmeimim",
        "    keywords: [Tartus, Tartous, Khmeimim]",
        "    exclude: [festival]     # the summer festival is noise",
        "    severity: high",
    ]
    assert rig.app.ruleset().config.rule("bases") is None  # in force now
    assert json.loads(rig.audit()[0]["before"])["exclude"] == ["festival"]


# -- /feed add and remove ------------------------------------------------------------------------------------


async def test_feed_add_fetches_first_then_adds_and_the_feed_is_polled(
    rig: SlashRig, feed_host: FeedHost
) -> None:
    feed_host.set("/tass.xml", rss(items(3, "Khmeimim"), title="TASS World"))
    answer = await rig.ask(
        "feed add",
        {"name": "tass", "url": feed_host.url("/tass.xml"), "interval": "15m", "tags": "syria, ru"},
        user=ADMIN_USER,
    )
    assert answer.deferred and answer.ephemeral
    assert "“TASS World”, 3 items in it now." in answer.text
    text = rig.keywords.read_text(encoding="utf-8")
    block = (
        f"  - name: tass\n    url: {feed_host.url('/tass.xml')}\n    interval: 15m\n    tags: [syria, ru]\n"
    )
    assert block in text and text.index(block) < text.index("rules:")
    assert feed_host.hits("/tass.xml") == 1
    await rig.poll()
    assert feed_host.hits("/tass.xml") == 2
    listed = await rig.ask("feed list", user=MEMBER)
    assert any(f["name"] == "tass — TASS World" for f in listed.data["embeds"][0]["fields"])


async def test_feed_add_of_a_web_page_offers_the_feeds_it_advertises(
    rig: SlashRig, feed_host: FeedHost
) -> None:
    feed_host.set(
        "/news/",
        '<html><head><title>News</title><link rel="alternate" type="application/rss+xml" title="World" '
        'href="/news/world.rss"><link rel="alternate" type="application/atom+xml" href="atom.xml">'
        '<link rel="alternate" type="application/rss+xml" href="/x.rss?[a](https://evil.example)">'
        "</head></html>",
        content_type="text/html; charset=utf-8",
    )
    before = rig.keywords.read_bytes()
    answer = await rig.ask("feed add", {"name": "n", "url": feed_host.url("/news/")}, user=ADMIN_USER)
    assert_private(answer)
    assert "is a web page, not a feed. It advertises these feeds" in answer.text
    assert f"• World — `{feed_host.url('/news/world.rss')}`" in answer.text
    assert f"• `{feed_host.url('/news/atom.xml')}`" in answer.text
    # Shown verbatim, as code: markdown in an advertised URL makes no link.
    assert f"• `{feed_host.url('/x.rss?[a](https://evil.example)')}`" in answer.text
    assert rig.keywords.read_bytes() == before and rig.audit() == []


async def test_feed_add_of_something_that_is_not_a_feed_says_why(rig: SlashRig, feed_host: FeedHost) -> None:
    answer = await rig.ask("feed add", {"name": "n", "url": feed_host.url("/missing.xml")}, user=ADMIN_USER)
    assert_private(answer)
    assert answer.text.startswith("Nothing was added:") and "is not a feed I can read" in answer.text
    assert "404" in answer.text


async def test_feed_remove(rig: SlashRig, feed_host: FeedHost) -> None:
    before = rig.keywords.read_text(encoding="utf-8")
    answer = await rig.ask("feed remove", {"name": "broken"}, user=ADMIN_USER)
    assert answer.data["embeds"][0]["title"] == "Feed broken removed"
    after = rig.keywords.read_text(encoding="utf-8")
    added, removed = added_and_removed(before, after)
    assert added == []
    assert [r for r in removed if r.strip()] == [
        "  - name: broken",
        f"    url: {feed_host.url('/broken.xml')}",
    ]
    listed = await rig.ask("feed list", user=MEMBER)
    assert [f["name"].split(" ")[0] for f in listed.data["embeds"][0]["fields"]] == ["levant-wire"]


# -- /audit --------------------------------------------------------------------------------------------------


async def test_audit_lists_changes_newest_first_with_pages(rig: SlashRig) -> None:
    for i in range(6):
        await rig.ask("rule pause", {"name": "ports", "duration": f"{i + 1}h"}, user=ADMIN_USER)
        await rig.ask("rule resume", {"name": "ports"}, user=ADMIN_USER)
    answer = await rig.ask("audit", {"count": 12}, user=ADMIN_USER)
    assert_private(answer)
    fields = answer.data["embeds"][0]["fields"]
    assert len(fields) == 10 and fields[0]["name"] == "/rule resume ports"
    assert fields[1]["name"] == "/rule pause ports" and "— for 6h" in fields[1]["value"]
    assert "```diff\n+ paused_until: 20" in fields[1]["value"]
    nxt = await rig.click(answer, "Next", user=ADMIN_USER)
    assert len(nxt.data["embeds"][0]["fields"]) == 2 and "page 2/2" in nxt.text
    # A plain member clicking an admin's page button is refused (the page re-runs /audit's checks).
    stranger = await rig.click(answer, "Next", user=MEMBER)
    assert stranger.ephemeral and "Only the person who ran `/audit`" in stranger.text


# -- the unexpected ------------------------------------------------------------------------------------------


def corrupt(rig: SlashRig, sql: str) -> None:
    """Damages the database the way a disk or a bad manual edit might."""
    rig.app.store.run_sync(lambda s: s.db.execute(sql))


async def test_an_unexpected_failure_in_a_command_is_logged_and_the_user_told_privately(
    rig: SlashRig, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.poll()
    corrupt(rig, "UPDATE items SET outcomes = '{not json'")
    with caplog.at_level(logging.ERROR, logger="bot.deliver.discord.slash.bridge"):
        answer = await rig.ask("why", {"link": "https://news.example/tartus/0"}, user=MEMBER)
    assert answer.type == 4 and answer.ephemeral
    assert answer.data["content"].startswith("Something went wrong on my side")
    assert "/why by" in caplog.text and "JSONDecodeError" in caplog.text
    assert "Traceback" in caplog.text


async def test_an_unexpected_failure_behind_a_button_goes_through_the_same_handler(
    rig: SlashRig, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.poll()
    first = await rig.ask("search", {"query": "tartus"}, user=MEMBER)
    corrupt(rig, "UPDATE pagers SET args = '{not json'")
    with caplog.at_level(logging.ERROR, logger="bot.deliver.discord.slash.bridge"):
        answer = await rig.click(first, "Next", user=MEMBER)
    assert answer.type == 4 and answer.ephemeral
    assert answer.data["content"].startswith("Something went wrong on my side")
    assert "component nh:pg:" in caplog.text and "JSONDecodeError" in caplog.text


async def test_a_file_that_cannot_be_read_is_reported_and_nothing_recorded(rig: SlashRig) -> None:
    rig.keywords.unlink()
    rig.keywords.mkdir()  # the file became a directory
    answer = await rig.ask("rule add", {"name": "n", "keywords": "x"}, user=ADMIN_USER)
    assert answer.deferred and answer.ephemeral
    assert answer.text.startswith("Nothing was changed: cannot read ") and "Is a directory" in answer.text
    assert rig.audit() == [] and admin_notices(rig.fake) == []


async def test_feed_add_of_a_paused_feed_resumes_it_without_editing_the_file(
    rig: SlashRig, feed_host: FeedHost
) -> None:
    feed = rig.app.ruleset().config.feeds[0]
    # The bot paused the feed after a week of failures (the store's own health bookkeeping).
    for day in range(8):
        at = 1_000_000.0 + day * 86400
        rig.app.store.run_sync(
            lambda s, at=at, day=day: s.record_failure(feed.name, at, at + 60, "HTTP 503", pause=day == 7)
        )
    assert rig.app.store.run_sync(lambda s: s.feed(feed.name)).status == "paused"  # type: ignore[union-attr]
    before = rig.keywords.read_bytes()
    answer = await rig.ask("feed add", {"name": "again", "url": feed.url}, user=ADMIN_USER)
    assert_private(answer)
    assert answer.data["embeds"][0]["title"] == f"Feed {feed.name} resumed"
    assert rig.keywords.read_bytes() == before
    state = rig.app.store.run_sync(lambda s: s.feed(feed.name))
    assert state is not None and state.status != "paused"
    [entry] = rig.audit()
    assert entry["action"] == "feed resume" and entry["target"] == feed.name
    shown = (await rig.ask("audit", user=ADMIN_USER)).text  # what changed, not "(no change)"
    assert "- status: paused" in shown and "+ status: polling" in shown, shown
    # A feed that is not paused is still refused, as before.
    again = await rig.ask("feed add", {"name": "again", "url": feed.url}, user=ADMIN_USER)
    assert "already polls that URL" in again.text
