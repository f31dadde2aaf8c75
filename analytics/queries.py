"""Chart data read from the rollups: one grouped query per kind of rollup, whatever the number
of items behind it. Every function takes a Window and returns rows (dicts) oldest first."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models import QuerySet, Sum

from analytics import bins
from analytics.models import (
    ERROR_FIELDS,
    ERROR_OTHER,
    ApiRollup,
    HostRollup,
    ItemRollup,
    Period,
    QueueSample,
    WebhookRollup,
)
from analytics.upsert import floor, step
from analytics.window import Window

ITEM_SUMS = (
    "succeeded",
    "failed",
    "cancelled",
    "duration_sum",
    "bytes",
    *ERROR_FIELDS.values(),
    ERROR_OTHER,
    *bins.FIELDS,
)
API_SUMS = ("requests", "client_errors", "server_errors", "duration_sum", *bins.FIELDS)
WEBHOOK_SUMS = ("delivered", "failed")


def _rows(model, window: Window, fields: tuple[str, ...], processor: bool = True) -> QuerySet:
    rows = model.objects.filter(
        period__in=window.periods,
        start__gte=floor(window.start, window.point),
        start__lt=window.end,
    )
    if window.owner is not None:
        rows = rows.filter(owner=window.owner)
    if processor and window.processor:
        rows = rows.filter(processor=window.processor)
    return rows


def _by_point(
    window: Window, rows: QuerySet, fields: tuple[str, ...]
) -> dict[datetime, dict[str, float]]:
    """The rows summed per chart point (a day point adds up the hour rows it holds).

    Run as plain SQL: Django's per-value converters would cost more than the query (a 30-day
    range is ~60 sums × ~1,000 rows)."""
    points: dict[datetime, dict[str, float]] = {
        at: dict.fromkeys(fields, 0) for at in window.points()
    }
    grouped = rows.values("start").order_by("start").annotate(**{f"s_{f}": Sum(f) for f in fields})
    sql, params = grouped.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for start, *sums in cursor.fetchall():
            point = points.get(floor(_aware(start), window.point))
            if point is None:
                continue
            for f, value in zip(fields, sums, strict=True):
                point[f] += float(value or 0)  # PostgreSQL sums bigints as numeric
    return points


def _aware(value: datetime | str) -> datetime:
    """A `start` as the database gave it (SQLite: text) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _rate(good: float, bad: float) -> float | None:
    return round(100.0 * good / (good + bad), 2) if good + bad else None


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def item_points(window: Window) -> dict[datetime, dict[str, float]]:
    return _by_point(window, _rows(ItemRollup, window, ITEM_SUMS), ITEM_SUMS)


def summed_histogram(points: dict[datetime, dict[str, float]]) -> list[int]:
    """The histogram of a whole range (percentiles of points cannot be averaged)."""
    return [int(sum(p[f] for p in points.values())) for f in bins.FIELDS]


def items_series(window: Window, points: dict[datetime, dict[str, float]]) -> list[dict[str, Any]]:
    minutes = step(window.point).total_seconds() / 60
    out = []
    for at, p in points.items():
        p50, p95, p99 = bins.percentiles([int(p[f]) for f in bins.FIELDS])
        done = p["succeeded"] + p["failed"]
        out.append(
            {
                "start": at.isoformat(),
                "succeeded": int(p["succeeded"]),
                "failed": int(p["failed"]),
                "success_rate": _rate(p["succeeded"], p["failed"]),
                "p50_ms": _ms(p50),
                "p95_ms": _ms(p95),
                "p99_ms": _ms(p99),
                "items_per_minute": round((done + p["cancelled"]) / minutes, 2),
                "bytes": int(p["bytes"]),
            }
        )
    return out


