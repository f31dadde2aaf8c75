"""Analytics figures for tests, written the way the pipeline writes them (analytics.record)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from analytics.record import record_api, record_items, record_webhook
from jobs.store import Outcome


def outcomes(n: int, at: datetime, *, failed: int = 0, seconds: float = 0.2) -> list[Outcome]:
    """n finished items at `at` (the first `failed` of them failed with a timeout)."""
    rows = []
    for i in range(n):
        bad = i < failed
        rows.append(
            Outcome(
                i + 1,
                "failed" if bad else "succeeded",
                "",
                100,
                1,
                None if bad else {"bytes_wire": 2048},
                "timed out" if bad else "",
                "TIMEOUT" if bad else "",
                None if bad else 200,
                at - timedelta(seconds=seconds),
                at,
                seconds,
            )
        )
    return rows


def seed_figures(user, *, items: int = 40, failed: int = 4, processor: str = "http_check") -> None:
    """Items, API requests and webhook attempts for `user` over the last few hours."""
    now = timezone.now()
    for hours_ago in (0, 2, 5):
        at = now - timedelta(hours=hours_ago, minutes=1)
        record_items(
            user.pk, processor, outcomes(items, at, failed=failed, seconds=0.1 * (hours_ago + 1))
        )
        record_api([(user.pk, 200, 0.02, at)] * 10 + [(user.pk, 404, 0.01, at)])
        record_webhook(user.pk, True, 120.0, at)
        record_webhook(user.pk, False, 900.0, at)
