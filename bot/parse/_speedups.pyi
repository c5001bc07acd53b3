"""The optional C accelerator of ``bot.parse.normalise`` and ``bot.parse.guards`` (bot/parse/_speedups.c)."""

def strip_tags(s: str, /) -> str | None:
    """``normalise._strip_tags_loop(s)``, or None when that loop must decide (see the C source)."""

def collapse(s: str, /) -> str:
    """``" ".join(s.split())``."""

def unescape(s: str, /) -> str:
    """``html.unescape(s)``, once ``configure`` has handed over its tables."""

def configure(
    html5: dict[str, str], invalid_charrefs: dict[int, str], invalid_codepoints: set[int], /
) -> None:
    """Hand over ``html.entities.html5``, ``html._invalid_charrefs`` and ``html._invalid_codepoints``."""

def count(data: bytes, needle: bytes, /) -> int:
    """``data.count(needle)`` (``needle`` not empty)."""
