"""``newshound feeds …`` as a user runs it (a real process), OPML both ways, and the describe-a-URL answer
that ``/feed add`` gives."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.addresses import Reach
from bot.fetch import Fetcher
from bot.parse.opml import OpmlError, read_opml, write_opml
from bot.probe import describe_feed
from bot.rules.load import load_rules
from bot.store import PollRecord, Store
from tests.conftest import CHANNEL, write_rules
from tests.fakes.feed_host import FeedHost, rss
from tests.test_cli import NEWSHOUND, env_for, run_cli

OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My subscriptions</title></head>
  <body>
    <outline text="Middle East">
      <outline text="Al Jazeera – All" type="rss" xmlUrl="https://www.aljazeera.com/xml/rss/all.xml"/>
      <outline title="Levant Wire" type="rss" xmlUrl="https://levant.example/rss" category="/syria,/wires"/>
    </outline>
    <outline text="BBC World" type="rss" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
    <outline text="BBC World" type="rss" xmlUrl="https://feeds.bbci.co.uk/news/world/europe/rss.xml"/>
    <outline text="Mail" type="rss" xmlUrl="mailto:someone@example.org"/>
    <outline text="Already here" type="rss" xmlUrl="https://example.org/existing.xml"/>
  </body>
</opml>
"""

RULES = f"""
# Our team's rules. This comment must survive an import.
version: 1
defaults:
  channel: "{CHANNEL}"   # the alerts channel
feeds:
  - name: existing       # keep me
    url: https://example.org/existing.xml
rules:
  - name: bases
    keywords: [Tartus]
"""


def test_read_opml_takes_names_tags_and_only_web_feeds() -> None:
    feeds = read_opml(OPML.encode())
    assert [(f.name, f.url, f.tags) for f in feeds] == [
        ("al-jazeera-all", "https://www.aljazeera.com/xml/rss/all.xml", ("middle-east",)),
        ("levant-wire", "https://levant.example/rss", ("middle-east", "syria", "wires")),
        ("bbc-world", "https://feeds.bbci.co.uk/news/world/rss.xml", ()),
        ("bbc-world-2", "https://feeds.bbci.co.uk/news/world/europe/rss.xml", ()),
        ("already-here", "https://example.org/existing.xml", ()),
    ]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"<rss/>", "not an OPML file: the document is <rss>, not <opml>"),
        (b"<opml version='2.0'><head/></opml>", "not an OPML subscription list: there is no <body>"),
        (b"<opml><body><outline", "not well-formed XML"),
        (
            b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">]><opml><body>&a;</body></opml>',
            "refused: the file declares XML entities (entity-expansion guard)",
        ),
    ],
)
def test_bad_opml_is_refused_in_words(data: bytes, error: str) -> None:
    with pytest.raises(OpmlError) as caught:
        read_opml(data)
    assert str(caught.value).startswith(error)


