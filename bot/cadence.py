"""When to poll a feed next, and when a failing or silent feed needs a person — pure functions of what the
polls saw. No I/O; the pipeline asks, the store remembers.

**Fixed interval** (``interval: 5m`` on the feed or in ``defaults``): honoured exactly. The next poll is
one interval after the *scheduled* time of this one (not after it happened to start), so a 5-minute feed
is fetched every 5 minutes on the dot, with no hidden floor and no jitter; start times are spread once,
when the bot starts. Intervals under a minute are allowed, with a warning (``interval_warnings``).

**Adaptive** (``interval: auto``, the default): modelled on Miniflux's entry-frequency scheduler. The
interval is the average time per item over the last week (the week's length divided by the number of
items in it; for a feed whose known history is shorter than a week, that history, at least an hour),
clamped to ``MIN_AUTO``–``MAX_AUTO`` (2 min – 6 h); a feed with no item in a week is polled every
``MAX_AUTO``. It is never shorter than the feed or server asks
for: RSS ``<ttl>``, ``Cache-Control: max-age``, ``Expires`` (capped at ``MAX_AUTO`` too). Up to 10 % of
jitter is added, always later, never earlier.

**Failures**: the wait doubles with each consecutive failure, starting at the feed's interval, capped at
``MAX_BACKOFF`` (6 h), plus up to 10 % jitter; a ``Retry-After`` (429/503) is obeyed whenever it is
longer (up to a day). After ``NOTICE_AFTER`` (a day) of consecutive failures the admin channel gets one
notice; after ``PAUSE_AFTER`` (7 days) the feed is paused, with a notice, until it is resumed. A retry
that would land past either mark is brought forward to it (``until_escalation``), so the notice and the
pause come on time rather than a backoff step (up to 6 h) late.

**Gone quiet**: a feed whose last item is far older than its usual rhythm — more than ``QUIET_FACTOR``
times its average gap, more than ``QUIET_SPAN_FACTOR`` times its longest recent gap, and at least
``QUIET_MIN`` — gets one notice per silence.

**Overflowed**: when every item a feed carries (at least ``OVERFLOW_MIN_ITEMS``) is new at a poll that is
not its first, items were probably published and pushed out of the feed between two polls, never seen.
The admin channel hears of it (once a day per feed at most); an adaptive feed is then polled at least
twice as often as the window it overflowed in (``success_delay(overflow_window=…)``), within the usual
bounds and what the server asks; a fixed interval stays as written, and the notice suggests a shorter one.
"""

from __future__ import annotations

import contextlib
import itertools
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

from bot.rules.durations import format_duration
from bot.rules.model import Config

MIN_AUTO = 120.0
MAX_AUTO = 6 * 3600.0
#: Adaptive feeds before anything is known about them (never used once a poll has succeeded).
AUTO_DEFAULT = 600.0
MAX_BACKOFF = 6 * 3600.0
MAX_RETRY_AFTER = 24 * 3600.0
JITTER = 0.10
WARN_BELOW = 60.0
WEEK = 7 * 86400.0

NOTICE_AFTER = 86400.0
PAUSE_AFTER = 7 * 86400.0

QUIET_FACTOR = 10.0
QUIET_SPAN_FACTOR = 3.0
QUIET_MIN = 86400.0
QUIET_MIN_ITEMS = 5
#: Items (newest first) the rhythm is judged on.
RHYTHM_ITEMS = 50
#: A feed that moves and carries only one or two items is "all new" at every poll: say nothing then.
OVERFLOW_MIN_ITEMS = 5


# -- success ---------------------------------------------------------------------------------------------


