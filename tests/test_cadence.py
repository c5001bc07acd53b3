"""When feeds are polled, and when a person hears about one: the pure rules in ``bot.cadence``."""

from __future__ import annotations

import random

import pytest

from bot import cadence
from bot.rules.load import parse_rules

HOUR = 3600.0
DAY = 86400.0
NOW = 1_800_000_000.0


def test_auto_interval_follows_the_item_rate_within_bounds() -> None:
    every_10_min = [NOW - i * 600 for i in range(1, 40)]
    assert cadence.auto_interval(every_10_min, NOW) == pytest.approx(600.0)
    firehose = [NOW - i * 5 for i in range(1, 200)]
    assert cadence.auto_interval(firehose, NOW) == cadence.MIN_AUTO
    twice_a_week = [NOW - 1 * DAY, NOW - 4 * DAY, NOW - 8 * DAY]
    assert cadence.auto_interval(twice_a_week, NOW) == cadence.MAX_AUTO
    just_one = [NOW - 60]  # a new feed with one item: judged over at least an hour
    assert cadence.auto_interval(just_one, NOW) == 3600.0
    young = [NOW - i * 600 for i in range(0, 30)]  # a feed showing only its last 5 hours
    assert cadence.auto_interval(young, NOW) == pytest.approx(600.0, rel=0.05)
    nothing_this_week = [NOW - 30 * DAY, NOW - 40 * DAY]
    assert cadence.auto_interval(nothing_this_week, NOW) == cadence.MAX_AUTO
    assert cadence.auto_interval([], NOW) == cadence.MAX_AUTO
    hourly = [NOW - i * HOUR for i in range(1, 100)]  # a week of hourly items (older ones fall outside)
    assert cadence.auto_interval(hourly, NOW) == pytest.approx(HOUR, rel=0.02)


@pytest.mark.parametrize(
    ("headers", "ttl", "expected"),
    [
        ({}, None, None),
        ({"Cache-Control": "public, max-age=1800"}, None, 1800.0),
        ({"cache-control": 'max-age="900", must-revalidate'}, None, 900.0),
        ({"Cache-Control": "no-cache"}, None, None),
        ({"Cache-Control": "max-age=0"}, None, None),
        ({"Cache-Control": "max-age=nonsense"}, None, None),
        ({"Expires": "Thu, 15 Jan 2027 08:00:00 GMT", "Date": "Thu, 15 Jan 2027 07:00:00 GMT"}, None, 3600.0),
        ({"Expires": "0"}, None, None),
        (
            {"Expires": "Thu, 15 Jan 2027 08:00:00 GMT", "Cache-Control": "max-age=60"},
            None,
            60.0,
        ),  # max-age wins
        ({"Cache-Control": "max-age=600"}, 3600, 3600.0),  # the longest ask
    ],
)
def test_cache_hints(headers: dict[str, str], ttl: int | None, expected: float | None) -> None:
    assert cadence.cache_hint(headers, ttl, NOW) == expected


def test_hints_lengthen_adaptive_polling_but_never_fixed_intervals() -> None:
    busy = [NOW - i * 60 for i in range(1, 100)]
    assert cadence.success_delay(None, times=busy, now=NOW, hint=None) == cadence.MIN_AUTO
    assert cadence.success_delay(None, times=busy, now=NOW, hint=1800) == 1800
    assert cadence.success_delay(None, times=busy, now=NOW, hint=3 * DAY) == cadence.MAX_AUTO
    assert cadence.success_delay(300.0, times=busy, now=NOW, hint=1800) == 300.0


def test_an_overflowing_feed_is_polled_twice_as_often_as_the_window_it_overflowed_in() -> None:
    assert cadence.overflowed(20, 20, first_poll=False)
    assert not cadence.overflowed(20, 20, first_poll=True)  # a first poll: everything is new
    assert not cadence.overflowed(20, 19, first_poll=False)  # one item was already known: no gap
    assert not cadence.overflowed(4, 4, first_poll=False)  # too few items to tell
    assert not cadence.overflowed(20, 20, first_poll=False, had_items=False)  # empty until now
    quiet = [NOW - i * 6 * 3600 for i in range(1, 20)]  # an item every 6 h: polled every 6 h
    assert cadence.success_delay(None, times=quiet, now=NOW) == cadence.MAX_AUTO
    assert cadence.success_delay(None, times=quiet, now=NOW, overflow_window=3600) == 1800
    assert cadence.success_delay(None, times=quiet, now=NOW, overflow_window=60) == cadence.MIN_AUTO
    assert cadence.success_delay(None, times=quiet, now=NOW, overflow_window=3600, hint=2700) == 2700
    assert (
        cadence.success_delay(900.0, times=quiet, now=NOW, overflow_window=60) == 900.0
    )  # fixed: as written


def test_fixed_intervals_keep_their_phase_exactly() -> None:
    # Scheduled at 1000, started 0.8 s late: the next poll is 1000 + 300, not 1000.8 + 300.
    assert cadence.next_poll_at(at=1000.8, scheduled=1000.0, interval=300.0, delay=300.0) == 1300.0
    assert cadence.next_poll_at(at=1000.0, scheduled=1000.0, interval=30.0, delay=30.0) == 1030.0
    # Far behind (the bot was down): one interval from now, no burst of catch-up polls.
    assert cadence.next_poll_at(at=5000.0, scheduled=1000.0, interval=300.0, delay=300.0) == 5300.0


