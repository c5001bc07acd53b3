"""The ``newshound`` command as a user runs it: a real process, feeds on a real local server."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import CHANNEL, write_rules
from tests.fakes.feed_host import FeedHost, rss

NEWSHOUND = str(Path(sys.executable).parent / "newshound")
NOW = datetime.now(UTC)


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSHOUND_", "DISCORD_"))}
    env.update(
        NEWSHOUND_DATABASE=str(tmp_path / "nh.db"),
        NEWSHOUND_KEYWORDS=str(tmp_path / "keywords.yaml"),
        NEWSHOUND_ALLOW_PRIVATE_FEEDS="1",
    )
    env.update(extra)
    return env


async def run_cli(*args: str, env: dict[str, str], cwd: Path, limit: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *args, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), limit)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def starter_rules(path: Path, url: str) -> None:
    write_rules(
        path,
        f"""
        version: 1
        defaults:
          channel: "{CHANNEL}"
          interval: 1s
        feeds:
          - name: levant-wire
            url: {url}
        rules:
          - name: bases
            keywords: [Tartus, Khmeimim]
            all: [Russia]
            exclude: [festival]
        """,
    )


def news(n: int, title: str) -> dict[str, object]:
    return {
        "title": title,
        "link": f"https://news.example/{n}",
        "guid": f"g{n}",
        "published": NOW - timedelta(hours=1),
    }


async def test_once_prints_alerts_and_exits_zero(feed_host: FeedHost, tmp_path: Path) -> None:
    feed_host.set("/f.xml", rss([news(1, "Russia keeps ships at Tartus"), news(2, "Tartus festival")]))
    starter_rules(tmp_path / "keywords.yaml", feed_host.url("/f.xml"))
    code, out, err = await run_cli(NEWSHOUND, "once", env=env_for(tmp_path), cwd=tmp_path)
    assert code == 0, err
    assert "Russia keeps ships at Tartus" in out and "festival" not in out
    assert "polled 1 feed(s): 1 ok, 0 failed; 2 new item(s), 1 alert(s) queued; delivered 1" in err
    # python -m bot is the same command; a second run alerts nothing twice
    code, out, err = await run_cli(sys.executable, "-m", "bot", "once", env=env_for(tmp_path), cwd=tmp_path)
    assert code == 0 and out == ""


async def test_once_exits_zero_when_feeds_fail(tmp_path: Path) -> None:
    starter_rules(tmp_path / "keywords.yaml", "http://127.0.0.1:9/closed.xml")
    code, _out, err = await run_cli(NEWSHOUND, "once", env=env_for(tmp_path), cwd=tmp_path)
    assert code == 0
    assert "levant-wire: cannot connect to 127.0.0.1" in err


async def test_check_reports_every_problem_with_line_numbers(tmp_path: Path) -> None:
    write_rules(
        tmp_path / "keywords.yaml",
        """
        version: 1
        defaults:
          channel: "12345"
          intervall: 5m
        feeds:
          - name: a
            url: ftp://example.org/rss
        rules:
          - name: bases
            keywords: []
            severity: urgent
        """,
    )
    code, out, err = await run_cli(NEWSHOUND, "check", env=env_for(tmp_path), cwd=tmp_path)
    assert code == 1
    path = str(tmp_path / "keywords.yaml")
    lines = err.strip().splitlines()
    assert lines == [
        f'{path}:3:12: defaults.channel must be a Discord id (17–20 digits, e.g. "123456789012345678"), '
        "not '12345'",
        f"{path}:4:3: unknown key in defaults 'intervall'; did you mean 'interval'?",
        f"{path}:7:10: feeds[0] url must be an http:// or https:// URL, not 'ftp://example.org/rss'",
        f"{path}:10:15: rule 'bases' keywords is an empty list; remove it or add at least one entry",
        f"{path}:11:15: rule 'bases' severity must be one of low, normal, high, critical, not 'urgent'",
        "5 problems found",
    ]
    assert out == ""


async def test_check_on_broken_yaml_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "keywords.yaml").write_text("version: 1\nrules:\n  - name: [unclosed\n    keywords: x\n")
    code, _out, err = await run_cli(NEWSHOUND, "check", env=env_for(tmp_path), cwd=tmp_path)
    assert code == 1
    assert f"{tmp_path / 'keywords.yaml'}:4:" in err and "YAML syntax" in err


async def test_check_ok_prints_summary(tmp_path: Path) -> None:
    starter_rules(tmp_path / "keywords.yaml", "https://example.org/rss")
    code, out, _err = await run_cli(NEWSHOUND, "check", env=env_for(tmp_path), cwd=tmp_path)
    assert code == 0
    assert "OK — 1 feed(s), 1 rule(s)" in out
    assert "feed levant-wire: https://example.org/rss every 1s" in out


async def test_once_with_broken_rules_exits_one(tmp_path: Path) -> None:
    (tmp_path / "keywords.yaml").write_text("version: 2\n")
    code, _out, err = await run_cli(NEWSHOUND, "once", env=env_for(tmp_path), cwd=tmp_path)
    assert code == 1
    assert ":1:10: unsupported version 2" in err


async def test_invalid_setting_stops_with_one_line_and_exit_two(tmp_path: Path) -> None:
    starter_rules(tmp_path / "keywords.yaml", "https://example.org/rss")
    env = env_for(tmp_path, NEWSHOUND_LOG_LEVEL="LOUD", DISCORD_TOKEN="secret-token-value")
    code, out, err = await run_cli(NEWSHOUND, "once", env=env, cwd=tmp_path)
    assert code == 2
    levels = "CRITICAL, ERROR, WARNING, INFO, DEBUG"
    assert err == f"newshound: invalid setting NEWSHOUND_LOG_LEVEL='LOUD': must be one of {levels}\n"
    assert "secret-token-value" not in out + err


async def test_dotenv_in_working_directory_is_read(tmp_path: Path) -> None:
    starter_rules(tmp_path / "keywords.yaml", "https://example.org/rss")
    (tmp_path / ".env").write_text("NEWSHOUND_ADMIN_CHANNEL=not-a-number\n")
    env = env_for(tmp_path)
    code, _out, err = await run_cli(NEWSHOUND, "check", env=env, cwd=tmp_path)
    assert code == 2 and "NEWSHOUND_ADMIN_CHANNEL" in err


async def test_a_dotenv_that_is_not_utf8_stops_with_one_line_naming_it(tmp_path: Path) -> None:
    starter_rules(tmp_path / "keywords.yaml", "https://example.org/rss")
    (tmp_path / ".env").write_bytes(b"NEWSHOUND_ADMIN_ROLE=Caf\xe9\n")  # Latin-1
    code, out, err = await run_cli(NEWSHOUND, "check", env=env_for(tmp_path), cwd=tmp_path)
    assert (code, out) == (2, "")
    assert (
        err == f"newshound: cannot read {tmp_path / '.env'}: it is not UTF-8 text (byte 0xe9 at offset 24)\n"
    )


async def test_run_polls_on_schedule_and_exits_zero_on_sigterm(feed_host: FeedHost, tmp_path: Path) -> None:
    feed_host.set("/f.xml", rss([news(1, "Russia keeps ships at Tartus")]))
    starter_rules(tmp_path / "keywords.yaml", feed_host.url("/f.xml"))
    proc = await asyncio.create_subprocess_exec(
        NEWSHOUND,
        "run",
        env=env_for(tmp_path),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readuntil(b"Russia keeps ships at Tartus"), 20)
        assert b"[NORMAL]" in line
        # interval is 1s: a new item published meanwhile arrives on a later poll without a restart
        feed_host.set(
            "/f.xml", rss([news(2, "Russia leaves Khmeimim"), news(1, "Russia keeps ships at Tartus")])
        )
        await asyncio.wait_for(proc.stdout.readuntil(b"Russia leaves Khmeimim"), 20)
        polls = feed_host.hits("/f.xml")
        assert polls >= 2
    finally:
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rest, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 0, err.decode()
    assert time.monotonic() - started < 10
    assert b"Russia keeps ships at Tartus" not in rest  # never alerted twice


async def test_version_is_the_installed_distributions(tmp_path: Path) -> None:
    """``bot.__version__`` is the one place the version is written; the installed package says the same."""
    from importlib.metadata import version

    code, out, _ = await run_cli(NEWSHOUND, "--version", env=env_for(tmp_path), cwd=tmp_path)
    assert code == 0
    assert out.strip() == f"newshound {version('newshound')}"


async def test_once_says_why_new_items_did_not_alert(feed_host: FeedHost, tmp_path: Path) -> None:
    def item(n: int, title: str, hours_ago: float) -> dict[str, object]:
        return {**news(n, title), "published": NOW - timedelta(hours=hours_ago)}

    feed_host.set(
        "/a.xml",
        rss(
            [
                item(1, "Russia keeps ships at Tartus", 1),
                item(2, "Russia's Tartus festival opens", 1),
                item(3, "Quiet day at the harbour", 2),
                item(4, "Russia left Tartus long ago", 72),  # before the first poll's backfill of 1d
                item(5, "An old story from Khmeimim in Russia", 73),
            ]
        ),
    )
    # the same story under another link in a second feed: its alert is not queued twice
    feed_host.set("/b.xml", rss([{**item(6, "Russia keeps ships at Tartus", 1), "link": "https://b/6"}]))
    write_rules(
        tmp_path / "keywords.yaml",
        f"""
        version: 1
        defaults:
          channel: "{CHANNEL}"
          max_age: 2d
        feeds:
          - name: a
            url: {feed_host.url("/a.xml")}
          - name: b
            url: {feed_host.url("/b.xml")}
        rules:
          - name: bases
            keywords: [Tartus, Khmeimim]
            all: [Russia]
            exclude: [festival]
        """,
    )
    code, _, err = await run_cli(NEWSHOUND, "once", env=env_for(tmp_path), cwd=tmp_path)
    assert code == 0, err
    assert "6 new item(s), 1 alert(s) queued; delivered 1" in err, err  # feed b's item: the same story
    assert (
        "  of the new items: 2 older than `backfill` (1d) on their feed's first poll: recorded, not "
        "alerted; 1 excluded by a rule's `exclude`; 1 matched no rule; 1 alert(s) not queued: the same "
        "story had been sent there already\n"
    ) in err, err
    # later polls: an item older than max_age is recorded, not judged
    feed_host.set("/a.xml", rss([item(7, "Russia at Tartus, three days on", 72)]))
    code, _, err = await run_cli(NEWSHOUND, "once", env=env_for(tmp_path), cwd=tmp_path)
    assert code == 0, err
    assert "1 new item(s), 0 alert(s) queued" in err
    assert "  of the new items: 1 older than `max_age` (2d)\n" in err, err
    # nothing new: no such line
    code, _, err = await run_cli(NEWSHOUND, "once", env=env_for(tmp_path), cwd=tmp_path)
    assert code == 0 and "0 new item(s)" in err and "of the new items" not in err, err


async def test_prune_drops_old_text_keeps_identity_and_can_shrink_the_file(
    feed_host: FeedHost, tmp_path: Path
) -> None:
    env = env_for(tmp_path)
    code, _, err = await run_cli(NEWSHOUND, "prune", env=env, cwd=tmp_path)
    assert code == 2 and "no database at" in err and "run `newshound once` first" in err
    feed_host.set("/f.xml", rss([news(1, "Russia keeps ships at Tartus"), news(2, "Quiet day")]))
    starter_rules(tmp_path / "keywords.yaml", feed_host.url("/f.xml"))
    code, out, err = await run_cli(NEWSHOUND, "once", env=env, cwd=tmp_path)
    assert code == 0 and "Russia keeps ships at Tartus" in out, err
    await asyncio.sleep(1.0)
    # 0.00001 days is 0.864 s: both items are older than that now
    code, out, err = await run_cli(NEWSHOUND, "prune", "--days", "0.00001", "--vacuum", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "pruned 2 item(s) seen before " in out and "1 sent alert message(s)" in out
    assert "database file: " in out and " MB → " in out
    # pruned items are still known: the same feed alerts nothing again
    code, out, err = await run_cli(NEWSHOUND, "once", env=env, cwd=tmp_path)
    assert code == 0 and out == "" and "0 new item(s)" in err
    code, out, _ = await run_cli(
        NEWSHOUND, "prune", env=env_for(tmp_path, NEWSHOUND_RETENTION_DAYS="0"), cwd=tmp_path
    )
    assert code == 0 and out.strip() == "retention is off (NEWSHOUND_RETENTION_DAYS=0): nothing pruned"
    code, _, err = await run_cli(NEWSHOUND, "prune", "--days", "0", env=env, cwd=tmp_path)
    assert code == 2 and "must be more than 0" in err
    code, _, err = await run_cli(
        NEWSHOUND, "once", env=env_for(tmp_path, NEWSHOUND_RETENTION_DAYS="-1"), cwd=tmp_path
    )
    assert code == 2 and "invalid setting NEWSHOUND_RETENTION_DAYS='-1'" in err


def quiet_rules(path: Path) -> None:
    """Valid rules that print no warning (the only stderr is then what the test is about)."""
    write_rules(
        path,
        f"""
        version: 1
        defaults:
          channel: "{CHANNEL}"
          interval: 10m
        feeds:
          - name: levant-wire
            url: http://127.0.0.1:9/closed.xml
        rules:
          - name: bases
            keywords: [Tartus]
        """,
    )


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder in which no file can be created: a read-only one, or for root (whom permissions do not
    stop) sysfs, where nobody can create a file."""
    if os.geteuid() == 0:
        return Path("/sys")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


