"""The time window and filters a chart is drawn for, read from query parameters (the page and the
API read them alike): `range` 24h | 7d | 30d | custom (with `start` and `end`), `processor`.

It also picks the rollup rows to read (minute rows for short, recent windows; hour and day rows
otherwise) and the width of a chart's point (minute, hour or day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from analytics.compaction import hour_cutoff, minute_cutoff
from analytics.models import Period
from analytics.upsert import floor, step

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
RANGE_CHOICES = (*RANGES, "custom")
MAX_SPAN = timedelta(days=366)
MINUTE_SPAN = timedelta(hours=6)
HOUR_SPAN = timedelta(days=3)


@dataclass(frozen=True)
class Window:
    range: str
    start: datetime
    end: datetime
    processor: str  # "" for all
    owner: int | None  # None: everyone's (staff)

    @property
    def periods(self) -> tuple[str, ...]:
        """The rollup rows to read: minute rows, or hour and day rows (they never overlap)."""
        return (Period.MINUTE,) if self.point == Period.MINUTE else (Period.HOUR, Period.DAY)

    @property
    def point(self) -> str:
        """The width of one point on a chart."""
        span = self.end - self.start
        if span <= MINUTE_SPAN and self.start >= minute_cutoff():
            return Period.MINUTE
        if span <= HOUR_SPAN and self.start >= hour_cutoff():
            return Period.HOUR
        return Period.DAY

    def points(self) -> list[datetime]:
        """Every point's start, oldest first."""
        width = step(self.point)
        at, out = floor(self.start, self.point), []
        while at < self.end:
            out.append(at)
            at += width
        return out

    def as_dict(self) -> dict:
        return {
            "range": self.range,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "processor": self.processor,
            "point": Period(self.point).label,
        }


class BadParam(ValueError):
    def __init__(self, message: str, accepts: str) -> None:
        super().__init__(message)
        self.accepts = accepts


def _instant(raw: str, name: str) -> datetime:
    value = parse_datetime(raw)
    if value is None:
        day = parse_date(raw)
        if day is None:
            raise BadParam(f"{raw!r} is not a date.", "an ISO 8601 date or date-time")
        value = datetime(day.year, day.month, day.day)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value


def parse_window(
    params, owner: int | None, processors: tuple[str, ...], now: datetime | None = None
) -> tuple[Window | None, dict[str, dict[str, str]]]:
    """(window, errors): every bad parameter named with what it accepts, as the jobs API does."""
    now = now or timezone.now()
    errors: dict[str, dict[str, str]] = {}
    name = params.get("range") or "24h"
    if name not in RANGE_CHOICES:
        errors["range"] = {
            "message": f"Invalid value {name!r}.",
            "accepts": ", ".join(RANGE_CHOICES),
        }
    processor = params.get("processor") or ""
    if processor and processor not in processors:
        errors["processor"] = {
            "message": f"Unknown processor {processor!r}.",
            "accepts": ", ".join(processors),
        }
    bounds: dict[str, datetime] = {}
    for key in ("start", "end"):
        raw = params.get(key) or ""
        if not raw:
            continue
        try:
            bounds[key] = _instant(raw, key)
        except BadParam as exc:
            errors[key] = {"message": str(exc), "accepts": exc.accepts}
    if name == "custom" and "start" not in bounds and "start" not in errors:
        errors["start"] = {
            "message": "A custom range needs a start.",
            "accepts": "an ISO 8601 date or date-time",
        }
    if errors:
        return None, errors
    if name == "custom":
        start, end = bounds["start"], min(bounds.get("end", now), now)
        if "end" in bounds and len(params.get("end", "")) <= 10:
            end = min(bounds["end"] + timedelta(days=1), now)  # a date ends at its midnight
        accepts = f"start before end, at most {MAX_SPAN.days} days apart, not in the future"
        if start >= end:
            errors["start"] = {
                "message": "The range is empty: start must be before end.",
                "accepts": accepts,
            }
        elif end - start > MAX_SPAN:
            errors["start"] = {
                "message": f"The range is longer than {MAX_SPAN.days} days.",
                "accepts": accepts,
            }
        if errors:
            return None, errors
    else:
        end = now
        start = now - RANGES[name]
    return Window(name, start, end, processor, owner), {}
