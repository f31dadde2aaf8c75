"""Next-run math (jobs.schedule_timing): cron in the schedule's time zone across DST changes,
intervals in elapsed time, once; and what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from jobs.models import ScheduleKind
from jobs.schedule_timing import (
    TimingError,
    first_run,
    following_run,
    next_cron,
    parse_every,
    parse_timing,
    upcoming,
)

NOW = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_cron_keeps_local_time_across_spring_forward():
    # Berlin: CET (UTC+1) until 29 March 2026 01:00 UTC, then CEST (UTC+2).
    runs, moment = [], NOW
    for _ in range(4):
        moment = next_cron("0 9 * * *", moment, "Europe/Berlin")
        runs.append(moment)
    assert runs == [
        utc(2026, 3, 28, 8),
        utc(2026, 3, 29, 7),
        utc(2026, 3, 30, 7),
        utc(2026, 3, 31, 7),
    ]


def test_cron_keeps_local_time_across_fall_back_and_runs_a_repeated_time_once():
    start = utc(2026, 10, 24, 12)
    assert next_cron("0 9 * * *", start, "Europe/Berlin") == utc(2026, 10, 25, 8)
    # 02:30 happens twice on 25 October (CEST, then CET): a daily 02:30 runs once.
    first = next_cron("30 2 * * *", start, "Europe/Berlin")
    assert first == utc(2026, 10, 25, 0, 30)
    assert next_cron("30 2 * * *", first, "Europe/Berlin") == utc(2026, 10, 26, 1, 30)


def test_cron_time_that_does_not_exist_runs_at_the_first_minute_that_does():
    # 29 March 2026, 02:30 Berlin does not exist (clocks jump 02:00 → 03:00).
    assert next_cron("30 2 * * *", NOW + timedelta(days=1), "Europe/Berlin") == utc(2026, 3, 29, 1)


def test_hourly_cron_is_every_hour_of_elapsed_time_when_clocks_go_back():
    runs, moment = [], utc(2026, 10, 24, 23, 30)
    for _ in range(4):
        moment = next_cron("0 * * * *", moment, "Europe/Berlin")
        runs.append(moment.hour)
    assert runs == [0, 1, 2, 3]


def test_cron_in_new_york_is_read_in_new_york():
    # 8 March 2026: New York moves from EST (UTC-5) to EDT (UTC-4).
    before = next_cron("0 9 * * *", utc(2026, 3, 7, 0), "America/New_York")
    after = next_cron("0 9 * * *", before, "America/New_York")
    assert (before, after) == (utc(2026, 3, 7, 14), utc(2026, 3, 8, 13))


def test_interval_is_elapsed_time_and_skips_missed_runs():
    schedule = SimpleNamespace(kind=ScheduleKind.INTERVAL, interval_minutes=60)
    due = utc(2026, 10, 25, 0, 0)
    assert following_run(schedule, due, due) == utc(2026, 10, 25, 1, 0)
    # The scheduler was down for 3½ hours: the next run is the next slot, not four at once.
    assert following_run(schedule, due, due + timedelta(hours=3, minutes=30)) == utc(
        2026, 10, 25, 4
    )


def test_once_has_no_following_run_and_upcoming_lists_the_next_runs():
    once = SimpleNamespace(kind=ScheduleKind.ONCE, next_run_at=NOW)
    assert following_run(once, NOW, NOW) is None
    assert upcoming(once) == [NOW]
    every = SimpleNamespace(kind=ScheduleKind.INTERVAL, interval_minutes=15, next_run_at=NOW)
    assert upcoming(every) == [NOW + timedelta(minutes=15 * n) for n in range(3)]


def test_parse_timing_reads_each_kind_in_the_users_zone():
    once = parse_timing(run_at="2026-04-01T09:00", time_zone="Europe/Berlin", now=NOW)
    assert (once.kind, once.run_at) == (ScheduleKind.ONCE, utc(2026, 4, 1, 7))
    assert first_run(once, NOW) == utc(2026, 4, 1, 7)
    aware = parse_timing(run_at="2026-04-01T09:00+00:00", time_zone="Europe/Berlin", now=NOW)
    assert aware.run_at == utc(2026, 4, 1, 9)
    cron = parse_timing(cron="  0  9 * * 1-5 ", time_zone="Europe/Berlin", now=NOW)
    assert (cron.kind, cron.cron) == (ScheduleKind.CRON, "0 9 * * 1-5")
    assert first_run(cron, NOW) == utc(2026, 3, 30, 7)  # Friday noon → Monday 09:00 CEST
    every = parse_timing(every="2h", now=NOW)
    assert (every.kind, every.interval_minutes, first_run(every, NOW)) == ("interval", 120, NOW)


@pytest.mark.parametrize(
    ("value", "minutes"), [(15, 15), ("15", 15), ("15m", 15), ("2h", 120), ("1 day", 1440)]
)
def test_parse_every(value, minutes):
    assert parse_every(value) == minutes


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "detail"),
        ({"cron": "0 9 * * *", "every": "1h"}, "detail"),
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "* * * * * *"}, "cron"),
        ({"cron": "<script>"}, "cron"),
        ({"cron": 5}, "cron"),
        ({"cron": "0 0 31 2 *"}, "cron"),
        ({"every": "0"}, "every"),
        ({"every": "often"}, "every"),
        ({"every": True}, "every"),
        ({"every": "999999d"}, "every"),
        ({"every": "9" * 5000}, "every"),
        ({"every": "²h"}, "every"),
        ({"every": "١٢"}, "every"),
        ({"cron": "0 9 * * " + "1," * 100}, "cron"),
        ({"run_at": "9" * 5000}, "run_at"),
        ({"run_at": "tomorrow"}, "run_at"),
        ({"run_at": "2020-01-01T00:00"}, "run_at"),
        ({"run_at": "2026-13-45T99:00"}, "run_at"),
        ({"cron": "0 * * * *", "run_at": "2030-01-01T00:00"}, "run_at"),
        ({"every": "1h", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"every": "1h", "time_zone": 5}, "time_zone"),
        ({"every": "1h", "time_zone": "../../etc/passwd"}, "time_zone"),
        ({"every": "1h", "time_zone": "Europe/Ber\x00lin"}, "time_zone"),
    ],
)
def test_parse_timing_refuses_bad_input_naming_the_field(fields, field):
    with pytest.raises(TimingError) as caught:
        parse_timing(now=NOW, **fields)
    assert caught.value.field == field
