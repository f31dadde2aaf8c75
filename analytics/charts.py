"""The analytics page's charts and KPI row, by name: what the API serves (JSON or CSV) and the
page draws. Each chart is a list of rows with fixed columns (its CSV header)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from analytics import bins, queries
from analytics.window import Window


@dataclass(frozen=True)
class Chart:
    title: str
    columns: tuple[str, ...]


SERIES = ("start",)
CHARTS: dict[str, Chart] = {
    "success_rate": Chart("Success rate", (*SERIES, "succeeded", "failed", "success_rate")),
    "durations": Chart("Item duration", (*SERIES, "p50_ms", "p95_ms", "p99_ms")),
    "throughput": Chart("Throughput", (*SERIES, "items_per_minute", "bytes")),
    "queue_depth": Chart("Queue depth", ("at", "waiting", "processing")),
    "error_codes": Chart("Errors by code", ("error_code", "items")),
    "failing_hosts": Chart("Top failing hosts", ("host", "failed_items")),
    "jobs_per_day": Chart("Jobs per day", ("day", "jobs")),
    "api_times": Chart(
        "API response time",
        (*SERIES, "requests", "client_errors", "server_errors", "p50_ms", "p95_ms", "p99_ms"),
    ),
    "webhooks": Chart("Webhook deliveries", (*SERIES, "delivered", "failed", "success_rate")),
}


class Build:
    """Reads each kind of rollup once, however many charts use it."""

    def __init__(self, window: Window, user) -> None:
        self.window, self.user = window, user

    @cached_property
    def item_points(self) -> dict:
        return queries.item_points(self.window)

    @cached_property
    def series(self) -> list[dict[str, Any]]:
        return queries.items_series(self.window, self.item_points)

    @cached_property
    def api_points(self) -> dict:
        return queries.api_points(self.window)

    @cached_property
    def api(self) -> list[dict[str, Any]]:
        return queries.api_times(self.api_points)

    @cached_property
    def webhooks(self) -> list[dict[str, Any]]:
        return queries.webhooks(self.window)

    def chart(self, name: str) -> list[dict[str, Any]]:
        columns = CHARTS[name].columns
        return [{c: row[c] for c in columns} for row in self._source(name)()]

    def _source(self, name: str) -> Callable[[], list[dict[str, Any]]]:
        w = self.window
        return {
            "success_rate": lambda: self.series,
            "durations": lambda: self.series,
            "throughput": lambda: self.series,
            "queue_depth": lambda: queries.queue_depth(w),
            "error_codes": lambda: queries.error_codes(self.item_points),
            "failing_hosts": lambda: queries.failing_hosts(w),
            "jobs_per_day": lambda: queries.jobs_per_day(w),
            "api_times": lambda: self.api,
            "webhooks": lambda: self.webhooks,
        }[name]

    def kpis(self, jobs_per_day: list[dict[str, Any]]) -> dict[str, Any]:
        points = self.item_points.values()
        succeeded = sum(p["succeeded"] for p in points)
        failed = sum(p["failed"] for p in points)
        cancelled = sum(p["cancelled"] for p in points)
        p50, p95, p99 = bins.percentiles(queries.summed_histogram(self.item_points))
        minutes = (self.window.end - self.window.start).total_seconds() / 60
        api = self.api
        delivered = sum(r["delivered"] for r in self.webhooks)
        undelivered = sum(r["failed"] for r in self.webhooks)
        return {
            "items": int(succeeded + failed + cancelled),
            "succeeded": int(succeeded),
            "failed": int(failed),
            "success_rate": queries._rate(succeeded, failed),
            "p50_ms": queries._ms(p50),
            "p95_ms": queries._ms(p95),
            "p99_ms": queries._ms(p99),
            "items_per_minute": round((succeeded + failed + cancelled) / minutes, 2)
            if minutes
            else 0,
            "jobs": sum(d["jobs"] for d in jobs_per_day),
            "api_requests": sum(r["requests"] for r in api),
            "api_p95_ms": queries._ms(
                bins.percentile(queries.summed_histogram(self.api_points), 95)
            ),
            "webhook_attempts": delivered + undelivered,
            "webhook_success_rate": queries._rate(delivered, undelivered),
        }

    def overview(self) -> dict[str, Any]:
        charts = {name: self.chart(name) for name in CHARTS}
        return {
            "window": self.window.as_dict(),
            "kpis": self.kpis(charts["jobs_per_day"]),
            "charts": charts,
        }
