"""Durations as people write them in keywords.yaml and slash commands: ``30s``, ``5m``, ``1h30m``, ``7d``."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.ASCII)
_WHOLE = re.compile(r"(?:\s*\d+(?:\.\d+)?\s*[smhdw])+\s*", re.ASCII)


class DurationError(ValueError):
    pass


def parse_duration(text: str | int | float, *, allow_zero: bool = False) -> float:
    """Seconds in ``text``. A bare number is seconds. Raises ``DurationError`` with a readable message.
    ``allow_zero``: zero in any form (``0``, ``0s``, ``0h0m``) is a duration too."""
    if isinstance(text, bool):
        raise DurationError(f"{text!r} is not a duration; write it like 30s, 5m, 1h or 7d")
    if isinstance(text, int | float):
        if text < 0 or (text == 0 and not allow_zero):
            raise DurationError(f"duration must be positive, got {text}")
        return float(text)
    s = str(text).strip().lower()
    if allow_zero and s == "0":
        return 0.0
    if not s or not _WHOLE.fullmatch(s):
        raise DurationError(f"{text!r} is not a duration; write it like 30s, 5m, 1h or 7d")
    seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(s))
    if seconds <= 0 and not allow_zero:
        raise DurationError(f"duration must be positive, got {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact form: 90 → ``1m30s``, 86400 → ``1d``."""
    if seconds <= 0:
        return "0s"
    out = []
    rest = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, rest = divmod(rest, size)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out) or "0s"