def test_a_retry_past_the_day_or_week_mark_is_brought_forward_to_it() -> None:
    since = 1_000_000.0
    day, week = cadence.NOTICE_AFTER, cadence.PAUSE_AFTER
    # 4 h after the streak began, a 6 h backoff lands at 10 h: well before the mark, unchanged
    assert cadence.until_escalation(6 * 3600, since, since + 4 * 3600) == 6 * 3600
    # 20 h in, a 6 h backoff would land at 26 h: the retry comes at 24 h instead
    assert cadence.until_escalation(6 * 3600, since, since + 20 * 3600) == 4 * 3600
    # past the day mark, the week mark likewise
    assert cadence.until_escalation(6 * 3600, since, since + week - 3600) == 3600
    assert cadence.until_escalation(6 * 3600, since, since + day + 3600) == 6 * 3600
    # a Retry-After is still obeyed
    assert cadence.until_escalation(6 * 3600, since, since + 20 * 3600, retry_after=5 * 3600) == 5 * 3600


def test_adaptive_polls_get_jitter_and_never_earlier() -> None:
    rng = random.Random(7)
    seen = {
        cadence.next_poll_at(at=0.0, scheduled=None, interval=None, delay=600.0, rng=rng) for _ in range(50)
    }
    assert all(600.0 <= s <= 660.0 for s in seen) and len(seen) > 40


def test_failure_backoff_doubles_is_capped_and_obeys_retry_after() -> None:
    assert [cadence.failure_delay(300.0, n) for n in (1, 2, 3, 4)] == [300.0, 600.0, 1200.0, 2400.0]
    assert cadence.failure_delay(300.0, 50) == cadence.MAX_BACKOFF
    assert cadence.failure_delay(30.0, 1) == 30.0  # a 30 s feed retries after 30 s, then backs off
    assert cadence.failure_delay(300.0, 1, retry_after=7200.0) == 7200.0
    assert cadence.failure_delay(300.0, 1, retry_after=10 * DAY) == cadence.MAX_RETRY_AFTER
    assert cadence.failure_delay(None, 1, base=120.0) == 120.0  # adaptive: from the interval it had
    assert cadence.failure_delay(None, 1, base=5 * HOUR) == cadence.AUTO_DEFAULT


def test_escalation_after_a_day_and_a_week() -> None:
    assert cadence.escalation(NOW, NOW + 23 * HOUR) == "none"
    assert cadence.escalation(NOW, NOW + DAY) == "notice"
    assert cadence.escalation(NOW, NOW + 6.9 * DAY) == "notice"
    assert cadence.escalation(NOW, NOW + 7 * DAY) == "pause"


def test_gone_quiet_is_relative_to_the_usual_rhythm() -> None:
    hourly = [NOW - i * HOUR for i in range(20)]
    assert cadence.gone_quiet(hourly, NOW + 20 * HOUR) is None  # under the one-day minimum
    silent = cadence.gone_quiet(hourly, NOW + 25 * HOUR)
    assert silent is not None and silent[0] == NOW and silent[1] == pytest.approx(HOUR)
    weekly = [NOW - i * 7 * DAY for i in range(8)]
    assert cadence.gone_quiet(weekly, NOW + 20 * DAY) is None  # a weekly feed three weeks on: not yet
    assert cadence.gone_quiet(weekly, NOW + 71 * DAY) is not None  # ten weeks: quiet
    weekdays_only = [NOW - d * DAY for d in (0, 1, 2, 3, 4, 7, 8, 9, 10, 11)]  # a 3-day weekend gap
    assert cadence.gone_quiet(weekdays_only, NOW + 3 * DAY) is None
    assert cadence.gone_quiet([NOW, NOW - HOUR], NOW + 30 * DAY) is None  # too few items to judge


def test_item_times_prefer_dates_and_skip_undated_backfill() -> None:
    first = 1000.0
    rows = [(500.0, first), (None, first), (None, 2000.0), (9e12, 3000.0)]
    assert cadence.item_times(rows, first, now=3000.0) == [500.0, 2000.0, 3000.0]


def test_intervals_under_a_minute_warn_in_words() -> None:
    config = parse_rules(
        'version: 1\ndefaults:\n  interval: 45s\n  channel: "123456789012345678"\nfeeds:\n'
        "  - {name: quick, url: 'https://e.org/a'}\n"
        "  - {name: fine, url: 'https://e.org/b', interval: 5m}\n"
        "  - {name: quicker, url: 'https://e.org/c', interval: 10s}\n"
        "  - {name: adaptive, url: 'https://e.org/d', interval: auto}\n"
        "rules:\n  - {name: r, keywords: [x]}\n"
    )
    assert cadence.interval_warnings(config) == [
        "feed quick is polled every 45s (defaults.interval), more often than once a minute: "
        "many publishers rate-limit or block that",
        "feed quicker is polled every 10s (its own interval), more often than once a minute: "
        "many publishers rate-limit or block that",
    ]