async def test_a_database_that_cannot_be_opened_stops_every_command_with_one_line(tmp_path: Path) -> None:
    quiet_rules(tmp_path / "keywords.yaml")
    folder = tmp_path / "a-folder"
    folder.mkdir()
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"these are not the bytes of an SQLite database\n" * 200)
    damaged = tmp_path / "damaged.db"
    env = env_for(tmp_path, NEWSHOUND_DATABASE=str(damaged))
    code, _, err = await run_cli(NEWSHOUND, "once", env=env, cwd=tmp_path)
    assert code == 0, err
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    cases = {
        folder: "it is a directory, not a file",
        garbage: "file is not a database",
        damaged: "database disk image is malformed",
        a_file / "nh.db": f"{a_file} is a file, not a folder",
        unwritable_folder(tmp_path) / "newshound-test.db": "permission denied",
    }
    for path, reason in cases.items():
        env = env_for(tmp_path, NEWSHOUND_DATABASE=str(path))
        commands = [["once"], ["run"]]
        if path.exists():  # else `feeds` and `prune` say there is no database yet
            commands += [["feeds"], ["feeds", "resume", "levant-wire"], ["prune"]]
        for command in commands:
            code, out, err = await run_cli(NEWSHOUND, *command, env=env, cwd=tmp_path)
            line = f"newshound: cannot open NEWSHOUND_DATABASE={path}: {reason}\n"
            assert (code, out, err) == (2, "", line), command
    env = env_for(tmp_path, NEWSHOUND_DATABASE="")
    code, _, err = await run_cli(NEWSHOUND, "once", env=env, cwd=tmp_path)
    assert (code, err) == (2, "newshound: invalid setting NEWSHOUND_DATABASE='': must name a file\n")


