"""Text folding for matching: case, width and accents removed, with a map back to the original text.

``fold("Tartūs")`` → ``"tartus"``. Matching runs on folded text; every hit is reported as a span of the
*original* text through the offset map, so explanations and bold markup point at what the reader saw.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=65536)
def fold_char(ch: str) -> str:
    """One character folded: NFKD, combining marks and Arabic tatweel dropped, casefolded, NFKC."""
    out = []
    for c in unicodedata.normalize("NFKD", ch):
        if unicodedata.category(c) in ("Mn", "Me") or c == "\u0640":
            continue
        out.append(c)
    return unicodedata.normalize("NFKC", "".join(out).casefold())


def fold(text: str) -> str:
    """``text`` folded for comparison (see module docstring). Idempotent."""
    if text.isascii():
        return text.lower()
    return "".join(fold_char(c) for c in text)


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """(folded text, offsets) where ``offsets[i]`` is the index in ``text`` of folded character ``i``;
    ``offsets`` has one extra element, ``len(text)``, so an end index maps too."""
    if text.isascii():
        return text.lower(), list(range(len(text) + 1))
    parts: list[str] = []
    offsets: list[int] = []
    for i, c in enumerate(text):
        f = fold_char(c)
        parts.append(f)
        offsets.extend([i] * len(f))
    offsets.append(len(text))
    return "".join(parts), offsets
