"""Replies are shaped to Discord's limits whatever they hold."""

from __future__ import annotations

from bot.commands.reply import Embed, Reply
from bot.commands.text import mark
from bot.markup import EMBED_TOTAL_LIMIT, trim
from bot.markup import escape_markdown as escape


def size(e: dict[str, object]) -> int:
    fields = e.get("fields") or []
    assert isinstance(fields, list)
    footer = e.get("footer") or {}
    assert isinstance(footer, dict)
    return (
        len(str(e.get("title", "")))
        + len(str(e.get("description", "")))
        + len(str(footer.get("text", "")))
        + sum(len(f["name"]) + len(f["value"]) for f in fields)
    )


def test_many_big_embeds_fit_6000_characters_together() -> None:
    embeds = []
    for _ in range(4):
        e = Embed(title="t" * 400, description="d " * 3000, footer="f" * 3000)
        for j in range(30):
            e.add(f"name {j} " * 60, "value " * 400)
        embeds.append(e)
    out = Reply(embeds=embeds).fitted_embeds()
    assert 1 <= len(out) <= 4
    assert sum(size(e) for e in out) <= EMBED_TOTAL_LIMIT
    for e in out:
        assert len(e.get("title", "")) <= 256 and len(e.get("description", "")) <= 4096
        assert len(e.get("fields", [])) <= 25
        assert all(len(f["name"]) <= 256 and len(f["value"]) <= 1024 for f in e.get("fields", []))


def test_trim_cuts_at_a_word_with_an_ellipsis() -> None:
    assert trim("alpha beta gamma delta", 15) == "alpha beta…"
    assert trim("short", 10) == "short"


def test_mark_escapes_the_text_and_bolds_the_spans() -> None:
    text = "a *b* Tartus <@1> Tartus"
    assert mark(text, [(6, 12), (18, 24)]) == "a \\*b\\* **Tartus** \\<\\@1\\> **Tartus**"
    assert escape("# head\n- item\nhttps://x") == "\\# head\n\\- item\nhttps\\://x"
