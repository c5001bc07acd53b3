"""Commands for admins: edit rules and feeds in keywords.yaml, read the audit log.

Every edit is checked here first (one sentence + an example when an argument is wrong), then written by
``bot.rules.writer`` (only the lines concerned change; validated; atomic; never over a hand edit), put in
force at once (``apply_config``), recorded in the audit log (who, when, before → after) and posted to the
admin channel. Replies are ephemeral. Each command checks the actor is an admin itself, whatever the
Discord layer already checked.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.commands import args
from bot.commands.catalogue import example
from bot.commands.context import BadArgument, CommandError, Context
from bot.commands.reply import COLOUR_ADMIN, Embed, Pager, Reply, pages_of
from bot.commands.text import channel_mention, code, plain, role_mention, when
from bot.markup import escape_markdown as escape
from bot.markup import trim
from bot.rules import writer
from bot.rules.durations import format_duration
from bot.rules.model import SEVERITIES

log = logging.getLogger(__name__)

AUDIT_PAGE = 10
MAX_PAUSE = 366 * 86400.0
MIN_INTERVAL = 60.0
MAX_INTERVAL = 7 * 86400.0


# -- describing a change -----------------------------------------------------------------------------


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def diff_lines(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """``before → after`` as diff lines: ``- key: old`` / ``+ key: new`` for each key that changed."""
    b, a = before or {}, after or {}
    out: list[str] = []
    for key in dict.fromkeys([*b, *a]):
        old, new = b.get(key), a.get(key)
        if old == new:
            continue
        if key in b:
            out.append(f"- {key}: {_show(old)}")
        if key in a:
            out.append(f"+ {key}: {_show(new)}")
    return out


def diff_block(before: dict[str, Any] | None, after: dict[str, Any] | None, limit: int = 1000) -> str:
    body = "\n".join(diff_lines(before, after)) or "(no change)"
    body = trim(body.replace("```", "ˋˋˋ"), limit - 12)
    return f"```diff\n{body}\n```"


def _reason(exc: writer.WriteError) -> str:
    """The writer's reason, with the loader's first problem (without the file:line prefix)."""
    reason = exc.reason.rstrip(".")
    if exc.problems:
        reason += f" ({exc.problems[0].message})"
    return reason


# -- the edit pipeline -------------------------------------------------------------------------------


async def _commit(
    ctx: Context, action: str, target: str, edit: Callable[[Path], writer.Change], detail: str = ""
) -> writer.Change:
    services = ctx.services
    await ctx.defer()
    async with services.edit_lock:
        try:
            change = await asyncio.to_thread(edit, services.keywords)
        except writer.WriteError as exc:
            raise CommandError(f"Nothing was changed: {_reason(exc)}.") from None
        await services.apply_config(change.config)
        at = ctx.now()
        actor = ctx.actor.label
        await services.store.run(
            lambda s: s.audit(
                actor, action, target, at=at, before=change.before, after=change.after, detail=detail
            )
        )
    # Plain text: the admin channel shows notices verbatim.
    stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    notice = (
        f"{ctx.actor.label} ran /{action} on {target} at {stamp}"
        + (f" ({detail})" if detail else "")
        + ":\n"
        + "\n".join(diff_lines(change.before, change.after))
    )
    try:
        await services.notify_admin(trim(notice, 2000))
    except Exception:  # the edit is made and audited; a notice that cannot be posted must not undo that
        log.exception("could not post the audit notice to the admin channel")
    return change


def _done(title: str, change: writer.Change, note: str = "") -> Reply:
    embed = Embed(title=title, colour=COLOUR_ADMIN, description=note)
    embed.add("keywords.yaml", diff_block(change.before, change.after))
    embed.footer = "In force now · recorded in /audit"
    return Reply(embeds=[embed], ephemeral=True)


# -- /rule add, remove, pause, resume ----------------------------------------------------------------


async def rule_add(
    ctx: Context,
    name: str,
    keywords: str,
    all: str | None = None,
    exclude: str | None = None,
    channel: str | None = None,
    severity: str | None = None,
    mention: str | None = None,
) -> Reply:
    ctx.require_admin("/rule add")
    cmd = "rule add"
    config = ctx.config
    rule_name = args.new_name(name, what="rule", taken=[r.name for r in config.rules], command=cmd)
    words = args.term_list(keywords, option="keywords", command=cmd, required=True)
    every = args.term_list(all, option="all", command=cmd, required=False)
    none = args.term_list(exclude, option="exclude", command=cmd, required=False)
    channel_id = args.snowflake(channel, option="channel", what="text channel", command=cmd)
    role = args.snowflake(mention, option="mention", what="role", command=cmd)
    level = (severity or "").strip().lower() or None
    if level is not None and level not in SEVERITIES:
        raise BadArgument(
            f"`severity` must be one of {', '.join(SEVERITIES)}, not {severity!r}", example(cmd)
        )
    if channel_id is not None:
        problem = ctx.channel_problem(channel_id)
        if problem:
            raise BadArgument(
                f"I cannot post in <#{channel_id}>: {problem}; pick another channel", example(cmd)
            )
    if channel_id is None and not (config.defaults.channel or config.defaults.webhook):
        raise BadArgument(
            "keywords.yaml has no `defaults.channel`, so give the rule a `channel`", example(cmd)
        )
    rule: dict[str, Any] = {
        "name": rule_name,
        "keywords": words,
        "all": every,
        "exclude": none,
        "channel": channel_id,
        "severity": level,
        "mention": [role] if role else [],
    }
    rule = {k: v for k, v in rule.items() if v not in (None, [])}  # unset options are left out
    change = await _commit(ctx, cmd, rule_name, lambda p: writer.add_rule(p, rule))
    where = (
        channel_mention(channel_id or config.defaults.channel)
        if (channel_id or config.defaults.channel)
        else "the default webhook"
    )
    note = (
        f"It fires on items polled from now on and posts to {where}"
        + (f", pinging {role_mention(role)}" if role else "")
        + ". Try it on any text with `/rule test`."
    )
    return _done(f"Rule {rule_name} added", change, note)


async def rule_remove(ctx: Context, name: str) -> Reply:
    ctx.require_admin("/rule remove")
    rule = args.rule(ctx, name, command="rule remove")
    change = await _commit(ctx, "rule remove", rule.name, lambda p: writer.remove_rule(p, rule.name))
    return _done(f"Rule {rule.name} removed", change, "It no longer fires. Its past alerts stay searchable.")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def rule_pause(ctx: Context, name: str, duration: str | None = None) -> Reply:
    ctx.require_admin("/rule pause")
    cmd = "rule pause"
    rule = args.rule(ctx, name, command=cmd)
    seconds = args.duration(duration, option="duration", command=cmd)
    if seconds is not None and seconds > MAX_PAUSE:
        raise BadArgument(
            "`duration` can be at most a year; leave it out to pause until resumed", example(cmd)
        )
    if seconds is None:
        changes: dict[str, Any] = {"enabled": False, "paused_until": None}
        note = "It will not fire until `/rule resume`."
        detail = "until resumed"
    else:
        until = ctx.now() + seconds
        changes = {"paused_until": _iso(until), "enabled": None}
        note = f"It will not fire until {when(until, 'f')} ({when(until)})."
        detail = f"for {format_duration(seconds)}"
    change = await _commit(ctx, cmd, rule.name, lambda p: writer.update_rule(p, rule.name, changes), detail)
    return _done(f"Rule {rule.name} paused", change, note)


async def rule_resume(ctx: Context, name: str) -> Reply:
    ctx.require_admin("/rule resume")
    rule = args.rule(ctx, name, command="rule resume")
    paused = not rule.enabled or rule.paused_until is not None
    if not paused:
        raise CommandError(f"Rule {code(rule.name)} is not paused; nothing was changed.")
    changes = {"enabled": None, "paused_until": None}
    change = await _commit(ctx, "rule resume", rule.name, lambda p: writer.update_rule(p, rule.name, changes))
    return _done(f"Rule {rule.name} resumed", change, "It fires again on items polled from now on.")


# -- /feed add, remove -------------------------------------------------------------------------------


async def feed_add(
    ctx: Context, name: str, url: str, interval: str | None = None, tags: str | None = None
) -> Reply:
    ctx.require_admin("/feed add")
    cmd = "feed add"
    config = ctx.config
    address = args.url(url, command=cmd)
    same = next((f for f in config.feeds if f.url == address or f.name == name.strip()), None)
    if same is not None:
        state = await ctx.services.store.run(lambda s: s.feed(same.name))
        if state is not None and state.status == "paused" and same.url == address:
            return await _resume_paused_feed(ctx, same.name, state.last_error or "")
        if same.url == address:
            raise BadArgument(f"Feed {code(same.name)} already polls that URL", example(cmd))
    feed_name = args.new_name(name, what="feed", taken=[f.name for f in config.feeds], command=cmd)
    auto = interval is not None and interval.strip().lower() == "auto"
    seconds = args.duration(interval, option="interval", command=cmd, allow_auto=True)
    if seconds is not None and not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise BadArgument("`interval` must be between 1m and 7d (or `auto`)", example(cmd))
    labels = args.tag_list(tags, command=cmd)
    probe = ctx.services.probe_feed
    title, items = "", 0
    if probe is not None:
        await ctx.defer()
        found = await probe(address)
        if not found.ok:
            if found.advertised:
                listed = "\n".join(
                    f"• {plain(a.title, 80) + ' — ' if a.title else ''}{code(a.url, 500)}"  # verbatim
                    for a in found.advertised
                )
                raise CommandError(
                    f"Nothing was added: {address} is a web page, not a feed. It advertises these feeds; run "
                    f"`/feed add` again with one of them as `url`:\n{listed}"
                )
            raise CommandError(f"Nothing was added: {address} is not a feed I can read — {found.error}.")
        title, items = found.title, found.items
    feed: dict[str, Any] = {
        "name": feed_name,
        "url": address,
        "interval": "auto" if auto else (format_duration(seconds) if seconds else None),
        "tags": labels,
    }
    detail = f"“{title}”, {items} item(s) when added" if title or items else ""
    feed = {k: v for k, v in feed.items() if v not in (None, [])}
    change = await _commit(ctx, cmd, feed_name, lambda p: writer.add_feed(p, feed), detail)
    about = (
        f"“{escape(title)}”, {items} item{'s' if items != 1 else ''} in it now. " if (title or items) else ""
    )
    note = (
        about + "Its first poll, due now, records what is already there without alerting (apart from items "
        "newer than `defaults.backfill`); new items alert from then on."
    )
    return _done(f"Feed {feed_name} added", change, note)


async def _resume_paused_feed(ctx: Context, name: str, last_error: str) -> Reply:
    """``/feed add`` of a feed the bot paused after failing for a week brings it back: it is polled at once
    (keywords.yaml already has it, so nothing is written); recorded in the audit log."""
    services = ctx.services
    at = ctx.now()
    actor = ctx.actor.label
    await services.store.run(lambda s: s.resume_feed(name, at))
    await services.store.run(
        lambda s: s.audit(
            actor,
            "feed resume",
            name,
            at=at,
            before={"status": "paused"},
            after={"status": "polling"},
            detail=last_error,
        )
    )
    try:
        await services.notify_admin(
            f"{actor} resumed feed {name} with /feed add (it had been paused: {last_error})"
        )
    except Exception:
        log.exception("could not post the audit notice to the admin channel")
    embed = Embed(
        title=f"Feed {name} resumed",
        colour=COLOUR_ADMIN,
        description=(
            f"It had been paused after failing for a week ({escape(last_error) or 'no error recorded'}). "
            "It is polled again now; if it still fails, its health in `/feed list` says why."
        ),
    )
    embed.footer = "Recorded in /audit"
    return Reply(embeds=[embed], ephemeral=True)


async def feed_remove(ctx: Context, name: str) -> Reply:
    ctx.require_admin("/feed remove")
    cmd = "feed remove"
    feed = args.feed(ctx, name, command=cmd)
    users = [r.name for r in ctx.config.rules if feed.name in r.feeds]
    if users:
        raise CommandError(
            f"Nothing was changed: rule(s) {', '.join(code(u) for u in users)} watch feed "
            f"{code(feed.name)} by name. Remove it from their `feeds` in keywords.yaml first."
        )
    change = await _commit(ctx, cmd, feed.name, lambda p: writer.remove_feed(p, feed.name))
    return _done(f"Feed {feed.name} removed", change, "It is no longer polled. Its items stay searchable.")


# -- /audit ------------------------------------------------------------------------------------------


def _loads(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return {"value": text}


async def audit(ctx: Context, count: int | None = None, page: int = 0) -> Reply:
    ctx.require_admin("/audit")
    n = args.number(count, option="count", command="audit", low=1, high=50, default=10)
    rows = await ctx.services.store.run(lambda s: s.recent_audit(n))
    if not rows:
        return Reply(content="No changes recorded yet.", ephemeral=True)
    pages = pages_of(len(rows), AUDIT_PAGE)
    page = max(0, min(page, pages - 1))
    embed = Embed(title="Recent changes", description="Newest first.", colour=COLOUR_ADMIN)
    for row in rows[page * AUDIT_PAGE : (page + 1) * AUDIT_PAGE]:
        before, after = _loads(row.get("before")), _loads(row.get("after"))
        head = f"{when(row.get('at'))} by {escape(str(row.get('actor')))}"
        if row.get("detail"):
            head += f" — {plain(row['detail'], 200)}"
        value = (
            head
            + "\n"
            + (
                diff_block(
                    before if isinstance(before, dict) else None,
                    after if isinstance(after, dict) else None,
                    800,
                )
                if before is not None or after is not None
                else ""
            )
        )
        embed.add(trim(f"/{row.get('action')} {row.get('target')}", 256), value)
    total = len(rows)
    embed.footer = f"{total} change{'s' if total != 1 else ''}" + (
        f" · page {page + 1}/{pages}" if pages > 1 else ""
    )
    return Reply(embeds=[embed], ephemeral=True, pager=Pager("audit", {"count": n}, page, pages))
