"""Old buckets made smaller: hour rows past the hour retention fold into day rows; minute rows
past the minute retention go (the hour rows hold the same counts); queue samples past theirs go.

Only whole UTC days fold, and each in one transaction (insert the day rows, delete the hour rows),
so a range that reads hour and day rows together never counts an item twice or misses one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from analytics.models import ApiRollup, HostRollup, ItemRollup, Period, QueueSample, WebhookRollup
from analytics.upsert import Rows, floor, upsert

ROLLUPS: dict[type[models.Model], tuple[str, ...]] = {
    ItemRollup: ("period", "start", "owner", "processor"),
    HostRollup: ("period", "start", "owner", "processor", "host"),
    ApiRollup: ("period", "start", "owner"),
    WebhookRollup: ("period", "start", "owner"),
}


def counters(model: type[models.Model], keys: tuple[str, ...]) -> list[str]:
    return [f.name for f in model._meta.concrete_fields if f.name not in (*keys, "id")]


def hour_cutoff(now: datetime | None = None) -> datetime:
    """Hour rows before this instant (a UTC midnight) are folded into day rows."""
    now = now or timezone.now()
    return floor(now - timedelta(days=settings.BATCHSITE_ANALYTICS_HOUR_RETENTION_DAYS), Period.DAY)


def minute_cutoff(now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    return now - timedelta(hours=settings.BATCHSITE_ANALYTICS_MINUTE_RETENTION_HOURS)


def compact(now: datetime | None = None) -> dict[str, int]:
    """Fold and prune; returns how many rows of each kind went."""
    now = now or timezone.now()
    folded = sum(_fold_hours(model, keys, hour_cutoff(now)) for model, keys in ROLLUPS.items())
    minutes = sum(
        model.objects.filter(period=Period.MINUTE, start__lt=minute_cutoff(now)).delete()[0]
        for model in ROLLUPS
    )
    queue_cutoff = now - timedelta(hours=settings.BATCHSITE_ANALYTICS_QUEUE_RETENTION_HOURS)
    samples = QueueSample.objects.filter(at__lt=queue_cutoff).delete()[0]
    return {"hours_folded": folded, "minutes_dropped": minutes, "samples_dropped": samples}


def _fold_hours(model: type[models.Model], keys: tuple[str, ...], cutoff: datetime) -> int:
    names = counters(model, keys)
    folded = 0
    while True:
        first = (
            model.objects.filter(period=Period.HOUR, start__lt=cutoff)
            .order_by("start")
            .values_list("start", flat=True)
            .first()
        )
        if first is None:
            return folded
        day = floor(first, Period.DAY)
        with transaction.atomic():
            hours = model.objects.filter(
                period=Period.HOUR, start__gte=day, start__lt=day + timedelta(days=1)
            )
            rows = Rows()
            for row in hours.values(*keys[2:], *names):
                key = (Period.DAY, day, *(row[k] for k in keys[2:]))
                rows.add(key, {name: row[name] for name in names})
            upsert(model, keys, rows)
            folded += hours.delete()[0]
