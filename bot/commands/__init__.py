"""Slash commands without Discord: one function per command, taking parsed arguments and a ``Context``
(the app's services + who is asking) and returning a ``Reply`` (text, embeds, files, pages, ephemeral).

The Discord package (``bot.deliver.discord.slash``) registers these as application commands; everything a
command decides — argument checks, permission checks, what the answer says — is here, testable without
Discord. ``catalogue.CATALOGUE`` lists every command and option.

* ``answers`` — for everyone: search, latest, rule list/show/test, feed list, why, trend, status, help
* ``admin`` — for admins: rule add/remove/pause/resume, feed add/remove, audit
* ``paging`` — page buttons that survive restarts (keywords.yaml is edited by ``bot.rules.writer``)
"""

from bot.commands.context import Actor, BadArgument, CommandError, Context, NotAllowed, Services
from bot.commands.reply import Attachment, Embed, Field, Pager, Reply

__all__ = [
    "Actor",
    "Attachment",
    "BadArgument",
    "CommandError",
    "Context",
    "Embed",
    "Field",
    "NotAllowed",
    "Pager",
    "Reply",
    "Services",
]