def auto_interval(times: Sequence[float], now: float) -> float:
    """The adaptive interval from the item times (epoch seconds) the feed has shown: the average time
    per item over the last week — or over the feed's whole known history when that is shorter (at least
    an hour), so a new or short feed is judged on what it shows."""
    past = [t for t in times if t <= now]
    if not past:
        return MAX_AUTO
    window = min(WEEK, max(3600.0, now - min(past)))
    recent = sum(1 for t in past if t >= now - window)
    if recent == 0:
        return MAX_AUTO
    return min(MAX_AUTO, max(MIN_AUTO, window / recent))


def cache_hint(headers: Mapping[str, str], ttl_seconds: float | None, now: float) -> float | None:
    """The longest wait the server (``Cache-Control: max-age``, ``Expires``) or the feed (``<ttl>``)
    asks for, in seconds; None when none does."""
    hints: list[float] = []
    if ttl_seconds and ttl_seconds > 0:
        hints.append(float(ttl_seconds))
    h = {k.lower(): v for k, v in headers.items()}
    directives = [d.strip().lower() for d in h.get("cache-control", "").split(",")]
    for d in directives:
        name, _, value = d.partition("=")
        if name.strip() == "max-age":
            with contextlib.suppress(ValueError):
                hints.append(float(int(value.strip().strip('"'))))
    if "expires" in h and not any(d.startswith("max-age") for d in directives):
        expires = _http_date(h["expires"])
        sent = _http_date(h.get("date", "")) or now
        if expires is not None and expires > sent:
            hints.append(expires - sent)
    hints = [x for x in hints if x > 0]
    return max(hints) if hints else None


def _http_date(value: str) -> float | None:
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def success_delay(
    interval: float | None,
    *,
    times: Sequence[float] = (),
    now: float | None = None,
    hint: float | None = None,
    overflow_window: float | None = None,
) -> float:
    """Seconds until the next poll after a successful one (before jitter). ``overflow_window``: the feed
    overflowed in that many seconds since its last read (``overflowed``): an adaptive feed is polled at
    least twice as often."""
    if interval is not None:
        return interval
    if now is None:
        return AUTO_DEFAULT
    delay = auto_interval(times, now)
    if overflow_window is not None:
        delay = max(MIN_AUTO, min(delay, overflow_window / 2))
    if hint is not None:
        delay = max(delay, min(hint, MAX_AUTO))
    return delay


def next_poll_at(
    *,
    at: float,
    scheduled: float | None,
    interval: float | None,
    delay: float,
    rng: random.Random | None = None,
) -> float:
    """When to poll next after a success at ``at``. A fixed interval keeps its phase: one interval after
    the scheduled time when the poll ran within an interval of it. Adaptive delays get jitter."""
    if interval is not None:
        if scheduled is not None and 0 <= at - scheduled < interval:
            return scheduled + interval
        return at + interval
    return at + jittered(delay, rng)


def jittered(delay: float, rng: random.Random | None = None) -> float:
    """``delay`` plus up to ``JITTER`` of it: spreads feeds apart, never polls earlier than asked."""
    return delay * (1.0 + JITTER * (rng or random).random())


# -- failure ---------------------------------------------------------------------------------------------


def doubling(step: int, start: float, cap: float) -> float:
    """Exponential backoff, the one formula for every retry in the bot (feeds, alerts, notices):
    ``start`` × 2^``step``, at most ``cap``."""
    return float(min(cap, start * float(2 ** min(max(step, 0), 30))))


def failure_delay(
    interval: float | None,
    consecutive_failures: int,
    retry_after: float | None = None,
    *,
    base: float | None = None,
) -> float:
    """Seconds to wait after the ``consecutive_failures``-th failure in a row (1 = first), before jitter.

    ``base`` is the adaptive interval the feed had reached (fixed intervals use ``interval``)."""
    start = interval if interval is not None else min(base or AUTO_DEFAULT, AUTO_DEFAULT)
    delay = max(
        doubling(consecutive_failures - 1, start, MAX_BACKOFF), start
    )  # never poll a failing feed more often than a healthy one
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def until_escalation(
    delay: float, failing_since: float, now: float, retry_after: float | None = None
) -> float:
    """``delay``, shortened so that the next attempt falls due when the failure streak reaches a day (the
    notice) or a week (the pause), so neither comes a backoff step late — but never sooner than a
    ``Retry-After`` asked."""
    for mark in (failing_since + NOTICE_AFTER, failing_since + PAUSE_AFTER):
        if now < mark < now + delay:
            floor = min(retry_after, MAX_RETRY_AFTER) if retry_after is not None else 0.0
            return max(mark - now, floor)
    return delay


