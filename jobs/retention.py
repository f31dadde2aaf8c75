"""Retention: finished jobs older than BATCHSITE_RETENTION_DAYS are deleted — by the scheduler
(hourly) and by POST /api/cleanup — a few rows per transaction (services.delete_job deletes a
job's attempts, log lines and items BATCHSITE_RETENTION_BATCH rows at a time), so no statement
holds the tables for long. The last two finished runs of every schedule are kept, whatever their
age, so "what changed since the last run" always has two runs to compare.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from jobs.models import BatchJob, JobStatus
from jobs.services import ServiceError, delete_job

KEPT_RUNS = 2


def kept_runs() -> list:
    """Ids of each schedule's last KEPT_RUNS finished runs (one query)."""
    ranked = (
        BatchJob.objects.filter(schedule__isnull=False, status__in=JobStatus.TERMINAL)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("schedule_id")],
                order_by=[F("created_at").desc(), F("id").desc()],
            )
        )
        .filter(rank__lte=KEPT_RUNS)
    )
    return list(ranked.values_list("pk", flat=True))


def expired(days: int | None = None) -> QuerySet[BatchJob]:
    """Finished jobs that finished (or, without a finish time, were made) over `days` ago."""
    days = settings.BATCHSITE_RETENTION_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=days)
    return (
        BatchJob.objects.filter(status__in=JobStatus.TERMINAL)
        .filter(Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, created_at__lt=cutoff))
        .exclude(pk__in=kept_runs())
    )


def purge(days: int | None = None, batch: int | None = None) -> dict[str, int]:
    """Delete the expired jobs, each with everything it has, `batch` rows per transaction."""
    batch = batch or settings.BATCHSITE_RETENTION_BATCH
    deleted_jobs = deleted_items = 0
    for pk in list(expired(days).values_list("pk", flat=True)):
        try:
            deleted = delete_job(BatchJob(pk=pk), batch=batch)
        except ServiceError:  # retried since the query: active again, keep it
            continue
        deleted_jobs += 1
        deleted_items += deleted["items"]
    return {"deleted_jobs": deleted_jobs, "deleted_items": deleted_items}
