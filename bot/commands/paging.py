"""Pages of a reply. A paginated reply remembers its command and arguments in the store; its buttons carry
that pager's id and a page number, so they keep working after a restart (for ``PAGER_TTL``), and each
turn shows fresh data. Only the person who ran the command turns its pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.commands import admin, answers
from bot.commands.context import CommandError, Context
from bot.commands.reply import Reply

PageFn = Callable[[Context, dict[str, Any], int], Awaitable[Reply]]

#: Commands whose replies can have pages: name → how to draw page N from the saved arguments.
PAGED: dict[str, PageFn] = {
    "search": lambda ctx, a, p: answers.search(ctx, a["query"], a.get("rule"), a.get("days"), page=p),
    "latest": lambda ctx, a, p: answers.latest(ctx, a.get("rule"), a.get("count"), page=p),
    "rule list": lambda ctx, a, p: answers.rule_list(ctx, page=p),
    "feed list": lambda ctx, a, p: answers.feed_list(ctx, page=p),
    "audit": lambda ctx, a, p: admin.audit(ctx, a.get("count"), page=p),
}


async def remember(ctx: Context, reply: Reply) -> Reply:
    """Saves the pager of a reply with more than one page, so its buttons can find it again."""
    pager = reply.pager
    if pager is None or pager.pages <= 1 or pager.token is not None:
        return reply
    now = ctx.now()
    actor = ctx.actor.id
    pager.token = await ctx.services.store.run(lambda s: s.save_pager(pager.command, pager.args, actor, now))
    return reply


async def turn(ctx: Context, token: int, page: int) -> Reply:
    """Page ``page`` of the reply whose pager is ``token``."""
    now = ctx.now()
    saved = await ctx.services.store.run(lambda s: s.pager(token, now))
    if saved is None or saved["command"] not in PAGED:
        raise CommandError("These results have expired. Run the command again to get fresh ones.")
    command = str(saved["command"])
    if saved.get("user_id") and saved["user_id"] != ctx.actor.id:
        raise CommandError(
            f"Only the person who ran `/{command}` can turn its pages; run it yourself to browse."
        )
    reply = await PAGED[command](ctx, dict(saved["args"]), max(0, page))
    if reply.pager is not None:
        reply.pager.token = token
    return reply
