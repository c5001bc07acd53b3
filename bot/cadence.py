"""When to poll a feed next — pure functions of what the last poll saw.

A fixed ``interval`` (on the feed or in ``defaults``) is honoured as written. Without one (``auto``),
feeds are polled every ``AUTO_DEFAULT`` seconds. After a failure the wait doubles with every consecutive
failure (starting at the interval, capped at ``MAX_BACKOFF``); a ``Retry-After`` from the server is obeyed
when longer.
"""

from __future__ import annotations

AUTO_DEFAULT = 600.0
MAX_BACKOFF = 6 * 3600.0


def success_delay(interval: float | None) -> float:
    return interval if interval is not None else AUTO_DEFAULT


def failure_delay(
    interval: float | None, consecutive_failures: int, retry_after: float | None = None
) -> float:
    """Seconds to wait after the ``consecutive_failures``-th failure in a row (1 = first)."""
    base = success_delay(interval)
    n = max(0, consecutive_failures - 1)
    delay = min(MAX_BACKOFF, base * float(2 ** min(n, 20)))
    delay = max(delay, base)  # never poll a failing feed more often than a healthy one
    if retry_after is not None:
        delay = max(delay, min(retry_after, 24 * 3600.0))
    return delay
