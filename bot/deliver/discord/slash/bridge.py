"""Between discord.py and ``bot.commands``: who is asking (and are they an admin), deferring, sending a
``Reply`` (embeds, files, page buttons) and the one error handler every command and button goes through."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Concatenate, ParamSpec

import discord
from discord import app_commands

from bot.commands import Actor, CommandError, Context, Reply, Services, paging
from bot.deliver.discord.checks import ChannelUse
from bot.deliver.discord.client import NewshoundClient, redact
from bot.markup import trim

log = logging.getLogger(__name__)

P = ParamSpec("P")
CommandFn = Callable[Concatenate[Context, P], Awaitable[Reply]]

#: Seconds a command may take before its interaction is deferred anyway (Discord allows 3).
AUTO_DEFER = 2.0

SOMETHING_WENT_WRONG = (
    "Something went wrong on my side while answering that; it has been logged. Try again in a moment, and "
    "tell an admin if it keeps happening."
)
NOT_ADMIN = "Only admins can do that: it needs the Manage Server permission{role}. Nothing was changed."


class NotAdmin(app_commands.CheckFailure):
    """A non-admin ran an admin command (raised by the check, before the command runs)."""


class Bridge:
    """Runs ``bot.commands`` functions for interactions. ``make_view`` builds page buttons (set by
    ``bot.deliver.discord.slash.install``)."""

    def __init__(
        self, services: Services, *, admin_role: str | None = None, client: discord.Client | None = None
    ) -> None:
        self.services = services
        self.client = client
        self.admin_role = admin_role.strip() if admin_role and admin_role.strip() else None
        self.make_view: Callable[[Reply], discord.ui.View | None] = lambda reply: None

    # -- who --------------------------------------------------------------------------------------
    def is_admin(self, interaction: discord.Interaction[Any]) -> bool:
        """Manage Server (or Administrator) in this server, or the ``NEWSHOUND_ADMIN_ROLE`` role."""
        if interaction.guild_id is None:
            return False
        perms = interaction.permissions
        if perms.manage_guild or perms.administrator:
            return True
        member = interaction.user
        if self.admin_role is None or not isinstance(member, discord.Member):
            return False
        if self.admin_role.isdigit():
            role_id = int(self.admin_role)
            return member.get_role(role_id) is not None or role_id in member._roles
        return any(r.name == self.admin_role for r in member.roles)

    async def admin_check(self, interaction: discord.Interaction[Any]) -> bool:
        """The ``app_commands.check`` on admin commands."""
        if self.is_admin(interaction):
            return True
        role = f" or the role {self.admin_role}" if self.admin_role else ""
        if self.admin_role and self.admin_role.isdigit():
            role = f" or the <@&{self.admin_role}> role"
        raise NotAdmin(NOT_ADMIN.format(role=role))

    def actor(self, interaction: discord.Interaction[Any]) -> Actor:
        user = interaction.user
        return Actor(
            id=str(user.id),
            name=user.name,
            is_admin=self.is_admin(interaction),
            guild_id=str(interaction.guild_id) if interaction.guild_id else None,
        )

    def context(self, interaction: discord.Interaction[Any], *, private: bool = False) -> Context:
        lock = asyncio.Lock()  # the command and the auto-defer may both want to defer

        async def defer() -> None:
            async with lock:
                if not interaction.response.is_done():
                    await interaction.response.defer(ephemeral=private, thinking=True)

        return Context(
            self.services, self.actor(interaction), defer=defer, channel_problem=self.channel_problem
        )

    def channel_problem(self, channel_id: str) -> str | None:
        """Why the bot could not post in ``channel_id`` (from the guild cache), or None."""
        if not isinstance(self.client, NewshoundClient):
            return None
        problems = self.client.channel_problems([ChannelUse(channel_id, "a slash command")])
        if not problems:
            return None
        missing = problems[0].missing
        if not missing:
            return "I cannot see that channel"
        return f"I lack the {', '.join(missing)} permission{'s' if len(missing) > 1 else ''} there"

    # -- running a command ------------------------------------------------------------------------
    async def run(
        self,
        interaction: discord.Interaction[Any],
        fn: CommandFn[P],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> None:
        """Runs ``fn`` and sends its reply. Admin commands (``private``) answer ephemerally throughout."""
        command = interaction.command
        private = bool(command is not None and getattr(command, "extras", {}).get("private"))
        ctx = self.context(interaction, private=private)
        started = time.monotonic()
        # Discord waits 3 s for an answer: whatever the command, if it is still busy after AUTO_DEFER
        # (a store busy with a large poll, say), say "thinking…" first.
        task = asyncio.ensure_future(fn(ctx, *args, **kwargs))
        try:
            await asyncio.wait_for(asyncio.shield(task), AUTO_DEFER)
        except TimeoutError:
            await ctx.defer()
        reply = await task
        if private:
            reply.ephemeral = True
        reply = await paging.remember(ctx, reply)
        await self.send(interaction, reply)
        log.info(
            "/%s by %s (%s) answered in %.0f ms",
            command.qualified_name if command else "?",
            interaction.user,
            interaction.user.id,
            (time.monotonic() - started) * 1000,
        )

    async def turn_page(self, interaction: discord.Interaction[Any], token: int, page: int) -> None:
        """A page button: the same reply, another page, edited in place."""
        ctx = self.context(interaction)
        reply = await paging.turn(ctx, token, page)
        await interaction.response.edit_message(**self.message_kwargs(reply, with_files=False))

    # -- sending ----------------------------------------------------------------------------------
    def message_kwargs(self, reply: Reply, *, with_files: bool = True) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "content": reply.fitted_content() or None,
            "embeds": [discord.Embed.from_dict(e) for e in reply.fitted_embeds()],
            "allowed_mentions": discord.AllowedMentions.none(),
        }
        view = self.make_view(reply)
        if view is not None:
            kwargs["view"] = view
        if with_files and reply.files:
            kwargs["files"] = [
                discord.File(
                    io.BytesIO(f.data), filename=f.filename, description=f.description[:1024] or None
                )
                for f in reply.files
            ]
        return kwargs

    async def send(self, interaction: discord.Interaction[Any], reply: Reply) -> None:
        kwargs = self.message_kwargs(reply)
        if not interaction.response.is_done():
            await interaction.response.send_message(ephemeral=reply.ephemeral, **kwargs)
            return
        # Deferred: the first follow-up replaces the "thinking…" message (and keeps its visibility).
        if kwargs["content"] is None:
            kwargs.pop("content")
        await interaction.followup.send(ephemeral=reply.ephemeral, wait=True, **kwargs)

    # -- the one error handler --------------------------------------------------------------------
    async def on_error(self, interaction: discord.Interaction[Any], error: BaseException) -> None:
        """Every failure of a command, check, autocomplete or button ends here: the user gets one short
        ephemeral sentence; anything unexpected is logged with its traceback."""
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(original, CommandError):
            text = original.text
        elif isinstance(original, NotAdmin):
            text = str(original)
        elif isinstance(original, app_commands.TransformerError):
            name = getattr(original, "value", None)
            text = f"I could not use the value {str(name)[:50]!r} for that option. Pick one from the list."
        elif isinstance(original, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch):
            text = "That command changed since your Discord app loaded it. Wait a minute, then try again."
        elif isinstance(original, app_commands.NoPrivateMessage):
            text = "Newshound's commands work in a server channel, not in direct messages."
        elif isinstance(original, app_commands.CheckFailure):
            text = "You cannot use that command here."
        else:
            if interaction.command is not None:
                where = f"/{interaction.command.qualified_name}"
            else:
                data: dict[str, Any] = dict(interaction.data or {})
                where = f"component {str(data.get('custom_id', '?'))[:100]}"
            log.error(
                "%s by %s failed: %s",
                where,
                interaction.user.id if interaction.user else "?",
                redact(repr(original))[:500],
                exc_info=(type(original), original, original.__traceback__),
            )
            text = SOMETHING_WENT_WRONG
        await self.tell(interaction, text)

    async def tell(self, interaction: discord.Interaction[Any], text: str) -> None:
        """Says ``text`` to the user alone, whatever state the interaction is in."""
        text = trim(text, 2000)
        none = discord.AllowedMentions.none()
        try:
            if interaction.type is discord.InteractionType.autocomplete:
                if not interaction.response.is_done():
                    await interaction.response.autocomplete([])
                return
            if not interaction.response.is_done():
                await interaction.response.send_message(text, ephemeral=True, allowed_mentions=none)
                return
            deferred_privately = _is_ephemeral(interaction)
            if deferred_privately:
                await interaction.edit_original_response(
                    content=text, embeds=[], attachments=[], view=None, allowed_mentions=none
                )
            else:
                # A public "thinking…" message: remove it and answer privately.
                with contextlib.suppress(discord.HTTPException):
                    await interaction.delete_original_response()
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=none)
        except discord.HTTPException as exc:
            log.warning("could not tell the user about an error: %s", redact(str(exc))[:200])


def _is_ephemeral(interaction: discord.Interaction[Any]) -> bool:
    command = interaction.command
    return bool(command is not None and getattr(command, "extras", {}).get("private"))


def option_names(items: Sequence[str]) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=trim(n, 100), value=n[:100]) for n in items[:25]]
