"""Page buttons. Each is a ``DynamicItem`` whose custom id carries the saved pager and the page it shows
(``nh:pg:<pager>:<page>:<p|n>``), so a click is understood from the id alone — after a restart too. The
pager's command and arguments live in the store (``bot.commands.paging``); each click draws fresh data.
"""

from __future__ import annotations

import re
import weakref
from typing import Any

import discord

from bot.commands import Reply
from bot.deliver.discord.slash.bridge import Bridge

PAGE_ID = re.compile(r"nh:pg:(?P<token>\d{1,18}):(?P<page>\d{1,6}):(?P<kind>[pn])")

#: Which bridge answers the buttons of which client (one per client; tests run several).
BRIDGES: weakref.WeakKeyDictionary[discord.Client, Bridge] = weakref.WeakKeyDictionary()


class PageButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=PAGE_ID):
    def __init__(
        self, token: int, page: int, kind: str = "n", *, label: str = "", disabled: bool = False
    ) -> None:
        # ``kind`` (p: previous, n: next) keeps the two ids distinct when both point at one page.
        super().__init__(
            discord.ui.Button(
                label=label or f"Page {page + 1}",
                style=discord.ButtonStyle.secondary,
                custom_id=f"nh:pg:{token}:{page}:{kind}",
                disabled=disabled,
            )
        )
        self.token = token
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PageButton:
        return cls(int(match["token"]), int(match["page"]), match["kind"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bridge = BRIDGES.get(interaction.client)
        if bridge is None:
            return
        try:
            await bridge.turn_page(interaction, self.token, self.page)
        except Exception as exc:
            await bridge.on_error(interaction, exc)


def page_view(reply: Reply) -> discord.ui.View | None:
    """◀ Previous / Next ▶ for a reply with pages (a view of dynamic items only: nothing is kept in
    memory per message, so it needs no timeout)."""
    pager = reply.pager
    if pager is None or pager.pages <= 1 or pager.token is None:
        return None
    last = pager.pages - 1
    view = discord.ui.View(timeout=None)
    view.add_item(
        PageButton(pager.token, max(0, pager.page - 1), "p", label="◀ Previous", disabled=pager.page == 0)
    )
    view.add_item(
        PageButton(
            pager.token,
            min(last, pager.page + 1),
            "n",
            label=f"Next ▶ (page {min(pager.page + 2, pager.pages)} of {pager.pages})",
            disabled=pager.page >= last,
        )
    )
    return view