async def test_import_keeps_comments_skips_what_is_there_and_round_trips(tmp_path: Path) -> None:
    rules = write_rules(tmp_path / "keywords.yaml", RULES)
    (tmp_path / "subs.opml").write_text(OPML, encoding="utf-8")
    env = env_for(tmp_path)

    code, out, err = await run_cli(
        NEWSHOUND, "feeds", "import", "subs.opml", "--dry-run", env=env, cwd=tmp_path
    )
    assert code == 0 and "would add 4" in out and rules.read_text(encoding="utf-8").count("- name:") == 2

    code, _, err = await run_cli(NEWSHOUND, "feeds", "import", "nosuch.opml", env=env, cwd=tmp_path)
    assert code == 1 and "cannot read nosuch.opml: No such file or directory" in err  # as documented

    code, out, err = await run_cli(NEWSHOUND, "feeds", "import", "subs.opml", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "  = https://example.org/existing.xml is already watched as existing" in out
    assert "  + levant-wire: https://levant.example/rss [middle-east, syria, wires]" in out
    assert out.strip().endswith("subs.opml: 5 feed(s); added 4 to " + str(rules) + ", 1 already there")
    text = rules.read_text(encoding="utf-8")
    assert "# Our team's rules. This comment must survive an import." in text
    assert "# keep me" in text and "# the alerts channel" in text
    config = load_rules(rules)
    assert [f.name for f in config.feeds] == [
        "existing",
        "al-jazeera-all",
        "levant-wire",
        "bbc-world",
        "bbc-world-2",
    ]

    code, again, _ = await run_cli(NEWSHOUND, "feeds", "import", "subs.opml", env=env, cwd=tmp_path)
    assert code == 0 and "added 0" in again  # importing twice adds nothing

    code, exported, _ = await run_cli(NEWSHOUND, "feeds", "export", env=env, cwd=tmp_path)
    assert code == 0 and exported.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    fresh = write_rules(tmp_path / "fresh.yaml", f'version: 1\ndefaults:\n  channel: "{CHANNEL}"\n')
    (tmp_path / "out.opml").write_text(exported, encoding="utf-8")
    code, out, err = await run_cli(
        NEWSHOUND, "feeds", "import", "out.opml", "--rules", str(fresh), env=env, cwd=tmp_path
    )
    assert code == 0, err
    round_trip = load_rules(fresh)
    assert [(f.name, f.url, f.tags) for f in round_trip.feeds] == [
        (f.name, f.url, f.tags) for f in config.feeds
    ]


async def test_import_adds_hundreds_of_feeds_in_one_edit(tmp_path: Path) -> None:
    # One read, one validation and one write for the whole file: 400 feeds take about a second. Adding
    # them one edit at a time re-read and re-validated the growing file each time (80 s for 400).
    rules = write_rules(tmp_path / "keywords.yaml", RULES)
    outlines = "".join(
        f'<outline text="Wire {i}" xmlUrl="https://wire{i}.example/rss" category="c{i % 7}"/>\n'
        for i in range(400)
    )
    opml = f'<opml version="2.0"><body><outline text="Wires">\n{outlines}</outline></body></opml>'
    (tmp_path / "big.opml").write_text(opml, encoding="utf-8")
    code, out, err = await run_cli(
        NEWSHOUND, "feeds", "import", "big.opml", env=env_for(tmp_path), cwd=tmp_path, limit=20
    )
    assert code == 0, err
    assert out.splitlines()[-2:] == [
        "  + wire-399: https://wire399.example/rss [wires, c0]",
        f"big.opml: 400 feed(s); added 400 to {rules}, 0 already there",
    ]
    config = load_rules(rules)
    assert len(config.feeds) == 401 and config.feeds[-1].tags == ("wires", "c0")
    assert "# keep me" in rules.read_text(encoding="utf-8")


async def test_import_adds_what_it_can_and_says_why_not_the_rest(tmp_path: Path) -> None:
    rules = write_rules(tmp_path / "keywords.yaml", RULES)
    (tmp_path / "subs.opml").write_text(
        '<opml version="2.0"><body>'
        '<outline text="One" xmlUrl="https://one.example/rss"/>'
        '<outline text="No host" xmlUrl="http:///rss"/>'
        '<outline text="Two" xmlUrl="https://two.example/rss"/>'
        "</body></opml>",
        encoding="utf-8",
    )
    env = env_for(tmp_path)
    code, out, err = await run_cli(NEWSHOUND, "feeds", "import", "subs.opml", env=env, cwd=tmp_path)
    assert code == 1  # as documented: a feed could not be added
    assert err == (
        "  ! http:///rss: feed 'no-host' would not load: url must be an http:// or https:// URL, "
        "not 'http:///rss'\n"
    )
    assert out.splitlines() == [
        "  + one: https://one.example/rss",
        "  + two: https://two.example/rss",
        f"subs.opml: 3 feed(s); added 2 to {rules}, 0 already there, 1 failed",
    ]
    assert [f.name for f in load_rules(rules).feeds] == ["existing", "one", "two"]


@pytest.mark.parametrize("output", ["missing/dir/out.opml", "."])
async def test_export_to_a_file_that_cannot_be_written_says_so_in_one_line(
    tmp_path: Path, output: str
) -> None:
    write_rules(tmp_path / "keywords.yaml", RULES)
    code, out, err = await run_cli(
        NEWSHOUND, "feeds", "export", "-o", output, env=env_for(tmp_path), cwd=tmp_path
    )
    reason = "No such file or directory" if output != "." else "Is a directory"
    assert (code, out, err) == (1, "", f"newshound feeds export: cannot write {output}: {reason}\n")


def test_write_opml_escapes_what_it_must() -> None:
    config = load_rules_text(
        f'version: 1\ndefaults:\n  channel: "{CHANNEL}"\nfeeds:\n'
        '  - {name: "a&b <x>", url: "https://e.org/?a=1&b=2", tags: [one, two]}\n'
    )
    text = write_opml(config.feeds)
    [feed] = read_opml(text.encode())
    assert feed.url == "https://e.org/?a=1&b=2" and feed.tags == ("one", "two") and feed.title == "a&b <x>"


LONG = "a-very-long-feed-name-that-goes-well-beyond-forty-eight-chars-xy"  # 64 characters, the most


def test_export_then_import_gives_back_long_names_and_tag_paths() -> None:
    assert len(LONG) == 64
    config = load_rules_text(
        f'version: 1\ndefaults:\n  channel: "{CHANNEL}"\nfeeds:\n'
        f"  - {{name: {LONG}, url: https://e.org/1, tags: [a/b, syria, news/middle-east]}}\n"
        f'  - {{name: "{LONG[:58]} (EU)", url: https://e.org/2, tags: [/Top/Big News/]}}\n'
    )
    feeds = read_opml(write_opml(config.feeds).encode())
    assert (
        [(f.name, f.tags) for f in feeds]
        == [
            (LONG, ("a/b", "syria", "news/middle-east")),  # as they were: slugs already
            (LONG[:58] + "-eu", ("top/big-news",)),
        ]
    )


async def test_import_names_stay_valid_names_when_made_unique(tmp_path: Path) -> None:
    rules = write_rules(
        tmp_path / "keywords.yaml",
        f'version: 1\ndefaults:\n  channel: "{CHANNEL}"\nfeeds:\n  - name: {LONG}\n    url: https://e.org/1\n',
    )
    (tmp_path / "subs.opml").write_text(
        f'<opml version="2.0"><body><outline text="{LONG}" xmlUrl="https://e.org/2"/>'
        f'<outline text="{LONG}" xmlUrl="https://e.org/3"/></body></opml>',
        encoding="utf-8",
    )
    code, _, err = await run_cli(
        NEWSHOUND, "feeds", "import", "subs.opml", env=env_for(tmp_path), cwd=tmp_path
    )
    assert code == 0, err
    assert [f.name for f in load_rules(rules).feeds] == [
        LONG,
        "a-very-long-feed-name-that-goes-well-beyond-forty-eight-chars-2",
        "a-very-long-feed-name-that-goes-well-beyond-forty-eight-chars-3",
    ]


def load_rules_text(text: str):  # type: ignore[no-untyped-def]
    from bot.rules.load import parse_rules

    return parse_rules(text)


def feeds_file(path: Path, *names: str) -> Path:
    feeds = "".join(f"  - {{name: {n}, url: 'https://e.org/{n}'}}\n" for n in names)
    return write_rules(path, f'version: 1\ndefaults:\n  channel: "{CHANNEL}"\nfeeds:\n{feeds}')


async def test_list_and_resume_from_the_command_line(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    feeds_file(tmp_path / "keywords.yaml", "gone", "fine", "flaky")
    store = Store(tmp_path / "nh.db")
    try:
        pairs = [("gone", "https://e.org/gone"), ("fine", "https://e.org/fine"), ("flaky", "https://e.org/f")]
        store.sync_feeds(pairs, now=0.0)
        store.record_failure("gone", 10.0, 20.0, "HTTP 410 Gone", 410, pause=True)
        soon = time.time() + 600
        store.record_poll(PollRecord(feed="flaky", at=10.0, next_poll_at=soon, poll_interval=300.0))
        store.record_failure("flaky", 20.0, soon, "HTTP 503 Service Unavailable", 503)
    finally:
        store.close()
    code, out, _ = await run_cli(NEWSHOUND, "feeds", env=env, cwd=tmp_path)
    assert code == 0
    assert "gone: paused\n  last error (1 failure(s) in a row): HTTP 410 Gone" in out
    assert "fine: new, due now" in out
    # A failing feed's next poll is its backoff: when, not its interval, as the README says.
    assert "flaky: degraded, next in 9m" in out or "flaky: degraded, next in 10m" in out, out

    code, out, _ = await run_cli(NEWSHOUND, "feeds", "resume", "gone", env=env, cwd=tmp_path)
    assert code == 0 and out.startswith("gone resumed")
    code, _, err = await run_cli(NEWSHOUND, "feeds", "resume", "nope", env=env, cwd=tmp_path)
    assert code == 2 and "no feed named 'nope'" in err
    store = Store(tmp_path / "nh.db")
    try:
        state = store.feed("gone")
        audit = store.recent_audit(1)[0]
    finally:
        store.close()
    assert state is not None and state.status == "new" and state.paused_at is None
    assert (audit["actor"], audit["action"], audit["target"]) == ("cli", "feed.resume", "gone")


async def test_resume_of_a_feed_no_longer_in_keywords_yaml_says_so(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    rules = feeds_file(tmp_path / "keywords.yaml", "fine")  # "gone" was removed from the file
    store = Store(tmp_path / "nh.db")
    try:
        store.sync_feeds([("gone", "https://e.org/gone"), ("fine", "https://e.org/fine")], now=0.0)
        store.record_failure("gone", 10.0, 20.0, "HTTP 410 Gone", 410, pause=True)
    finally:
        store.close()
    code, out, err = await run_cli(NEWSHOUND, "feeds", "resume", "gone", env=env, cwd=tmp_path)
    assert (code, out) == (2, "")  # as for a feed it never knew: nothing to resume
    assert err == (
        f"newshound feeds resume: feed 'gone' is not in {rules}, so it is not polled; "
        "add it back there to watch it again\n"
    )
    store = Store(tmp_path / "nh.db")
    try:
        state = store.feed("gone")
        audit = store.recent_audit(1)
    finally:
        store.close()
    assert state is not None and state.status == "paused" and audit == []


async def test_check_says_what_a_url_is(feed_host: FeedHost, tmp_path: Path) -> None:
    feed_host.set(
        "/feed.xml", rss([{"title": "Tartus port reopens", "link": "https://n.example/1"}], title="Wire")
    )
    feed_host.set(
        "/page",
        b'<html><head><link rel="alternate" type="application/atom+xml" href="/atom.xml" title="Atom">'
        b"</head></html>",
        content_type="text/html",
    )
    env = env_for(tmp_path)
    code, out, _ = await run_cli(
        NEWSHOUND, "feeds", "check", feed_host.url("/feed.xml"), env=env, cwd=tmp_path
    )
    assert code == 0 and out.splitlines()[:2] == ["Wire — RSS 2.0, 1 item(s)", "  · Tartus port reopens"]
    code, out, _ = await run_cli(NEWSHOUND, "feeds", "check", feed_host.url("/page"), env=env, cwd=tmp_path)
    assert code == 1
    assert out.splitlines() == [
        f"{feed_host.url('/page')} is not a feed Newshound can read: "
        "the URL returned an HTML page, not a feed",
        "The page offers these feeds instead:",
        f"  {feed_host.url('/atom.xml')} (Atom: Atom)",
    ]


async def test_describe_feed_is_guarded_like_every_fetch(feed_host: FeedHost) -> None:
    feed_host.set("/feed.xml", rss([]))
    async with Fetcher(reach=Reach()) as fetcher:
        refused = await describe_feed(feed_host.url("/feed.xml"), fetcher=fetcher)
    assert not refused.ok and "127.0.0.1 is a loopback address" in (refused.error or "")
    assert feed_host.requests == []
    async with Fetcher(reach=Reach(private=True)) as fetcher:
        empty = await describe_feed(feed_host.url("/feed.xml"), fetcher=fetcher)
    assert empty.ok and empty.items == 0 and empty.format == "RSS 2.0" and empty.title == "Test feed"


async def test_check_warns_about_fast_polling_and_private_feed_urls(tmp_path: Path) -> None:
    write_rules(
        tmp_path / "keywords.yaml",
        f"""
        version: 1
        defaults:
          channel: "{CHANNEL}"
        feeds:
          - {{name: quick, url: "https://example.org/rss", interval: 15s}}
          - {{name: metadata, url: "http://169.254.169.254/latest/"}}
        rules:
          - {{name: r, keywords: [Tartus]}}
        """,
    )
    env = {**env_for(tmp_path), "NEWSHOUND_ALLOW_PRIVATE_FEEDS": "0"}
    code, out, _ = await run_cli(NEWSHOUND, "check", env=env, cwd=tmp_path)
    assert code == 0
    assert (
        "warning: feed quick is polled every 15s (its own interval), more often than once a minute: "
        "many publishers rate-limit or block that"
    ) in out
    assert (
        "warning: feed metadata will not be fetched: refused: 169.254.169.254 is a link-local address" in out
    )
