"""When a schedule runs: reading what people give (a time, a cron expression, an interval) and
the next-run math, in the schedule's time zone. Pure functions: no database.

- once: at `run_at`, then never again.
- cron: five fields (croniter), read in the schedule's IANA time zone, so `0 9 * * *` is 09:00
  local time in summer and in winter. When clocks go back, a time of day with a fixed hour runs
  once, not twice; when they go forward, a time that does not exist runs at the first minute
  that does (croniter's rule).
- interval: every N minutes of elapsed time from the first run (`run_at`, or when it was made),
  whatever the clocks do. Runs missed while the scheduler was down are skipped, not caught up.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta

from croniter import CroniterError, croniter
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from jobs.models import ScheduleKind

MAX_INTERVAL_MINUTES = 366 * 24 * 60
_EVERY = re.compile(
    r"^\s*(\d{1,9})\s*(m|min|mins|minutes?|h|hours?|d|days?)?\s*$", re.IGNORECASE | re.ASCII
)
_UNIT_MINUTES = {"m": 1, "h": 60, "d": 1440}


class TimingError(ValueError):
    """Bad timing input; `field` names the input it concerns."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Timing:
    kind: str
    run_at: datetime | None = None
    cron: str = ""
    interval_minutes: int | None = None
    time_zone: str = "UTC"

    def as_fields(self) -> dict:
        return {
            "kind": self.kind,
            "run_at": self.run_at,
            "cron": self.cron,
            "interval_minutes": self.interval_minutes,
            "time_zone": self.time_zone,
        }


def zone(name: str | None) -> zoneinfo.ZoneInfo:
    """The IANA zone `name` (empty: the site's TIME_ZONE)."""
    name = "" if name is None else name
    if not isinstance(name, str) or len(name) > 64:
        raise TimingError("time_zone", "An IANA time zone name, e.g. Europe/Berlin.")
    try:
        return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise TimingError("time_zone", f"Unknown time zone {name!r}.") from None


def parse_every(value) -> int:
    """Minutes from `every`: 15, "15", "15m", "2h", "1d" (at least 1 minute, at most a year)."""
    if isinstance(value, bool):
        value = None
    match = _EVERY.match(str(value)) if isinstance(value, (int, str)) else None
    if not match:
        raise TimingError("every", "A number of minutes, or e.g. 15m, 2h, 1d.")
    unit = (match.group(2) or "m")[0].lower()
    minutes = int(match.group(1)) * _UNIT_MINUTES[unit]
    if not 1 <= minutes <= MAX_INTERVAL_MINUTES:
        raise TimingError("every", "From 1 minute to 366 days.")
    return minutes


def parse_cron(value) -> str:
    """A five-field cron expression (or @hourly, @daily, @weekly, @monthly, @yearly)."""
    text = " ".join(str(value).split()) if isinstance(value, str) else ""
    aliases = ("@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually")
    shape_ok = len(text.split()) == 5 or text.lower() in aliases
    if not text or len(text) > 120 or not shape_ok or not croniter.is_valid(text):
        raise TimingError(
            "cron", "Five fields: minute hour day-of-month month day-of-week, e.g. 0 9 * * 1-5."
        )
    try:
        croniter(text, timezone.now()).get_next(datetime)
    except (CroniterError, ValueError, KeyError, OverflowError):
        raise TimingError(
            "cron", "This expression never matches a date (e.g. 30 February)."
        ) from None
    return text


def parse_at(value, tz: zoneinfo.ZoneInfo, now: datetime) -> datetime:
    """An ISO 8601 date and time; without an offset it is read in `tz`. Must be in the future."""
    moment = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and len(value) <= 64:
        try:
            moment = parse_datetime(value.strip().replace(" ", "T", 1))
        except ValueError:
            moment = None
    if moment is None:
        raise TimingError("run_at", "A date and time, e.g. 2030-01-31T09:00 (ISO 8601).")
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=tz)
    if moment <= now:
        raise TimingError("run_at", "A time in the future.")
    return moment.astimezone(zoneinfo.ZoneInfo("UTC"))


def parse_timing(
    *, run_at=None, cron=None, every=None, time_zone: str = "UTC", now: datetime | None = None
) -> Timing:
    """Exactly one of `run_at` (once), `cron` or `every`; with `every`, `run_at` is the first
    run (default: now)."""
    now = now or timezone.now()
    tz = zone(time_zone)
    given = [name for name, v in (("cron", cron), ("every", every)) if v not in (None, "")]
    if len(given) > 1:
        raise TimingError("detail", "Give either cron or every, not both.")
    start = parse_at(run_at, tz, now) if run_at not in (None, "") else None
    if given == ["cron"]:
        if start is not None:
            raise TimingError("run_at", "A cron schedule starts by itself; leave run_at out.")
        return Timing(ScheduleKind.CRON, cron=parse_cron(cron), time_zone=tz.key)
    if given == ["every"]:
        return Timing(
            ScheduleKind.INTERVAL,
            run_at=start,
            interval_minutes=parse_every(every),
            time_zone=tz.key,
        )
    if start is None:
        raise TimingError("detail", "Say when: run_at (once), cron, or every.")
    return Timing(ScheduleKind.ONCE, run_at=start, time_zone=tz.key)


def _fixed_hour(expression: str) -> bool:
    """True when the expression names its hours (`30 2 * * *`, `@daily`), not `*` or @hourly."""
    if expression.startswith("@"):
        return expression.lower() != "@hourly"
    fields = expression.split()
    return len(fields) == 5 and "*" not in fields[1]


def next_cron(expression: str, after: datetime, time_zone: str) -> datetime:
    """The first time after `after` that matches, read in `time_zone` (aware, UTC)."""
    local = after.astimezone(zone(time_zone))
    found = croniter(expression, local).get_next(datetime)
    # Clocks going back repeat an hour: 02:30 happens twice. A fixed time of day runs once.
    if _fixed_hour(expression) and found.replace(tzinfo=None) == local.replace(tzinfo=None):
        found = croniter(expression, found).get_next(datetime)
    return found.astimezone(zoneinfo.ZoneInfo("UTC"))


def first_run(timing: Timing, now: datetime) -> datetime:
    if timing.kind == ScheduleKind.CRON:
        return next_cron(timing.cron, now, timing.time_zone)
    return timing.run_at or now


def following_run(schedule, due: datetime, now: datetime) -> datetime | None:
    """The run after the one due at `due`, skipping any that `now` has passed; None for once."""
    if schedule.kind == ScheduleKind.ONCE:
        return None
    if schedule.kind == ScheduleKind.CRON:
        return next_cron(schedule.cron, max(due, now), schedule.time_zone)
    step = timedelta(minutes=schedule.interval_minutes)
    missed = max(0, int((now - due) // step))
    return due + step * (missed + 1)


def upcoming(schedule, count: int = 3) -> list[datetime]:
    """The next `count` runs from its stored next run (for pages)."""
    runs: list[datetime] = []
    moment = schedule.next_run_at
    while moment is not None and len(runs) < count:
        runs.append(moment)
        moment = following_run(schedule, moment, moment)
    return runs
