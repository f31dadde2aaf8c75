"""Compaction: hour rows past the retention fold into day rows (whole UTC days, nothing counted
twice or lost), old minute rows and queue samples go, recent rows stay; the figures read the same
before and after."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from analytics import compaction
from analytics.models import HostRollup, ItemRollup, Period, QueueSample
from analytics.record import record_items
from tests.analytics.seed import outcomes

pytestmark = pytest.mark.django_db


def test_old_hours_fold_into_days_and_old_minutes_go(alice, alice_client, settings):
    settings.BATCHSITE_ANALYTICS_HOUR_RETENTION_DAYS = 3
    settings.BATCHSITE_ANALYTICS_MINUTE_RETENTION_HOURS = 24
    now = timezone.now()
    for days_ago in (10, 9, 5, 1, 0):
        for hour in (1, 7, 13):
            at = now.replace(hour=hour, minute=5) - timedelta(days=days_ago)
            if at < now:
                record_items(
                    alice.pk, "http_check", outcomes(10, at, failed=2, seconds=0.05 * hour)
                )
    before_items = ItemRollup.objects.filter(period=Period.HOUR).aggregate(
        s=Sum("succeeded"), f=Sum("failed")
    )
    before = alice_client.get("/api/analytics/overview?range=30d").json()

    result = compaction.compact(now)

    cutoff = compaction.hour_cutoff(now)
    assert not ItemRollup.objects.filter(period=Period.HOUR, start__lt=cutoff).exists()
    assert ItemRollup.objects.filter(period=Period.HOUR, start__gte=cutoff).exists()
    days = ItemRollup.objects.filter(period=Period.DAY)
    assert days.count() == 3  # 10, 9 and 5 days ago
    assert all(d.start.hour == 0 and d.start < cutoff for d in days)
    after_items = ItemRollup.objects.filter(period__in=(Period.HOUR, Period.DAY)).aggregate(
        s=Sum("succeeded"), f=Sum("failed")
    )
    assert after_items == before_items
    assert not ItemRollup.objects.filter(
        period=Period.MINUTE, start__lt=now - timedelta(hours=24)
    ).exists()
    assert ItemRollup.objects.filter(period=Period.MINUTE).exists()
    assert (
        HostRollup.objects.filter(period=Period.DAY).count() == 0
    )  # no hosts: outcomes have no items
    assert result["hours_folded"] == 9

    after = alice_client.get("/api/analytics/overview?range=30d").json()
    assert after["kpis"] == before["kpis"]
    assert after["charts"]["durations"] == before["charts"]["durations"]
    assert compaction.compact(now)["hours_folded"] == 0, "a second run has nothing to fold"


def test_old_queue_samples_go(alice, settings):
    settings.BATCHSITE_ANALYTICS_QUEUE_RETENTION_HOURS = 48
    now = timezone.now()
    QueueSample.objects.create(at=now - timedelta(hours=49), owner=0, waiting=1, processing=0)
    QueueSample.objects.create(at=now - timedelta(hours=1), owner=0, waiting=2, processing=0)
    assert compaction.compact(now)["samples_dropped"] == 1
    assert list(QueueSample.objects.values_list("waiting", flat=True)) == [2]