def error_codes(points: dict[datetime, dict[str, float]]) -> list[dict[str, Any]]:
    totals: dict[str, int] = defaultdict(int)
    for p in points.values():
        for code, field in (*ERROR_FIELDS.items(), ("OTHER", ERROR_OTHER)):
            totals[code] += int(p[field])
    return [
        {"error_code": code, "items": n}
        for code, n in sorted(totals.items(), key=lambda kv: -kv[1])
        if n
    ]


def failing_hosts(window: Window, limit: int = 10) -> list[dict[str, Any]]:
    rows = (
        _rows(HostRollup, window, ("failed",))
        .values("host")
        .annotate(items=Sum("failed"))
        .order_by("-items", "host")[:limit]
    )
    return [{"host": r["host"], "failed_items": int(r["items"])} for r in rows]


def jobs_per_day(window: Window) -> list[dict[str, Any]]:
    """Jobs submitted per UTC day, from the rollups' `jobs` counter (hour and day rows, which
    never overlap): still there after retention has deleted the jobs themselves."""
    start = floor(window.start, Period.DAY)
    rows = ItemRollup.objects.filter(
        period__in=(Period.HOUR, Period.DAY), start__gte=start, start__lt=window.end, jobs__gt=0
    )
    if window.owner is not None:
        rows = rows.filter(owner=window.owner)
    if window.processor:
        rows = rows.filter(processor=window.processor)
    counts: dict[Any, int] = defaultdict(int)
    for at, n in rows.values_list("start").annotate(n=Sum("jobs")).order_by():
        counts[_aware(at).date()] += int(n)
    days, at = [], start
    while at < window.end:
        days.append({"day": at.date().isoformat(), "jobs": counts.get(at.date(), 0)})
        at += step(Period.DAY)
    return days


def queue_depth(window: Window) -> list[dict[str, Any]]:
    """Samples (every 10 s) within the window and the sample retention, at most ~500 points:
    each point is the largest sample of its stretch."""
    owner = 0 if window.owner is None else window.owner
    samples = QueueSample.objects.filter(
        at__gte=window.start, at__lt=window.end, owner__in={0, owner}
    )
    by_at: dict[datetime, list[int]] = {}
    for at, who, waiting, processing in samples.order_by("at").values_list(
        "at", "owner", "waiting", "processing"
    ):
        point = by_at.setdefault(at, [0, 0])
        if who == owner:
            point[0], point[1] = waiting, processing
    if not by_at:
        return []
    stride = max(1, len(by_at) // 500)
    out, ats = [], list(by_at)
    for i in range(0, len(ats), stride):
        chunk = ats[i : i + stride]
        out.append(
            {
                "at": chunk[0].isoformat(),
                "waiting": max(by_at[a][0] for a in chunk),
                "processing": max(by_at[a][1] for a in chunk),
            }
        )
    return out


def api_points(window: Window) -> dict[datetime, dict[str, float]]:
    return _by_point(window, _rows(ApiRollup, window, API_SUMS, processor=False), API_SUMS)


def api_times(points: dict[datetime, dict[str, float]]) -> list[dict[str, Any]]:
    out = []
    for at, p in points.items():
        p50, p95, p99 = bins.percentiles([int(p[f]) for f in bins.FIELDS])
        out.append(
            {
                "start": at.isoformat(),
                "requests": int(p["requests"]),
                "client_errors": int(p["client_errors"]),
                "server_errors": int(p["server_errors"]),
                "p50_ms": _ms(p50),
                "p95_ms": _ms(p95),
                "p99_ms": _ms(p99),
            }
        )
    return out


def webhooks(window: Window) -> list[dict[str, Any]]:
    points = _by_point(
        window, _rows(WebhookRollup, window, WEBHOOK_SUMS, processor=False), WEBHOOK_SUMS
    )
    return [
        {
            "start": at.isoformat(),
            "delivered": int(p["delivered"]),
            "failed": int(p["failed"]),
            "success_rate": _rate(p["delivered"], p["failed"]),
        }
        for at, p in points.items()
    ]
