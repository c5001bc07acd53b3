"""The alert as a Discord message: shape, limits, hostile text — pure functions, checked against the fake's
own copy of Discord's validation rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import discord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.deliver.discord.render import (
    embed_size,
    emphasise,
    render_alert,
    render_digest,
    render_notice,
    webhook_username,
)
from bot.markup import CONTENT_LIMIT, EMBED_TOTAL_LIMIT, SEVERITY_COLOURS, escape_markdown, safe_url
from bot.summarise import Alert, AlertMatch
from tests.fakes.discord_server import validate_message

ROLE = "400000000000000001"
PUBLISHED = "2025-03-01T12:30:00+00:00"


def make_alert(**kw: object) -> Alert:
    base: dict[str, object] = {
        "feed": "levant-wire",
        "feed_title": "Levant Wire",
        "title": "Russia reinforces Tartus naval base",
        "link": "https://news.example/tartus?id=1",
        "summary": "Russian ships arrived in Tartus on Monday. Officials in Damascus said little.",
        "matches": (AlertMatch("bases", ("Tartus",), "high"),),
        "severity": "high",
        "mentions": (ROLE,),
        "highlights": ("Tartus",),
        "published": PUBLISHED,
        "source": "Reuters",
        "author": "A. Writer",
    }
    base.update(kw)
    return Alert(**base)  # type: ignore[arg-type]


def payload(alert: Alert) -> dict[str, object]:
    r = render_alert(alert)
    return {"content": r.content, "embeds": [r.embed], "allowed_mentions": r.allowed_mentions}


def unescaped(text: str) -> str:
    """What is left of ``text`` once every backslash-escaped character is dropped: live markdown."""
    return re.sub(r"\\.", "", text)


def test_alert_embed_has_everything_a_reader_needs() -> None:
    r = render_alert(make_alert())
    e = r.embed
    assert e["title"] == "Russia reinforces Tartus naval base"
    assert e["url"] == "https://news.example/tartus?id=1"
    assert e["author"] == {"name": "Levant Wire"}
    assert "**Tartus**" in e["description"]
    fields = {f["name"]: f["value"] for f in e["fields"]}
    assert fields["Publisher"] == "Reuters"
    stamp = int(datetime.fromisoformat(PUBLISHED).timestamp())
    assert fields["Published"] == f"<t:{stamp}:R>"
    assert e["footer"] == {"text": "matched: bases · Tartus"}
    assert e["color"] == SEVERITY_COLOURS["high"]
    assert e["timestamp"] == datetime.fromtimestamp(stamp, UTC).isoformat()
    assert r.content == f"<@&{ROLE}>"
    assert r.allowed_mentions == {"parse": [], "roles": [ROLE], "replied_user": False}
    validate_message(payload(make_alert()))


def test_an_alert_for_a_retitled_item_shows_the_old_headline_escaped() -> None:
    assert not any(f["name"].startswith("Headline") for f in render_alert(make_alert()).embed["fields"])
    alert = make_alert(previous_title="**Explosion** at a port @everyone <@123456789012345678>")
    r = render_alert(alert)
    (was,) = [f for f in r.embed["fields"] if f["name"] == "Headline updated; it was"]
    assert was["inline"] is False
    assert "@everyone" not in unescaped(was["value"]) and "**" not in unescaped(was["value"])
    assert "Explosion" in was["value"]
    validate_message(payload(alert))  # raises as Discord would
    assert Alert.from_json(alert.to_json()).previous_title == alert.previous_title
    # an alert queued before this field existed still loads
    older = {k: v for k, v in make_alert().to_json().items() if k != "previous_title"}
    assert Alert.from_json(older).previous_title == ""


def test_colour_follows_severity() -> None:
    colours = {s: render_alert(make_alert(severity=s)).embed["color"] for s in SEVERITY_COLOURS}
    assert colours == SEVERITY_COLOURS
    assert len(set(colours.values())) == 4


def test_no_roles_means_no_content_and_no_allowed_roles() -> None:
    r = render_alert(make_alert(mentions=()))
    assert r.content == ""
    assert r.allowed_mentions == {"parse": [], "roles": [], "replied_user": False}


def test_role_ids_that_are_not_snowflakes_are_dropped() -> None:
    r = render_alert(make_alert(mentions=(ROLE, "everyone", "@here", "<@&1>", ROLE)))
    assert r.roles == (int(ROLE),)
    assert r.content == f"<@&{ROLE}>"


def test_markdown_in_feed_text_is_escaped_before_bolding() -> None:
    hostile = (
        "**fake bold** __under__ ~~strike~~ `code` ||spoiler|| > quote [Tartus](https://evil.example) "
        "<@123456789012345678> <@&456789012345678901> <#345678901234567890> <t:0:R> <:e:123456789012345678> "
        "@everyone @here tartus\\*"
    )
    r = render_alert(make_alert(summary=hostile, title="# *Tartus* [x](https://evil.example)"))
    live = unescaped(r.embed["description"])
    # Only our own bold markers survive, around the matched word.
    assert live.replace("**Tartus**", "").replace("**tartus**", "").count("*") == 0
    for opener in ("__", "~~", "`", "||", "[", "](", "<@", "<#", "<t:", "<:", ">"):
        assert opener not in live.replace("**", ""), opener
    assert "**Tartus**" in r.embed["description"]
    title_live = unescaped(r.embed["title"])
    assert "*" not in title_live and "[" not in title_live and "#" not in title_live
    # Masked link text can't be a live link either: the scheme separator is escaped.
    assert "https://evil" not in unescaped(r.embed["description"])


def test_emphasise_whole_words_any_case_merged_and_safe() -> None:
    assert emphasise("Tartus, tartus and Tartusians", ["Tartus"]) == "**Tartus**, **tartus** and Tartusians"
    assert emphasise("Hmeimim Khmeimim", ["Hmeimim", "Khmeimim"]) == "**Hmeimim** **Khmeimim**"
    assert emphasise("the *Tartus* port", ["Tartus"]) == "the \\***Tartus**\\* port"
    assert emphasise("a b", ["a b", "b"]) == "**a b**"
    assert emphasise("nothing here", []) == "nothing here"


def test_escape_markdown_neutralises_line_starts() -> None:
    assert (
        escape_markdown("- item\n1. first\n-# small\n> quote")
        == "\\- item\n1\\. first\n\\-\\# small\n\\> quote"
    )


def test_feed_text_never_reaches_content() -> None:
    nasty = "@everyone @here <@123456789012345678> <@&456789012345678901>"
    r = render_alert(make_alert(title=nasty, summary=nasty, source=nasty, author=nasty, feed_title=nasty))
    assert r.content == f"<@&{ROLE}>"
    assert r.allowed_mentions["parse"] == []


def test_only_http_links_are_linked() -> None:
    for bad in (
        "javascript:alert(1)",
        "data:text/html,hi",
        "ftp://files.example/x",
        "//no-scheme.example",
        "/relative/path",
        "https://trusted.example@evil.example/",
        "https://exa mple.com/",
        "https://example.com/\u202egnp.exe",
        "https://a.example)[click](https://evil.example/x",  # a "host" that would end the markdown link
        "https://a.example%29/x",
        "",
    ):
        assert safe_url(bad) is None, bad
        assert "url" not in render_alert(make_alert(link=bad)).embed
    assert safe_url("https://example.com/a_(b)[c]") == "https://example.com/a_%28b%29%5Bc%5D"
    assert safe_url("HTTP://Example.com/ü") == "http://example.com/%C3%BC"
    # An internationalised domain name in its ASCII form (Discord refuses a percent-encoded host), an IPv6
    # address as it is.
    assert safe_url("https://Пример.рф:8443/новости?id=1") == (
        "https://xn--e1afmkfd.xn--p1ai:8443/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8?id=1"
    )
    assert safe_url("https://[2001:db8::1]/a") == "https://[2001:db8::1]/a"
    assert safe_url("https://straße.de/") == "https://xn--strae-oqa.de/"  # not strasse.de (IDNA 2003)
    assert safe_url("https://ςοφία.gr/") == "https://xn--kxae4blv.gr/"
    embed = render_alert(make_alert(link="https://тасс.рф/армия/1")).embed
    assert embed["url"] == "https://xn--80a8aab.xn--p1ai/%D0%B0%D1%80%D0%BC%D0%B8%D1%8F/1"


def test_digest_lists_headline_and_link_safely() -> None:
    alerts = [
        make_alert(title=f"Story {i} [x](https://evil.example)", link=f"https://n.example/{i}")
        for i in range(5)
    ]
    alerts.append(make_alert(title="no link", link="javascript:alert(1)", mentions=("400000000000000002",)))
    r = render_digest(alerts)
    assert r.alerts == 6
    lines = r.embed["description"].splitlines()
    assert len(lines) == 6
    assert lines[0].startswith("• [Story 0 \\[x\\]\\(https\\://evil.example\\)](https://n.example/0)")
    assert "javascript" not in lines[5].split("—")[0].replace("no link", "")
    assert r.roles == (int(ROLE), 400000000000000002)
    assert r.embed["title"] == "6 more alerts in the last minute"
    validate_message({"content": r.content, "embeds": [r.embed], "allowed_mentions": r.allowed_mentions})


def test_digest_takes_only_what_fits() -> None:
    alerts = [
        make_alert(title="T" * 300 + f" {i}", link=f"https://n.example/{'x' * 300}/{i}") for i in range(200)
    ]
    r = render_digest(alerts)
    assert 1 <= r.alerts < 200
    assert len(r.embed["description"]) <= 4096
    validate_message({"content": r.content, "embeds": [r.embed], "allowed_mentions": r.allowed_mentions})


def test_digest_of_many_rules_stays_within_the_embed_total() -> None:
    """A full description (~4,050) and a footer naming every rule (up to 2,048) would together exceed the
    6,000 Discord allows in one embed: the footer gives way, every alert stays in the digest."""
    rules = [f"watch-{i:02d}-russian-naval-presence-tartus-khmeimim" for i in range(60)]
    alerts = [
        make_alert(
            title=f"Russian frigate seen leaving Tartus harbour, item {i}",
            link=f"https://n.example/{i}",
            matches=(AlertMatch(rules[i % 60], ("Tartus",)), AlertMatch(rules[(i + 30) % 60], ("Tartus",))),
        )
        for i in range(51)
    ]
    r = render_digest(alerts)
    assert r.alerts > 40 and len(r.embed["description"]) > 3950
    assert embed_size(r.embed) <= EMBED_TOTAL_LIMIT
    footer = r.embed["footer"]["text"]
    assert footer.startswith(f"matched: {rules[0]}, {rules[30]}, ") and footer.endswith("…")
    validate_message({"content": r.content, "embeds": [r.embed], "allowed_mentions": r.allowed_mentions})


def test_enormous_item_fits_every_limit() -> None:
    words = "Ŧartus 東京 مرحبا 🚢 word " * 4000
    alert = make_alert(
        title=words,
        summary=words,
        feed_title=words,
        feed="f" * 5000,
        source=words,
        author=words[::-1],
        matches=tuple(AlertMatch(f"rule-{i}-" + "x" * 60, ("term " * 50,), "critical") for i in range(300)),
        highlights=tuple({w for w in words.split()} | {f"h{i}" for i in range(500)}),
        mentions=tuple(str(400000000000000000 + i) for i in range(300)),
        link="https://news.example/" + "a" * 1900,
    )
    r = render_alert(alert)
    e = r.embed
    assert len(e["title"]) <= 256
    assert len(e["description"]) <= 4096
    assert len(e["author"]["name"]) <= 256
    assert len(e["footer"]["text"]) <= 2048
    assert all(len(f["name"]) <= 256 and len(f["value"]) <= 1024 for f in e["fields"])
    assert len(e["fields"]) <= 25
    assert embed_size(e) <= EMBED_TOTAL_LIMIT
    assert len(r.content) <= CONTENT_LIMIT
    assert len(r.roles) <= 100
    assert set(re.findall(r"<@&(\d+)>", r.content)) == {str(x) for x in r.roles}
    for text in (e["title"], e["description"], e["author"]["name"], e["footer"]["text"]):
        assert text.endswith("…")
    # cut at a word boundary: what precedes the ellipsis is a whole word of the original
    assert e["title"][:-1].rstrip().split()[-1] in words.split()
    validate_message(payload(alert))


def test_embed_dict_survives_discord_embed_round_trip() -> None:
    r = render_alert(make_alert())
    sent = dict(discord.Embed.from_dict(r.embed).to_dict())
    assert sent.pop("flags", 0) == 0
    assert sent == r.embed


def test_webhook_username_rules() -> None:
    assert webhook_username("Levant Wire") == "Levant Wire"
    assert webhook_username("Discord News") == "News"
    assert webhook_username("clyde") is None
    assert webhook_username("everyone") is None
    assert webhook_username("x" * 200) == "x" * 80
    assert webhook_username(None) is None
    # Removing the word once could leave it whole again.
    assert webhook_username("Discdiscordord Watch") == "Watch"
    assert webhook_username("CLCLYDEYDE") is None


def test_admin_notice_pings_no_one() -> None:
    r = render_notice("cannot post in #alerts: @everyone <@&1> **x**")
    assert r.content == "" and r.roles == ()
    assert "\\@everyone" in r.embed["description"]


TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=3000
) | st.sampled_from(["@everyone", "<@&1>", "**", "\\", "[a](b)", "…", " " * 50, "\n\n"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=TEXT,
    summary=TEXT,
    feed_title=TEXT,
    source=TEXT,
    author=TEXT,
    link=TEXT,
    highlights=st.lists(TEXT, max_size=20),
    rules=st.lists(st.tuples(TEXT, st.lists(TEXT, max_size=5)), max_size=30),
)
def test_any_feed_text_renders_within_discord_limits(
    title: str,
    summary: str,
    feed_title: str,
    source: str,
    author: str,
    link: str,
    highlights: list[str],
    rules: list[tuple[str, list[str]]],
) -> None:
    alert = Alert(
        feed="feed",
        feed_title=feed_title,
        title=title,
        link=link,
        summary=summary,
        matches=tuple(AlertMatch(name, tuple(terms)) for name, terms in rules),
        highlights=tuple(highlights),
        source=source,
        author=author,
        published=PUBLISHED,
    )
    body = payload(alert)
    validate_message(body)  # raises the 400 Discord would give
    r = render_alert(alert)
    assert embed_size(r.embed) <= EMBED_TOTAL_LIMIT
    assert r.content == ""
    digest = render_digest([alert, alert])
    validate_message({"content": digest.content, "embeds": [digest.embed]})