Escalation = Literal["none", "notice", "pause"]


def escalation(failing_since: float, now: float) -> Escalation:
    """What a failure streak that began at ``failing_since`` calls for now."""
    span = now - failing_since
    if span >= PAUSE_AFTER:
        return "pause"
    if span >= NOTICE_AFTER:
        return "notice"
    return "none"


# -- overflow --------------------------------------------------------------------------------------------


def overflowed(carried: int, new: int, *, first_poll: bool, had_items: bool = True) -> bool:
    """Whether a feed that carries ``carried`` distinct items, ``new`` of them unseen, has probably dropped
    items between this poll and the last (see the module docstring). A feed that had no items before
    (empty until now) has dropped nothing."""
    return not first_poll and had_items and carried >= OVERFLOW_MIN_ITEMS and new >= carried


# -- silence ---------------------------------------------------------------------------------------------


def quiet_threshold(times: Sequence[float]) -> float | None:
    """How long a silence is "far longer than usual" for a feed whose recent items came at ``times``;
    None when there are too few items to know its rhythm."""
    recent = sorted(times, reverse=True)[:RHYTHM_ITEMS]
    if len(recent) < QUIET_MIN_ITEMS:
        return None
    gaps = [a - b for a, b in itertools.pairwise(recent)]
    mean_gap = (recent[0] - recent[-1]) / (len(recent) - 1)
    return max(QUIET_MIN, QUIET_FACTOR * mean_gap, QUIET_SPAN_FACTOR * max(gaps))


def gone_quiet(times: Sequence[float], now: float) -> tuple[float, float] | None:
    """``(last_item_time, usual_gap)`` when the feed has gone quiet, else None."""
    threshold = quiet_threshold([t for t in times if t <= now])
    if threshold is None:
        return None
    last = max(t for t in times if t <= now)
    if now - last <= threshold:
        return None
    recent = sorted((t for t in times if t <= now), reverse=True)[:RHYTHM_ITEMS]
    return last, (recent[0] - recent[-1]) / (len(recent) - 1)


def item_times(
    rows: Sequence[tuple[float | None, float]], first_polled_at: float | None, now: float
) -> list[float]:
    """When a feed's items appeared, from the store's ``(published, seen_at)`` pairs: the publication
    date when it is plausible (not in the future), else when the item was first seen — except items
    recorded on the feed's first poll without a date, which say nothing about its rhythm."""
    out = []
    for published, seen in rows:
        if published is not None and published <= max(seen, now) + 3600:
            out.append(min(published, seen))
        elif first_polled_at is None or seen > first_polled_at:
            out.append(seen)
    return out


# -- words -----------------------------------------------------------------------------------------------


def when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def span(seconds: float) -> str:
    """A rough, readable duration: ``3 days``, ``5 h``, ``12 min``."""
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 86400:
        return "1 day"
    if seconds >= 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{max(1.0, seconds / 60):.0f} min"


def interval_warnings(config: Config) -> list[str]:
    """A warning for every feed polled more often than once a minute (allowed, but impolite)."""
    out = []
    for feed in config.feeds:
        iv = config.interval_for(feed)
        if iv is not None and iv < WARN_BELOW:
            where = "its own interval" if feed.interval is not None else "defaults.interval"
            out.append(
                f"feed {feed.name} is polled every {format_duration(iv)} ({where}), more often than once a "
                "minute: many publishers rate-limit or block that"
            )
    return out
