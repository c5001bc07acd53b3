"""Commands for everyone: questions answered from the store and the rules in force. No writes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.commands import args
from bot.commands.catalogue import CATALOGUE, example
from bot.commands.chart import trend_png
from bot.commands.context import BadArgument, Context
from bot.commands.reply import (
    COLOUR_BAD,
    COLOUR_INFO,
    COLOUR_OK,
    COLOUR_WARN,
    Attachment,
    Embed,
    Pager,
    Reply,
    pages_of,
)
from bot.commands.text import (
    channel_mention,
    code,
    link,
    mark,
    plain,
    plural,
    role_mention,
    target_text,
    terms,
    when,
)
from bot.markup import SEVERITY_COLOURS, one_line, safe_url, trim
from bot.markup import escape_markdown as escape
from bot.model import RETITLED, Entry, Hit, RuleOutcome
from bot.rules.durations import format_duration
from bot.rules.model import Config, Rule
from bot.store import fts_query

DAY = 86400.0
SEARCH_PAGE = 8
LIST_PAGE = 10

VERDICTS: dict[str, str] = {
    "alerted": "✅ alerted",
    "no_match": "▫️ no rule matched",
    "excluded": "⛔ excluded",
    "backfill": "🕰️ recorded silently (already in the feed at its first poll)",
    "too_old": "🕰️ recorded silently (too old)",
    "duplicate": "🔁 duplicate of a story already sent",
}
FEED_STATUS: dict[str, str] = {
    "ok": "✅ ok",
    "new": "🆕 not polled yet",
    "degraded": "⚠️ degraded",
    "failing": "❌ failing",
    "paused": "⏸️ paused",
}
ALERT_STATUS: dict[str, str] = {"sent": "✅ sent", "pending": "⏳ pending", "failed": "❌ failed"}


def _clamp(page: int, pages: int) -> int:
    return max(0, min(page, pages - 1))


def _footer(page: int, pages: int, total: int, noun: str) -> str:
    count = f"{total} {noun}{'' if total == 1 else 's'}"
    return f"{count} · page {page + 1}/{pages}" if pages > 1 else count


def _rule_state(rule: Rule, now: float) -> str:
    if not rule.enabled:
        return "⏸️ paused until resumed"
    if rule.paused_until is not None and rule.paused_until.timestamp() > now:
        return f"⏸️ paused until {when(rule.paused_until.timestamp(), 'f')}"
    return "▶️ active"


def _destination(config: Config, rule: Rule) -> str:
    if rule.webhook:
        return "a webhook"
    return channel_mention(config.channel_for(rule))


# -- /search -----------------------------------------------------------------------------------------


async def search(
    ctx: Context, query: str, rule: str | None = None, days: int | None = None, page: int = 0
) -> Reply:
    q = args.text(query, option="query", command="search", limit=200)
    if not fts_query(q):
        raise BadArgument("`query` needs at least one word with letters or digits", example("search"))
    rule_name = args.rule_filter(ctx, rule, command="search")
    n_days = args.number(days, option="days", command="search", low=1, high=3650, default=0)
    since = ctx.now() - n_days * DAY if n_days else None

    def run(offset: int) -> Any:
        return lambda s: s.search(q, rule=rule_name, since=since, limit=SEARCH_PAGE, offset=offset)

    rows, total = await ctx.services.store.run(run(max(0, page) * SEARCH_PAGE))
    pages = pages_of(total, SEARCH_PAGE)
    if total and not rows:  # the page asked for no longer exists: show the last one
        page = pages - 1
        rows, total = await ctx.services.store.run(run(page * SEARCH_PAGE))
    scope = []
    if rule_name:
        scope.append(f"matched by rule **{escape(rule_name)}**")
    if n_days:
        scope.append(f"from the last {n_days} day{'s' if n_days != 1 else ''}")
    if not total:
        return Reply(
            content=f"No stored item holds every word of “{escape(q)}”"
            + (f" ({', '.join(scope)})" if scope else "")
            + ". Words must appear in a headline or summary; `word*` matches a prefix."
        )
    embed = Embed(title=trim(f"Search: {one_line(q)}", 256), colour=COLOUR_INFO)
    embed.description = "Newest first" + (f", {', '.join(scope)}" if scope else "") + "."
    for row in rows:
        published = row.get("published") or row.get("seen_at")
        url = safe_url(row.get("link"))
        lines = [
            " · ".join(
                p
                for p in (
                    f"**{escape(row['feed'])}**",
                    when(published),
                    VERDICTS.get(str(row.get("verdict")), str(row.get("verdict"))),
                )
                if p
            )
        ]
        snippet = plain(row.get("summary"), 180)
        if snippet:
            lines.append(snippet)
        if url and len(url) < 600:
            lines.append(f"[Open the article]({url})")
        embed.add(plain(row.get("title"), 200) or "(untitled)", "\n".join(lines))
    page = _clamp(page, pages)
    embed.footer = _footer(page, pages, total, "item")
    pager = Pager("search", {"query": q, "rule": rule_name, "days": n_days or None}, page, pages)
    return Reply(embeds=[embed], pager=pager)


# -- /latest -----------------------------------------------------------------------------------------


def _jump(guild_id: str | None, target_key: str, message_id: str | None) -> str | None:
    kind, _, channel = target_key.partition(":")
    if guild_id and message_id and kind == "channel":
        return f"https://discord.com/channels/{guild_id}/{channel}/{message_id}"
    return None


def _alert_status(row: dict[str, Any], guild_id: str | None) -> str:
    status = str(row.get("status"))
    text = ALERT_STATUS.get(status, status)
    if status == "sent":
        text += f" {when(row.get('sent_at'))}"
        jump = _jump(guild_id, str(row.get("target_key", "")), row.get("message_id"))
        if jump:
            text += f" ([message]({jump}))"
    elif status == "pending":
        attempts = int(row.get("attempts") or 0)
        if attempts:
            text += f" after {attempts} attempt{'s' if attempts != 1 else ''}"
        if row.get("error"):
            text += f" — last error: {plain(row['error'], 200)}"
    elif status == "failed":
        text += f" — {plain(row.get('error') or 'no reason recorded', 300)}"
    return text


async def latest(ctx: Context, rule: str | None = None, count: int | None = None, page: int = 0) -> Reply:
    rule_name = args.rule_filter(ctx, rule, command="latest")
    n = args.number(count, option="count", command="latest", low=1, high=50, default=10)
    rows = await ctx.services.store.run(lambda s: s.latest_alerts(rule=rule_name, count=n))
    if not rows:
        who = f" for rule **{escape(rule_name)}**" if rule_name else ""
        return Reply(content=f"No alerts yet{who}.")
    pages = pages_of(len(rows), LIST_PAGE)
    page = _clamp(page, pages)
    embed = Embed(
        title=f"Latest alerts{f' — {rule_name}' if rule_name else ''}",
        description="Newest first.",
        colour=COLOUR_INFO,
    )
    for row in rows[page * LIST_PAGE : (page + 1) * LIST_PAGE]:
        rules = ", ".join(escape(r) for r in str(row.get("rules") or "").split(",") if r)
        lines = [
            f"{when(row.get('created_at'))} · **{escape(row['feed'])}** → "
            f"{target_text(str(row['target_key']))}",
            f"rules: {rules or '—'} · severity {escape(str(row.get('severity') or 'normal'))}",
            _alert_status(row, ctx.actor.guild_id),
        ]
        url = safe_url(row.get("link"))
        if url and len(url) < 500:
            lines.append(f"[Open the article]({url})")
        embed.add(plain(row.get("title"), 200) or "(untitled)", "\n".join(lines))
    embed.footer = _footer(page, pages, len(rows), "alert")
    return Reply(embeds=[embed], pager=Pager("latest", {"rule": rule_name, "count": n}, page, pages))


# -- /rule list, /rule show, /rule test --------------------------------------------------------------


def _summary_terms(values: Sequence[str], limit: int = 12) -> str:
    shown = terms(values[:limit])
    return shown + (f" (+{len(values) - limit} more)" if len(values) > limit else "")


async def rule_list(ctx: Context, page: int = 0) -> Reply:
    config = ctx.config
    now = ctx.now()
    if not config.rules:
        return Reply(content="There are no rules yet. An admin can add one with `/rule add`.")
    pages = pages_of(len(config.rules), LIST_PAGE)
    page = _clamp(page, pages)
    embed = Embed(title="Rules", colour=COLOUR_INFO)
    for r in config.rules[page * LIST_PAGE : (page + 1) * LIST_PAGE]:
        lines = []
        if r.description:
            lines.append(plain(r.description, 200))
        looks = _summary_terms(r.keywords) if r.keywords else ""
        if r.regex:
            looks = (looks + "; " if looks else "") + f"{len(r.regex)} regex"
        lines.append(f"**any of:** {looks or '—'}")
        if r.all:
            lines.append(f"**and all of:** {_summary_terms(r.all)}")
        if r.exclude:
            lines.append(f"**but none of:** {_summary_terms(r.exclude)}")
        lines.append(f"→ {_destination(config, r)} · {r.severity} · {_rule_state(r, now)}")
        embed.add(escape(r.name), "\n".join(lines))
    embed.footer = _footer(page, pages, len(config.rules), "rule") + " · /rule show name:<rule> for details"
    return Reply(embeds=[embed], pager=Pager("rule list", {}, page, pages))


async def rule_show(ctx: Context, name: str) -> Reply:
    r = args.rule(ctx, name, command="rule show")
    config = ctx.config
    embed = Embed(
        title=f"Rule {r.name}",
        description=plain(r.description, 1000),
        colour=SEVERITY_COLOURS.get(r.severity, COLOUR_INFO),
    )
    if r.keywords:
        embed.add("Any of these (keywords)", terms(r.keywords))
    if r.regex:
        embed.add("Or these patterns (regex)", "\n".join(f"`{p.replace('`', 'ˋ')}`" for p in r.regex))
    if r.all:
        embed.add("Every one of these too (all)", terms(r.all))
    if r.exclude:
        embed.add("None of these (exclude)", terms(r.exclude))
    embed.add("Looks in", ", ".join(r.fields), inline=True)
    embed.add("Feeds", terms(r.feeds) if r.feeds else "every feed", inline=True)
    embed.add("Posts to", _destination(config, r), inline=True)
    embed.add("Severity", r.severity, inline=True)
    embed.add("Pings", ", ".join(role_mention(m) for m in r.mention) or "nobody", inline=True)
    embed.add("State", _rule_state(r, ctx.now()), inline=True)
    rows = await ctx.services.store.run(lambda s: s.latest_alerts(rule=r.name, count=1))
    if rows:
        row = rows[0]
        embed.add(
            "Last alert",
            f"{link(row.get('title'), row.get('link'))}\n{when(row.get('created_at'))} · "
            + _alert_status(row, ctx.actor.guild_id),
        )
    else:
        embed.add("Last alert", "none yet")
    embed.footer = f"keywords.yaml line {r.line}" if r.line else ""
    return Reply(embeds=[embed])


_TEST_FIELDS = ("title", "summary", "content")
_VERDICT_LINES = {
    "matched": "✅ **{rule}** would fire",
    "excluded": "⛔ **{rule}** is excluded",
    "missing_all": "➖ **{rule}** would not fire",
}


def _hit_terms(hits: Sequence[Hit], kinds: tuple[str, ...]) -> str:
    seen = dict.fromkeys(
        f"“{escape(h.text)}” (`{h.term.replace('`', 'ˋ')}`)"
        if h.text.casefold() != h.term.casefold()
        else f"“{escape(h.text)}”"
        for h in hits
        if h.kind in kinds
    )
    return ", ".join(seen)


def _explain(outcome: RuleOutcome) -> str:
    matched = _hit_terms(outcome.hits, ("keyword", "regex", "all"))
    if outcome.verdict == "matched":
        return f"matched {matched}"
    if outcome.verdict == "excluded":
        return f"{_hit_terms(outcome.hits, ('exclude',))} vetoes it (it had {matched})"
    missing = ", ".join(f"“{escape(m)}”" for m in outcome.missing)
    return f"it had {matched} but not {missing}, which `all` requires"


async def rule_test(ctx: Context, text: str) -> Reply:
    body = args.text(text, option="text", command="rule test", limit=1500)
    ruleset = ctx.services.rules()
    entry = Entry(key="rule-test", title=body, summary=body, content=body)
    now = datetime.fromtimestamp(ctx.now(), UTC)
    outcomes = await asyncio.to_thread(ruleset.matcher.match, entry, None, now)
    by_name = {r.name: r for r in ruleset.config.rules}
    shown: list[str] = []
    spans: set[tuple[int, int]] = set()
    skipped: list[str] = []
    blind: list[str] = []
    for o in outcomes:
        rule = by_name.get(o.rule)
        if o.verdict == "disabled":
            skipped.append(o.rule)
            continue
        if rule is not None and not set(rule.fields) & set(_TEST_FIELDS):
            blind.append(o.rule)
            continue
        if o.verdict not in _VERDICT_LINES:
            continue
        # The text stands in for title, summary and content alike: keep one hit per span.
        hits = tuple({(h.start, h.end, h.term, h.kind): h for h in o.hits}.values())
        o = RuleOutcome(o.rule, o.verdict, hits, o.missing)
        shown.append(f"{_VERDICT_LINES[o.verdict].format(rule=escape(o.rule))}: {_explain(o)}")
        spans.update((h.start, h.end) for h in hits if h.kind != "exclude" or o.verdict == "excluded")
    fired = sum(1 for line in shown if line.startswith("✅"))
    embed = Embed(
        title=f"{fired} rule{'s' if fired != 1 else ''} would fire" if fired else "No rule would fire",
        colour=COLOUR_OK if fired else COLOUR_WARN,
    )
    embed.description = mark(body, spans) if spans else escape(body)
    embed.add("Rules", "\n".join(shown) if shown else "No rule found any of its keywords in this text.")
    notes = []
    if skipped:
        notes.append(f"paused or disabled, not tested: {', '.join(escape(s) for s in skipped)}")
    if blind:
        notes.append(
            f"look only at links, authors, sources or tags, not tested: {', '.join(escape(b) for b in blind)}"
        )
    if notes:
        embed.add("Not tested", "\n".join(notes))
    embed.footer = "Matching ignores case and accents; a keyword never matches inside a longer word."
    return Reply(embeds=[embed])


# -- /feed list --------------------------------------------------------------------------------------


async def feed_list(ctx: Context, page: int = 0) -> Reply:
    config = ctx.config
    if not config.feeds:
        return Reply(content="There are no feeds yet. An admin can add one with `/feed add`.")
    states = {f.name: f for f in await ctx.services.store.run(lambda s: s.feeds())}
    pages = pages_of(len(config.feeds), LIST_PAGE)
    page = _clamp(page, pages)
    status_of = [states[f.name].status if f.name in states else "new" for f in config.feeds]
    healthy = status_of.count("ok")
    troubled = sum(status_of.count(s) for s in ("degraded", "failing", "paused"))
    unpolled = len(status_of) - healthy - troubled
    if healthy == len(status_of):
        said = f"All {healthy} feed{'s' if healthy != 1 else ''} healthy."
    else:
        parts = [f"{healthy} healthy"]
        parts += [f"{troubled} with problems"] if troubled else []
        parts += [f"{unpolled} not polled yet"] if unpolled else []
        said = ", ".join(parts) + "."
    embed = Embed(title="Feeds", description=said, colour=COLOUR_WARN if troubled else COLOUR_OK)
    for f in config.feeds[page * LIST_PAGE : (page + 1) * LIST_PAGE]:
        st = states.get(f.name)
        status = st.status if st else "new"
        lines = [FEED_STATUS.get(status, status)]
        if st and st.last_error and status in ("failing", "degraded", "paused"):
            since = f" since {when(st.failing_since)}" if st.failing_since else ""
            lines[0] += f"{since}: {plain(st.last_error, 300)}"
        lines.append(
            f"last fetch {when(st.last_fetch_at if st else None)} · last new item "
            f"{when(st.last_new_item_at if st else None)}"
        )
        iv = config.interval_for(f)
        detail = f"every {format_duration(iv)}" if iv else "adaptive interval"
        if f.tags:
            detail += f" · tags: {terms(f.tags)}"
        url = safe_url(f.url)
        if url and len(url) < 400:
            detail += f" · [url]({url})"
        lines.append(detail)
        title = (st.title if st and st.title else "") or ""
        name = escape(f.name) + (f" — {plain(title, 80)}" if title and title != f.name else "")
        embed.add(name, "\n".join(lines))
    embed.footer = _footer(page, pages, len(config.feeds), "feed")
    return Reply(embeds=[embed], pager=Pager("feed list", {}, page, pages))


# -- /why --------------------------------------------------------------------------------------------


def _outcome_line(o: dict[str, Any]) -> str:
    icon = {"matched": "✅", "excluded": "⛔", "missing_all": "➖"}.get(str(o.get("verdict")), "▫️")
    return f"{icon} **{escape(str(o.get('rule')))}**: {plain(o.get('reason'), 300)}"


def _why_delivery(alert: dict[str, Any], guild_id: str | None) -> str:
    rules = ", ".join(escape(r) for r in str(alert.get("rules") or "").split(",") if r)
    target = target_text(str(alert.get("target_key")))
    line = f"→ {target} (rules: {rules or '—'}), queued {when(alert.get('created_at'))}: "
    return line + _alert_status(alert, guild_id)


def _kept_in_full(ctx: Context) -> str:
    """How long items are kept in full (``NEWSHOUND_RETENTION_DAYS``, e.g. ``90d``); ``""``: for ever."""
    kept = ctx.services.retention_days
    return format_duration(kept * DAY) if kept else ""


def _pruned_text(ctx: Context, row: dict[str, Any]) -> str:
    kept = _kept_in_full(ctx)
    period = f" after {kept}" if kept else ""
    asked = row.get("verdict") not in ("backfill", "too_old")  # those were recorded without asking
    dropped = "its text and each rule's reasons were" if asked else "its text was"
    return (
        f"no longer known: {dropped} dropped {when(row.get('pruned_at'), 'D')}{period} (retention, "
        "`NEWSHOUND_RETENTION_DAYS`). Its headline, verdict and alerts are kept, and it will not alert again."
    )


async def why(ctx: Context, link_or_guid: str) -> Reply:
    ref = args.text(link_or_guid, option="link", command="why", limit=2000)
    rows = await ctx.services.store.run(lambda s: s.why(ref))
    config = ctx.config
    if not rows:
        states = await ctx.services.store.run(lambda s: s.feeds())
        bad = [s for s in states if s.status in ("failing", "degraded")]
        text = (
            f"I have never seen an item with the link or guid {code(ref, 200)}. "
            f"Either it has not appeared in any of the {len(config.feeds)} feed(s) I poll "
            "(`/feed list` shows them), or it came from a feed I do not watch."
        )
        if bad:
            text += " These feeds are failing right now, so their new items are not being seen: " + ", ".join(
                f"**{escape(s.name)}** ({plain(s.last_error, 120)})" for s in bad[:10]
            )
            text += "."
        return Reply(content=trim(text, 1900), ephemeral=False)
    embeds = []
    ruleset = ctx.services.rules()
    for row in rows[:3]:
        verdict = str(row.get("verdict"))
        embed = Embed(
            title=plain(row.get("title"), 250) or "(untitled)",
            url=safe_url(row.get("link")),
            colour=COLOUR_OK
            if verdict == "alerted"
            else (COLOUR_WARN if verdict != "no_match" else COLOUR_INFO),
        )
        published = f", published {when(row['published'], 'f')}" if row.get("published") else ""
        embed.description = (
            f"Seen {when(row.get('seen_at'), 'f')} ({when(row.get('seen_at'))}) in feed "
            f"**{escape(str(row.get('feed')))}**{published}."
        )
        shown = VERDICTS.get(verdict, verdict)
        reason = str(row.get("reason") or "")
        if verdict in ("backfill", "too_old", "duplicate") and not reason.startswith(RETITLED):
            shown += f" — {plain(reason, 700)}"  # decided before or after the rules: say why
        embed.add("Verdict", shown)
        if reason.startswith(RETITLED):  # judged again when its headline changed (pipeline step 6)
            embed.add("Headline updated", plain(reason.removeprefix(RETITLED), 700))
        pruned = row.get("pruned_at") is not None
        judged = row.get("outcomes") is not None  # None: recorded silently before the rules were asked
        outcomes = row.get("outcomes") or []
        if pruned:
            embed.add("Rules when it was seen", _pruned_text(ctx, row))
        elif judged:
            named = {str(o.get("rule")) for o in outcomes}
            lines = [_outcome_line(o) for o in outcomes]
            others = [r.name for r in config.rules if r.name not in named]
            if others:
                lines.append(
                    f"▫️ {', '.join(escape(n) for n in others[:15])}{' …' if len(others) > 15 else ''}: "
                    "found none of their keywords, did not watch this feed, or were paused then"
                )
            embed.add("Rules when it was seen", "\n".join(lines) or "no rules")
        else:
            embed.add(
                "Rules when it was seen",
                "not consulted: an item recorded without alerting for its age is not matched",
            )
        alerts = row.get("alerts") or []
        if alerts:
            embed.add("Delivery", "\n".join(_why_delivery(a, ctx.actor.guild_id) for a in alerts))
        elif verdict == "alerted":
            embed.add("Delivery", "no alert recorded")
        if pruned:  # only its headline is left: what today's rules make of that would mislead
            embeds.append(embed)
            continue
        # What today's rules make of it: answers "I added a rule after — would it fire now?"
        entry = Entry(key="why", title=str(row.get("title") or ""), summary=str(row.get("summary") or ""))
        feed = config.feed(str(row.get("feed")))
        now_outcomes = await asyncio.to_thread(
            ruleset.matcher.match, entry, feed, datetime.fromtimestamp(ctx.now(), UTC)
        )
        fired_now = [o.rule for o in now_outcomes if o.fired]
        fired_then = [str(o.get("rule")) for o in outcomes if o.get("verdict") == "matched"]
        if not judged or sorted(fired_now) != sorted(fired_then):
            embed.add(
                "With today's rules",
                (
                    f"would fire: {', '.join(escape(n) for n in fired_now)}"
                    if fired_now
                    else "no rule would fire"
                )
                + " (items are judged once, when first seen; they are not re-checked)",
            )
        embeds.append(embed)
    reply = Reply(embeds=embeds)
    if len(rows) > 3:
        reply.content = f"{len(rows)} stored items match; the 3 most recent are shown."
    return reply


# -- /trend ------------------------------------------------------------------------------------------


async def trend(ctx: Context, keyword: str, days: int | None = None) -> Reply:
    word = args.text(keyword, option="keyword", command="trend", limit=100)
    if not fts_query(word):
        raise BadArgument("`keyword` needs at least one word with letters or digits", example("trend"))
    n_days = args.number(days, option="days", command="trend", low=1, high=365, default=30)
    await ctx.defer()
    now = ctx.now()
    since = now - (n_days - 1) * DAY
    start = datetime.fromtimestamp(since, UTC).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    series = await ctx.services.store.run(lambda s: s.trend(word, since=start, until=now))
    total = sum(n for _, n in series)
    png = await asyncio.to_thread(trend_png, word, series)
    peak_day, peak = max(series, key=lambda d: d[1]) if series else ("", 0)
    text = f"**{escape(word)}**: {plural(total, 'matching item')} in the last {plural(n_days, 'day')}"
    text += f" (peak {peak} on {peak_day})." if peak else "."
    # The chart is attached as a file (Discord shows it as an image under the embed).
    embed = Embed(title=trim(f"Trend: {one_line(word)}", 256), description=text, colour=COLOUR_INFO)
    embed.footer = "Items whose headline or summary holds the words, per UTC day."
    if ctx.services.retention_days and n_days > ctx.services.retention_days:
        embed.footer += (
            f" Items older than {_kept_in_full(ctx)} count by headline only (their text is pruned)."
        )
    return Reply(embeds=[embed], files=[Attachment("trend.png", png, f"Daily items holding {word}")])


# -- /status -----------------------------------------------------------------------------------------


def _uptime(seconds: float) -> str:
    return format_duration(max(0.0, seconds - seconds % 60)) if seconds >= 60 else f"{int(seconds)}s"


async def status(ctx: Context) -> Reply:
    now = ctx.now()
    numbers = await ctx.services.store.run(lambda s: s.status(now))
    feeds: dict[str, int] = numbers["feeds"]
    ok = feeds.get("ok", 0)
    failing = feeds.get("failing", 0) + feeds.get("degraded", 0)
    config = ctx.config
    colour = COLOUR_OK if not failing and not numbers["alerts_failed"] else COLOUR_WARN
    if failing and failing >= max(1, ok):
        colour = COLOUR_BAD
    embed = Embed(title="Newshound status", colour=colour)
    embed.add("Version", escape(ctx.services.version), inline=True)
    embed.add("Uptime", _uptime(now - ctx.services.started_at), inline=True)
    embed.add("Rules", str(len(config.rules)), inline=True)
    parts = [f"{ok} ok", f"{failing} failing"]
    for extra in ("new", "paused"):
        if feeds.get(extra):
            parts.append(f"{feeds[extra]} {'not polled yet' if extra == 'new' else extra}")
    embed.add("Feeds", ", ".join(parts), inline=True)
    embed.add("Alerts today", str(numbers["alerts_today"]) + " (UTC)", inline=True)
    embed.add(
        "Outbox",
        f"{numbers['outbox']} waiting"
        + (f", {numbers['alerts_failed']} failed" if numbers["alerts_failed"] else ""),
        inline=True,
    )
    embed.add("Last poll", when(numbers["last_poll"]), inline=True)
    kept = _kept_in_full(ctx)
    embed.add("Items stored", str(numbers["items"]) + (f" (in full for {kept})" if kept else ""), inline=True)
    return Reply(embeds=[embed])


# -- /help -------------------------------------------------------------------------------------------


async def help_command(ctx: Context) -> Reply:
    everyone = [c for c in CATALOGUE if not c.admin]
    admins = [c for c in CATALOGUE if c.admin]
    embed = Embed(
        title="Newshound commands",
        description="Newshound watches news feeds for the words in its rules and posts alerts here. "
        f"Full guide: {ctx.services.readme_url}",
        colour=COLOUR_INFO,
    )
    embed.add("For everyone", "\n".join(f"`{c.usage}` — {c.description}" for c in everyone))
    admin_note = "" if ctx.actor.is_admin else "\n*You are not an admin here.*"
    embed.add(
        "For admins (Manage Server or the admin role)",
        "\n".join(f"`{c.usage}` — {c.description.removesuffix(' (admins)')}" for c in admins) + admin_note,
    )
    return Reply(embeds=[embed], ephemeral=True)
