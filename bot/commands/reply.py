"""What a command answers, as plain data: text, embeds, files, pages — shaped to Discord's limits.

The Discord package turns a ``Reply`` into a message; nothing here imports discord.py. Every builder trims
at a word boundary with an ellipsis, so whatever the store or a feed holds, Discord never answers 400:
content 2,000; embed title 256, description 4,096, field name 256 / value 1,024, footer 2,048, 25 fields,
6,000 characters per embed in total.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.markup import (
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    FIELDS_LIMIT,
    FOOTER_LIMIT,
    TITLE_LIMIT,
    URL_LIMIT,
    trim,
)

#: Embed colours.
COLOUR_INFO = 0x3498DB
COLOUR_OK = 0x2ECC71
COLOUR_WARN = 0xE67E22
COLOUR_BAD = 0xE74C3C
COLOUR_ADMIN = 0x9B59B6


@dataclass(slots=True)
class Field:
    name: str
    value: str
    inline: bool = False


@dataclass(slots=True)
class Embed:
    title: str = ""
    description: str = ""
    url: str | None = None
    colour: int = COLOUR_INFO
    fields: list[Field] = field(default_factory=list)
    footer: str = ""
    image: str | None = None  # "attachment://name.png" or an http(s) URL

    def add(self, name: str, value: str, *, inline: bool = False) -> Embed:
        self.fields.append(Field(name, value, inline))
        return self

    def fitted(self) -> Embed:
        """A copy within every Discord limit: each part trimmed, at most 25 fields, 6,000 in total (the
        description is shortened first, then the longest field values, so every field stays; only when
        even that cannot fit are the last fields dropped)."""
        fields = [
            Field(
                trim(f.name.strip() or "\u200b", FIELD_NAME_LIMIT),
                trim(f.value.strip() or "—", FIELD_VALUE_LIMIT),
                f.inline,
            )
            for f in self.fields[:FIELDS_LIMIT]
        ]
        out = Embed(
            title=trim(self.title, TITLE_LIMIT),
            description=trim(self.description, DESCRIPTION_LIMIT),
            url=self.url if self.url and len(self.url) <= URL_LIMIT else None,
            colour=self.colour,
            fields=fields,
            footer=trim(self.footer, FOOTER_LIMIT),
            image=self.image,
        )
        excess = out.size() - EMBED_TOTAL_LIMIT
        if excess > 0 and out.description:
            keep = max(0, len(out.description) - excess)
            out.description = trim(out.description, keep) if keep > 1 else ""
            excess = out.size() - EMBED_TOTAL_LIMIT
        if excess > 0:
            _share_fields(out.fields, excess)
            excess = out.size() - EMBED_TOTAL_LIMIT
        while excess > 0 and out.fields:  # only when even the fair shares cannot fit
            out.fields.pop()
            excess = out.size() - EMBED_TOTAL_LIMIT
        return out

    def size(self) -> int:
        """Characters Discord counts towards the 6,000 total."""
        return (
            len(self.title)
            + len(self.description)
            + len(self.footer)
            + sum(len(f.name) + len(f.value) for f in self.fields)
        )

    def to_dict(self) -> dict[str, Any]:
        """Discord's wire shape (``discord.Embed.from_dict`` reads it)."""
        e = self.fitted()
        data: dict[str, Any] = {"type": "rich", "color": e.colour}
        if e.title:
            data["title"] = e.title
        if e.description:
            data["description"] = e.description
        if e.url:
            data["url"] = e.url
        if e.fields:
            data["fields"] = [{"name": f.name, "value": f.value, "inline": f.inline} for f in e.fields]
        if e.footer:
            data["footer"] = {"text": e.footer}
        if e.image:
            data["image"] = {"url": e.image}
        return data


#: A field value is never shortened below this to make room for others (below it, fields are dropped).
FIELD_VALUE_FLOOR = 120
#: A line of a field value is never cut shorter than this (shorter lines are dropped whole instead).
LINE_FLOOR = 40


def _share_fields(fields: list[Field], excess: int) -> None:
    """Shorten the longest field values, in place, until ``excess`` characters are gone, so that every
    field of a page stays (a page of results never silently loses one): the values get a common cap, the
    largest that fits (never below ``FIELD_VALUE_FLOOR``)."""
    lengths = sorted((len(f.value) for f in fields), reverse=True)
    budget = sum(lengths) - excess
    cap = 0
    for i in range(len(lengths)):  # water-filling: the i + 1 longest values are capped
        rest = sum(lengths[i + 1 :])
        cap = (budget - rest) // (i + 1)
        if cap >= (lengths[i + 1] if i + 1 < len(lengths) else 0):
            break
    cap = max(cap, FIELD_VALUE_FLOOR)
    for f in fields:
        if len(f.value) > cap:
            f.value = _shrink(f.value, cap)


def _shrink(value: str, cap: int) -> str:
    """``value`` in at most ``cap`` characters, line by line: the longest plain line is cut at a word
    boundary first; a line holding a markdown link (``[text](url)``) is never cut, so no link is left
    broken. When no line can be cut further, whole lines go: text lines after the first, then links."""
    lines = value.split("\n")

    def size() -> int:
        return sum(map(len, lines)) + len(lines) - 1

    while size() > cap:
        cuttable = [i for i, line in enumerate(lines) if "](" not in line and len(line) > LINE_FLOOR]
        if cuttable:
            i = max(cuttable, key=lambda i: len(lines[i]))
            lines[i] = trim(lines[i], max(LINE_FLOOR, len(lines[i]) - (size() - cap)))
        elif len(lines) > 1:  # a line of text goes before a link, the first line last
            plain = [i for i, line in enumerate(lines) if i and "](" not in line]
            lines.pop(plain[-1] if plain else -1)
        else:
            return trim(value, cap)
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    data: bytes
    description: str = ""


@dataclass(slots=True)
class Pager:
    """A reply that is one page of several. ``command`` and ``args`` re-run the command for another page
    (see ``bot.commands.paging``); ``token`` is set once the pager is saved."""

    command: str
    args: dict[str, Any]
    page: int
    pages: int
    token: int | None = None


@dataclass(slots=True)
class Reply:
    content: str = ""
    embeds: list[Embed] = field(default_factory=list)
    files: list[Attachment] = field(default_factory=list)
    ephemeral: bool = False
    pager: Pager | None = None

    @property
    def text(self) -> str:
        """Everything a reader sees, as plain text (for logs and tests)."""
        parts = [self.content]
        for e in self.embeds:
            parts += [e.title, e.description]
            parts += [f"{f.name}: {f.value}" for f in e.fields]
            parts.append(e.footer)
        return "\n".join(p for p in parts if p)

    def fitted_content(self) -> str:
        return trim(self.content, CONTENT_LIMIT)

    def fitted_embeds(self) -> list[dict[str, Any]]:
        """At most 10 embeds in Discord's wire shape, each within its limits and all of them together
        within the 6,000 characters a message may hold (trailing fields, then embeds, are dropped)."""
        embeds = [e.fitted() for e in self.embeds[:10]]

        def excess() -> int:
            return sum(e.size() for e in embeds) - EMBED_TOTAL_LIMIT

        while excess() > 0:
            last = embeds[-1]
            if last.fields:
                last.fields.pop()
            elif len(embeds) > 1:
                embeds.pop()
            else:
                keep = len(last.description) - excess()
                last.description = trim(last.description, keep) if keep > 1 else ""
                break
        return [e.to_dict() for e in embeds]


def pages_of(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))
