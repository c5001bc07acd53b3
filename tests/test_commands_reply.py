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


def test_a_page_too_big_for_one_embed_keeps_every_field_and_every_link_whole() -> None:
    # A page of eight search results with ~190-character headlines, long snippets and Google-News-sized
    # links: about 6,600 characters. Every result must stay on its page (no other page shows it).
    e = Embed(title="Search: tartus", description="Newest first.", footer="20 items · page 1/2")
    links = []
    for i in range(8):
        url = f"https://news.example/rss/articles/CBMi{'x' * 280}{i}?oc=5"
        links.append(f"[Open the article]({url})")
        header = f"**Levant Wire** · <t:{1_700_000_000 + i}:R> · ✅ alerted"
        value = "\n".join([header, "Satellite images show " * 9, links[-1]])
        e.add(f"Item {i:02d}: " + "Russian vessels leave Tartus " * 6, value)
    assert e.size() > EMBED_TOTAL_LIMIT
    out = Reply(embeds=[e]).fitted_embeds()
    assert len(out) == 1 and size(out[0]) <= EMBED_TOTAL_LIMIT
    fields = out[0]["fields"]
    assert [f["name"][:7] for f in fields] == [f"Item {i:02d}" for i in range(8)]
    for f, whole in zip(fields, links, strict=True):
        assert f["value"].startswith("**Levant Wire**")
        assert f["value"].endswith(whole)  # the link line is kept whole: the snippet gave way
        assert "…" in f["value"]


def test_a_field_value_gives_way_line_by_line_and_drops_a_link_rather_than_break_it() -> None:
    from bot.commands.reply import _shrink

    link = "[Open](https://x.example/" + "a" * 200 + ")"
    value = "header line that is fairly long\n" + "snippet " * 30 + "\n" + link
    out = _shrink(value, 300)
    assert len(out) <= 300 and out.startswith("header line") and out.endswith(")") and "…" in out
    out = _shrink(value, 270)  # the snippet goes before the link
    assert out.startswith("header line") and out.endswith(")") and "snippet" not in out
    out = _shrink(value, 150)  # the link alone is longer: it goes, whole, and the rest is cut
    assert len(out) <= 150 and "](" not in out and out.startswith("header line")


def test_trim_cuts_at_a_word_with_an_ellipsis() -> None:
    assert trim("alpha beta gamma delta", 15) == "alpha beta…"
    assert trim("short", 10) == "short"


def test_mark_escapes_the_text_and_bolds_the_spans() -> None:
    text = "a *b* Tartus <@1> Tartus"
    assert mark(text, [(6, 12), (18, 24)]) == "a \\*b\\* **Tartus** \\<\\@1\\> **Tartus**"
    assert escape("# head\n- item\nhttps://x") == "\\# head\n\\- item\nhttps\\://x"