async def test_a_database_a_newer_newshound_wrote_stops_every_command_with_one_line(tmp_path: Path) -> None:
    import sqlite3

    quiet_rules(tmp_path / "keywords.yaml")
    env = env_for(tmp_path)
    code, _, err = await run_cli(NEWSHOUND, "once", env=env, cwd=tmp_path)
    assert code == 0, err
    db = sqlite3.connect(tmp_path / "nh.db")
    with db:
        db.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('newshound', 'm099_from_the_future', '2027-01-01')"
        )
    db.close()
    line = (
        f"newshound: cannot open NEWSHOUND_DATABASE={tmp_path / 'nh.db'}: the database was written by a "
        "newer Newshound (m099_from_the_future); upgrade Newshound or use another NEWSHOUND_DATABASE\n"
    )
    for command in (["once"], ["run"], ["feeds"], ["feeds", "resume", "levant-wire"], ["prune"]):
        code, out, err = await run_cli(NEWSHOUND, *command, env=env, cwd=tmp_path)
        assert (code, out, err) == (2, "", line), command


async def test_one_run_or_once_at_a_time_per_database(feed_host: FeedHost, tmp_path: Path) -> None:
    """Two pollers on one database would both poll every feed and both send the outbox: the second `run`
    or `once` stops at once, naming the first; the read-only and maintenance commands still work."""
    feed_host.set("/f.xml", rss([news(1, "Russia keeps ships at Tartus")]))
    starter_rules(tmp_path / "keywords.yaml", feed_host.url("/f.xml"))
    env = env_for(tmp_path)
    database = tmp_path / "nh.db"

    async def start_run() -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            NEWSHOUND,
            "run",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stderr is not None
        await asyncio.wait_for(proc.stderr.readuntil(b"newshound running"), 20)
        return proc

    first = await start_run()
    try:
        in_use = (
            f"newshound: another newshound (pid {first.pid}) is already using {database} — stop it first\n"
        )
        for command in ("once", "run"):
            code, out, err = await run_cli(NEWSHOUND, command, env=env, cwd=tmp_path)
            assert (code, out, err) == (2, "", in_use), command
        # The same database through a symbolic link is the same database.
        (tmp_path / "alias.db").symlink_to(database)
        aliased = {**env, "NEWSHOUND_DATABASE": str(tmp_path / "alias.db")}
        code, _, err = await run_cli(NEWSHOUND, "once", env=aliased, cwd=tmp_path)
        assert code == 2 and "is already using" in err, err
        for command in (["feeds"], ["feeds", "resume", "levant-wire"], ["prune"], ["check"]):
            code, _, err = await run_cli(NEWSHOUND, *command, env=env, cwd=tmp_path)
            assert code == 0, (command, err)
        assert first.returncode is None  # still running, untouched
    finally:
        first.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(first.communicate(), 15)
    assert first.returncode == 0, err.decode()
    # stopped: the database is free again
    code, out, err = await run_cli(NEWSHOUND, "once", env=env, cwd=tmp_path)
    assert code == 0 and out == "", err
    # and a bot that dies without cleaning up leaves no lock behind
    crashed = await start_run()
    crashed.kill()
    await crashed.wait()
    feed_host.set("/f.xml", rss([news(2, "Russia leaves Khmeimim"), news(1, "Russia keeps ships at Tartus")]))
    code, out, err = await run_cli(NEWSHOUND, "once", env=env, cwd=tmp_path)
    assert code == 0 and "Russia leaves Khmeimim" in out, err
