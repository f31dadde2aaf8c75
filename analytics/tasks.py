"""Periodic analytics work, registered in jobs.cron: queue-depth samples every 10 s, compaction
every hour."""

from __future__ import annotations

from django.db.models import F, Sum
from django.utils import timezone

from analytics import compaction
from analytics.models import QueueSample


def sample_queues() -> int:
    """Items waiting and processing per owner (from the jobs' own counters), plus the totals as
    owner 0. Returns how many rows were written."""
    from jobs.models import BatchJob, JobStatus

    now = timezone.now()
    per_owner = (
        BatchJob.objects.filter(status__in=JobStatus.ACTIVE)
        .values("owner_id")
        .annotate(
            waiting=Sum(F("count_pending") + F("count_queued")),
            processing=Sum("count_processing"),
        )
    )
    rows = [
        QueueSample(
            at=now, owner=r["owner_id"], waiting=r["waiting"] or 0, processing=r["processing"] or 0
        )
        for r in per_owner
    ]
    rows.append(
        QueueSample(
            at=now,
            owner=0,
            waiting=sum(r.waiting for r in rows),
            processing=sum(r.processing for r in rows),
        )
    )
    QueueSample.objects.bulk_create(rows)
    return len(rows)


def compact() -> dict[str, int]:
    return compaction.compact()
