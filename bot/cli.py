"""The ``newshound`` command.

Exit codes: 0 success, 1 the rules file has problems (or, for ``feeds``, the file or URL is not usable),
2 bad settings or usage (a database that cannot be opened too, or, for ``run`` and ``once``, that another
``run`` or ``once`` is using), 3 ``test-rule``: no rule fires.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import __version__
from bot.config import Settings, SettingsError, load_settings
from bot.rules.durations import format_duration
from bot.rules.load import RulesError, load_rules
from bot.rules.model import Config

if TYPE_CHECKING:
    from bot.app import App
    from bot.deliver.discord.runtime import DiscordRuntime

log = logging.getLogger("newshound")

EXIT_OK, EXIT_RULES, EXIT_USAGE, EXIT_NO_MATCH = 0, 1, 2, 3
TEST_FIELDS = ("summary", "content", "link", "author", "source")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newshound",
        description="Watch news feeds for the words your team cares about and alert Discord channels.",
    )
    parser.add_argument("--version", action="version", version=f"newshound {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser(
        "run",
        help="poll feeds on schedule and deliver alerts until stopped (to Discord with a token, else here)",
    )
    sub.add_parser("once", help="poll every feed once, deliver what matched, exit")
    check = sub.add_parser("check", help="validate keywords.yaml and summarise it")
    check.add_argument("file", nargs="?", type=Path, help="rules file (default: NEWSHOUND_KEYWORDS)")
    test = sub.add_parser(
        "test-rule",
        help="show which rules fire on some text and why, matched words marked (exit 0 fires, 3 none)",
    )
    test.add_argument("text", nargs="?", help="the item's title ('-' reads it from standard input)")
    for name in TEST_FIELDS:
        test.add_argument(f"--{name}", default="", metavar="TEXT", help=f"the item's {name}")
    test.add_argument("--tag", action="append", default=[], help="an item tag (repeat for more)")
    test.add_argument("--rules", type=Path, metavar="FILE", help="rules file (default: NEWSHOUND_KEYWORDS)")
    test.add_argument("--feed", metavar="NAME", help="judge the item as coming from this feed")
    test.add_argument("--all", action="store_true", help="list every rule with the reason it did not fire")
    test.add_argument(
        "--mark",
        choices=("ansi", "stars", "brackets", "none"),
        help="how matched words are marked (default: bold colour on a terminal, else **word**)",
    )
    feeds = sub.add_parser("feeds", help="feed health, OPML import/export, resume a paused feed, check a URL")
    fsub = feeds.add_subparsers(dest="feeds_command", metavar="ACTION")
    fsub.add_parser("list", help="every feed's health: status, interval, last error (the default)")
    imp = fsub.add_parser("import", help="add the feeds of an OPML file to keywords.yaml (comments kept)")
    imp.add_argument("opml", type=Path, help="the OPML file")
    imp.add_argument("--dry-run", action="store_true", help="show what would be added, change nothing")
    exp = fsub.add_parser("export", help="print keywords.yaml's feeds as OPML")
    exp.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of stdout")
    for p in (imp, exp):
        p.add_argument("--rules", type=Path, metavar="FILE", help="rules file (default: NEWSHOUND_KEYWORDS)")
    res = fsub.add_parser("resume", help="poll a paused feed again")
    res.add_argument("name", help="the feed's name")
    chk = fsub.add_parser("check", help="fetch a URL once and say whether it is a feed (and which it offers)")
    chk.add_argument("url", help="the URL to try")
    prune = sub.add_parser(
        "prune",
        help="prune items older than NEWSHOUND_RETENTION_DAYS now (the bot does it hourly by itself)",
    )
    prune.add_argument(
        "--days", type=_days, metavar="N", help="keep N days in full instead of NEWSHOUND_RETENTION_DAYS"
    )
    prune.add_argument(
        "--vacuum", action="store_true", help="then shrink the database file (best with the bot stopped)"
    )
    return parser


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    if not 0 < value <= 36500:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 36500 days")
    return value


def commands() -> list[str]:
    """Every subcommand name (the docs test checks each is documented in README.md)."""
    parser = build_parser()
    for action in parser._actions:  # argparse keeps subparsers here
        if isinstance(action, argparse._SubParsersAction):
            return sorted(action.choices)
    return []


def _setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=settings.log_level_number,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
        force=True,
    )
    for noisy in ("apscheduler", "discord.gateway", "discord.client"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, settings.log_level_number))


def _print_problems(exc: RulesError) -> None:
    for p in exc.problems:
        print(p, file=sys.stderr)
    n = len(exc.problems)
    print(f"{n} problem{'s' if n != 1 else ''} found", file=sys.stderr)


def summarise_config(config: Config) -> list[str]:
    d = config.defaults
    interval = "auto" if d.interval is None else format_duration(d.interval)
    lines = [
        f"{config.path}: OK — {len(config.feeds)} feed(s), {len(config.rules)} rule(s)",
        f"defaults: channel {d.channel or '-'}, interval {interval}, backfill {format_duration(d.backfill)}, "
        f"max_age {format_duration(d.max_age)}",
    ]
    for f in config.feeds:
        iv = config.interval_for(f)
        tags = f" [{', '.join(f.tags)}]" if f.tags else ""
        lines.append(f"  feed {f.name}: {f.url} every {'auto' if iv is None else format_duration(iv)}{tags}")
    for r in config.rules:
        where = "webhook" if r.webhook else (config.channel_for(r) or "-")
        state = "" if r.enabled else " (disabled)"
        terms = len(r.keywords) + len(r.regex)
        lines.append(f"  rule {r.name}: {terms} term(s), severity {r.severity} → {where}{state}")
    return lines


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cadence import interval_warnings
    from bot.fetch.guard import BlockedAddress, check_url

    config = load_rules(args.file or settings.keywords)
    print("\n".join(summarise_config(config)))
    for warning in interval_warnings(config):
        print(f"warning: {warning}")
    for feed in config.feeds:
        try:
            check_url(feed.url, reach=settings.feed_reach)
        except BlockedAddress as exc:
            print(f"warning: feed {feed.name} will not be fetched: {exc}")
    return EXIT_OK


# -- newshound feeds … ----------------------------------------------------------------------------------


def cmd_feeds(args: argparse.Namespace, settings: Settings) -> int:
    action = args.feeds_command or "list"
    handler = {
        "list": _opens_store(_feeds_list),
        "import": _feeds_import,
        "export": _feeds_export,
        "resume": _opens_store(_feeds_resume),
        "check": _feeds_check,
    }[action]
    return handler(args, settings)


Handler = Callable[[argparse.Namespace, Settings], int]


def _opens_store(handler: Handler) -> Handler:
    """For the commands that open the database: one that cannot be opened (a directory, a folder that
    cannot be written, not a database, damaged) stops the command with one line, exit 2."""

    def run(args: argparse.Namespace, settings: Settings) -> int:
        try:
            return handler(args, settings)
        except Exception as exc:
            from bot.store import StoreOpenError  # here, not first: `once` starts its parse workers first

            if not isinstance(exc, StoreOpenError):
                raise
            print(f"newshound: cannot open NEWSHOUND_DATABASE={exc.path}: {exc.reason}", file=sys.stderr)
            return EXIT_USAGE

    return run


def _open_store(settings: Settings):  # type: ignore[no-untyped-def]
    from bot.store import Store

    if not Path(settings.database).exists():
        print(
            f"newshound: no database at {settings.database} yet (run `newshound once` first)",
            file=sys.stderr,
        )
        return None
    return Store(settings.database)


def _feeds_list(_args: argparse.Namespace, settings: Settings) -> int:
    import time

    store = _open_store(settings)
    if store is None:
        return EXIT_USAGE
    try:
        feeds = store.feeds()
    finally:
        store.close()
    now = time.time()
    for f in feeds:
        # A failing feed's next poll is its backoff, not its interval: only "next in" is said for it.
        every = f" every {format_duration(f.poll_interval)}" if f.poll_interval and f.status == "ok" else ""
        due = f.next_poll_at - now if f.next_poll_at else 0.0
        nxt = (
            "" if f.status == "paused" else (f", next in {format_duration(due)}" if due > 0 else ", due now")
        )
        print(f"{f.name}: {f.status}{every}{nxt}")
        if f.last_error:
            fails = f" ({f.consecutive_failures} failure(s) in a row)" if f.consecutive_failures else ""
            print(f"  last error{fails}: {f.last_error}")
        elif f.last_warning:
            print(f"  warning: {f.last_warning}")
    if not feeds:
        print("no feeds yet")
    return EXIT_OK


def cmd_prune(args: argparse.Namespace, settings: Settings) -> int:
    import time
    from datetime import UTC, datetime

    from bot.store import VacuumError

    days = args.days if args.days is not None else settings.retention_days
    store = _open_store(settings)
    if store is None:
        return EXIT_USAGE
    try:
        now = time.time()
        if days:
            keep = days * 86400.0
            total = store.prune_all(now, keep)
            cutoff = datetime.fromtimestamp(now - keep, UTC).strftime("%Y-%m-%d %H:%M UTC")
            print(
                f"pruned {total.items} item(s) seen before {cutoff} ({days:g} days): their text and rule "
                f"details dropped, their headline, link, verdict and alerts kept; "
                f"{total.alert_bodies} sent alert message(s) and {total.alert_keys} expired duplicate "
                "key(s) dropped"
            )
            store.audit(
                "cli", "prune", settings.database.name, at=now, detail=f"{days:g} days: {total.items} item(s)"
            )
        else:
            print("retention is off (NEWSHOUND_RETENTION_DAYS=0): nothing pruned")
        if args.vacuum:
            try:
                before, after = store.vacuum()
            except VacuumError as exc:
                print(f"newshound prune: {exc}", file=sys.stderr)
                return EXIT_USAGE
            print(f"database file: {before / 1048576:.1f} MB → {after / 1048576:.1f} MB")
    finally:
        store.close()
    return EXIT_OK


def _feeds_resume(args: argparse.Namespace, settings: Settings) -> int:
    import time

    store = _open_store(settings)
    if store is None:
        return EXIT_USAGE
    try:
        before = store.feed(args.name)
        if before is None:
            print(f"newshound feeds resume: no feed named {args.name!r}", file=sys.stderr)
            return EXIT_USAGE
        if not _in_rules(args.name, settings):
            print(
                f"newshound feeds resume: feed {args.name!r} is not in {settings.keywords}, so it is not "
                "polled; add it back there to watch it again",
                file=sys.stderr,
            )
            return EXIT_USAGE
        now = time.time()
        after = store.resume_feed(args.name, now)
        store.audit(
            "cli", "feed.resume", args.name, at=now, before=before.status, after=after and after.status
        )
    finally:
        store.close()
    if before.status != "paused":
        print(f"{args.name} was not paused ({before.status}); it will be polled at the next chance")
    else:
        print(f"{args.name} resumed: it will be polled at the next chance (`newshound run` or `once`)")
    return EXIT_OK


def _in_rules(name: str, settings: Settings) -> bool:
    """Whether keywords.yaml names feed ``name`` (taken as yes when the file cannot be read: the bot
    keeps the rules it had then)."""
    try:
        return load_rules(settings.keywords).feed(name) is not None
    except RulesError:
        return True


def _feeds_import(args: argparse.Namespace, settings: Settings) -> int:
    from bot.parse.opml import OpmlError, read_opml, unique_name
    from bot.rules.load import parse_rules
    from bot.rules.writer import WriteError, add_feeds, read_snapshot

    path = args.rules or settings.keywords
    config = load_rules(path)
    try:
        found = read_opml(args.opml.read_bytes())
    except OSError as exc:
        print(f"newshound feeds import: cannot read {args.opml}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_RULES
    except OpmlError as exc:
        print(f"{args.opml}: {exc}", file=sys.stderr)
        return EXIT_RULES
    try:
        # What the names and "already there" are decided against; a feed added to the file by hand
        # before the write is a conflict (nothing written), never a duplicate.
        base = read_snapshot(path)
        config = parse_rules(base.text, str(path))
    except (WriteError, UnicodeDecodeError):
        base = None
    by_url = {f.url: f.name for f in config.feeds}
    names = {f.name for f in config.feeds}
    already = 0
    new: list[tuple[str, str, tuple[str, ...]]] = []
    for feed in found:
        if feed.url in by_url:
            print(f"  = {feed.url} is already watched as {by_url[feed.url]}")
            already += 1
            continue
        name = unique_name(feed.name, names)
        names.add(name)
        by_url[feed.url] = name
        new.append((name, feed.url, feed.tags))
    failed: set[str] = set()
    if not args.dry_run and new:
        entries: list[dict[str, object]] = [
            {"name": name, "url": url, **({"tags": list(tags)} if tags else {})} for name, url, tags in new
        ]
        try:
            batch = add_feeds(path, entries, base=base)
        except WriteError as exc:
            print(f"newshound feeds import: nothing added to {path}: {exc}", file=sys.stderr)
            return EXIT_RULES
        for skipped in batch.skipped:
            print(f"  ! {skipped.item['url']}: {skipped.error}", file=sys.stderr)
            failed.add(str(skipped.item["name"]))
    for name, url, tags in new:
        if name not in failed:
            print(f"  + {name}: {url}" + (f" [{', '.join(tags)}]" if tags else ""))
    verb = "would add" if args.dry_run else "added"
    added = len(new) - len(failed)
    print(
        f"{args.opml}: {len(found)} feed(s); {verb} {added} to {path}, {already} already there"
        + (f", {len(failed)} failed" if failed else "")
    )
    return EXIT_RULES if failed else EXIT_OK


def _feeds_export(args: argparse.Namespace, settings: Settings) -> int:
    from bot.parse.opml import write_opml

    config = load_rules(args.rules or settings.keywords)
    text = write_opml(config.feeds)
    if args.output:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            print(
                f"newshound feeds export: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr
            )
            return EXIT_RULES
        print(f"wrote {len(config.feeds)} feed(s) to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _feeds_check(args: argparse.Namespace, settings: Settings) -> int:
    from bot.fetch import Fetcher
    from bot.parse.pool import ParsePool
    from bot.probe import describe_feed

    async def check() -> int:
        pool = ParsePool(1)
        try:
            async with Fetcher(
                timeout=settings.fetch_timeout,
                max_bytes=settings.max_body_bytes,
                reach=settings.feed_reach,
            ) as fetcher:
                description = await describe_feed(args.url, fetcher=fetcher, parse=pool.parse)
        finally:
            pool.close()
        print("\n".join(description.lines()))
        return EXIT_OK if description.ok else EXIT_RULES

    return asyncio.run(check())


def cmd_test_rule(args: argparse.Namespace, settings: Settings) -> int:
    from bot.match import Matcher
    from bot.match.explain import MARKS, explain
    from bot.model import Entry
    from bot.parse.normalise import html_to_text

    title = sys.stdin.read() if args.text == "-" else (args.text or "")
    fields = {name: getattr(args, name) for name in TEST_FIELDS}
    if not title.strip() and not any(v.strip() for v in fields.values()) and not args.tag:
        print('newshound test-rule: give some text, e.g. newshound test-rule "Tartus port"', file=sys.stderr)
        return EXIT_USAGE
    config = load_rules(args.rules or settings.keywords)
    feed = None
    if args.feed:
        feed = config.feed(args.feed)
        if feed is None:
            names = ", ".join(f.name for f in config.feeds) or "none"
            print(f"newshound test-rule: no feed named {args.feed!r} (feeds: {names})", file=sys.stderr)
            return EXIT_USAGE
    # Matching sees what the parse stage would hand on: HTML stripped, entities decoded.
    entry = Entry(
        key="test-rule",
        title=html_to_text(title),
        summary=html_to_text(fields["summary"]),
        content=html_to_text(fields["content"]),
        link=fields["link"].strip(),
        author=html_to_text(fields["author"]),
        source=html_to_text(fields["source"]),
        tags=tuple(html_to_text(t) for t in args.tag if t.strip()),
    )
    outcomes = Matcher(config).match(entry, feed)
    style = args.mark or ("ansi" if sys.stdout.isatty() and not os.environ.get("NO_COLOR") else "stars")
    print("\n".join(explain(entry, outcomes, config, mark=MARKS[style], verbose=args.all)))
    return EXIT_OK if any(o.fired for o in outcomes) else EXIT_NO_MATCH


#: How long ``once`` waits for the gateway (so the channel check runs) before delivering anyway.
ONCE_READY_WAIT = 15.0


def _uses_webhooks(config: Config) -> bool:
    return bool(
        config.defaults.webhook
        or any(r.webhook for r in config.rules)
        or any(f.webhook for f in config.feeds)
    )


def make_delivery(settings: Settings, rules: Callable[[], Config]) -> DiscordRuntime | None:
    """The Discord side of this process, or None for console-only delivery (no token and no webhooks).
    ``rules`` returns the rules in force (the on-ready channel check reads it)."""
    if not settings.token and not _uses_webhooks(rules()):
        return None
    from bot.deliver.console import ConsoleSink
    from bot.deliver.discord.checks import channel_uses
    from bot.deliver.discord.runtime import DiscordRuntime

    return DiscordRuntime(
        token=settings.token,
        api_base=settings.discord_api_base,
        gateway_url=settings.discord_gateway_url,
        admin_channel=settings.admin_channel,
        send_timeout=settings.send_timeout,
        channel_uses=lambda: channel_uses(rules(), settings.admin_channel),
        fallback=None if settings.token else ConsoleSink(),
    )


def _build(settings: Settings) -> tuple[App, DiscordRuntime | None]:
    from bot.app import App

    loaded = load_rules(settings.keywords)
    apps: list[App] = []

    def rules() -> Config:
        app = apps[0] if apps else None
        return app.ruleset().config if app is not None and app.has_rules else loaded

    runtime = make_delivery(settings, rules)
    app = App(settings, sink=runtime.sink if runtime is not None else None)
    apps.append(app)
    if runtime is not None:
        runtime.queue_notices_with(app.queue_notice)  # channel-check notices wait out an admin outage
    return app, runtime


async def _once(settings: Settings) -> int:
    app, runtime = _build(settings)
    try:
        await app.start()
        if runtime is not None:
            await runtime.start()
            if settings.token:
                if await runtime.wait_logged_in(min(ONCE_READY_WAIT, 3 * settings.send_timeout)):
                    await runtime.wait_ready(ONCE_READY_WAIT)
                elif runtime.login_error:
                    print(f"newshound: {runtime.login_error}", file=sys.stderr)
                    return EXIT_USAGE
                else:
                    runtime.stop_waiting_for_login()
                    print("newshound: Discord is unreachable; alerts wait in the outbox", file=sys.stderr)
        summary = await app.once()
    finally:
        if runtime is not None:
            await runtime.close()
        await app.close()
    for line in summary.lines():
        print(line, file=sys.stderr)
    return EXIT_OK


async def _run(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    app, runtime = _build(settings)
    watcher: asyncio.Task[None] | None = None
    try:
        await app.start()
        if runtime is not None:
            runtime.on_ready(app.worker.recover)
            app.on_rules_reloaded.append(runtime.recheck_channels)
            if runtime.client is not None:
                from bot.deliver.discord.slash import install

                install(runtime.client, app.command_services(), admin_role=settings.admin_role)
            await runtime.start()

            async def stop_on_rejected_token(rt: DiscordRuntime) -> None:
                await rt.rejected.wait()  # at start-up, or revoked later (gateway close 4004)
                stop.set()

            watcher = asyncio.create_task(stop_on_rejected_token(runtime))
        await app.run(stop)
    finally:
        if watcher is not None:
            watcher.cancel()
        if runtime is not None:
            await runtime.close()
        await app.close()
    if runtime is not None and runtime.login_error:
        print(f"newshound: {runtime.login_error}", file=sys.stderr)
        return EXIT_USAGE
    log.info("stopped")
    return EXIT_OK


def _async(fn: Callable[[Settings], Coroutine[Any, Any, int]]) -> Handler:
    """``run`` and ``once``: they hold the database's lock while they run, so a second one on the same
    database stops at once (exit 2) instead of polling every feed and sending every alert again."""

    def run(_args: argparse.Namespace, settings: Settings) -> int:
        from bot.parse.pool import start_forkserver

        # The parse workers' forkserver imports the parse stage and the matcher on the other core while
        # this process imports the rest and loads the rules.
        start_forkserver(("bot.match",))
        from bot.store import DatabaseInUse, hold_database

        try:
            lock = hold_database(settings.database)
        except DatabaseInUse as exc:
            print(f"newshound: {exc}", file=sys.stderr)
            return EXIT_USAGE
        with lock:
            return asyncio.run(fn(settings))

    return run


HANDLERS: dict[str, Handler] = {
    "check": cmd_check,
    "feeds": cmd_feeds,
    "test-rule": cmd_test_rule,
    "prune": _opens_store(cmd_prune),
    "once": _opens_store(_async(_once)),
    "run": _opens_store(_async(_run)),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"newshound: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _setup_logging(settings)
    try:
        code = HANDLERS[args.command](args, settings)
    except RulesError as exc:  # every command that reads keywords.yaml reports its problems the same way
        _print_problems(exc)
        return EXIT_RULES
    except SettingsError as exc:
        print(f"newshound: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK
    if args.command == "once" and argv is None:
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """End the process without tearing the interpreter down object by object (~60 ms for a bot that
    loaded aiohttp, pydantic and SQLite), once everything is closed: ``once`` has closed the store, the
    fetcher, the parse pool and Discord, and only the main thread is left. Exit handlers still run and
    output is flushed."""
    if threading.active_count() != 1:
        return
    logging.shutdown()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
