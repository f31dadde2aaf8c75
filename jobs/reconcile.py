"""Reconcile: make the queues agree with the database again.

Runs every BATCHSITE_RECONCILE_SECONDS from the scheduler, and on `manage.py reconcile`.
- A runner whose heartbeat is stale is dead (SIGKILL, OOM, lost host): its claimed items go back
  to the queue, each with an `interrupted` attempt in its history.
- An active job with queued items, no live runner and no runner waiting in Redis (Redis was
  flushed or restarted, or an enqueue failed) gets runners enqueued again.
- An active job with no active item left (its last runner died after the last flush) is ended.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone
from redis.exceptions import RedisError

from jobs import tasks
from jobs.jobstate import add_log, finalize_if_done
from jobs.models import (
    AttemptOutcome,
    BatchJob,
    ItemAttempt,
    ItemStatus,
    JobItem,
    JobStatus,
    LogLevel,
    Runner,
)

log = logging.getLogger(__name__)


def reconcile(
    *, stale_seconds: float | None = None, min_age_seconds: float = 5.0
) -> dict[str, Any]:
    """One pass; returns what it did. `min_age_seconds` spares jobs whose enqueue is in flight."""
    stale = settings.BATCHSITE_RUNNER_STALE_SECONDS if stale_seconds is None else stale_seconds
    now = timezone.now()
    cutoff = now - timedelta(seconds=stale)
    report: dict[str, Any] = {"dead_runners": 0, "requeued_items": 0, "enqueued": 0, "finished": 0}

    touched: set[str] = set()
    dead = list(Runner.objects.filter(heartbeat_at__lt=cutoff).values_list("id", "job_id"))
    for runner_id, job_id in dead:
        report["requeued_items"] += _free_claims(job_id, runner_id, "its runner stopped answering")
        touched.add(str(job_id))
        Runner.objects.filter(pk=runner_id).delete()
        report["dead_runners"] += 1

    live = set(Runner.objects.values_list("id", flat=True))
    orphans = (
        JobItem.objects.filter(status=ItemStatus.PROCESSING, started_at__lt=cutoff)
        .exclude(worker__in=live)
        .values_list("job_id", "worker")
        .distinct()
    )
    for job_id, worker in list(orphans):
        report["requeued_items"] += _free_claims(job_id, worker, "its runner is gone")
        touched.add(str(job_id))

    try:
        waiting = tasks.queued_runner_jobs()
    except RedisError as exc:
        log.warning("Reconcile cannot read the queues (%s); will try again", exc)
        waiting = None

    young = now - timedelta(seconds=min_age_seconds)
    active = BatchJob.objects.filter(
        status__in=(JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.CANCELLING)
    )
    for job in active.iterator():
        if job.updated_at >= young and str(job.pk) not in touched:
            continue
        if finalize_if_done(job.pk):
            report["finished"] += 1
            continue
        if waiting is None or str(job.pk) in waiting or job.status == JobStatus.CANCELLING:
            continue
        if Runner.objects.filter(job=job, heartbeat_at__gte=cutoff).exists():
            continue
        queued = job.items.filter(status=ItemStatus.QUEUED).count()
        if queued:
            try:
                count = len(tasks.enqueue_runners(job, items=queued))
            except RedisError as exc:
                log.warning("Reconcile cannot enqueue job %s (%s)", job.pk, exc)
                continue
            add_log(job.pk, f"Reconcile: {queued:,} queued items had no runner; enqueued {count}")
            report["enqueued"] += count
    if any(report.values()):
        log.info("Reconcile: %s", report)
    return report


def _free_claims(job_id: Any, worker: str, why: str) -> int:
    """Put a dead runner's claimed items back in the queue and record the interruption."""
    now = timezone.now()
    with transaction.atomic():
        items = list(
            JobItem.objects.select_for_update()
            .filter(job_id=job_id, status=ItemStatus.PROCESSING, worker=worker)
            .values_list("id", "attempts", "started_at", "current_step")
        )
        if not items:
            return 0
        # A runner flushes the attempts it retries before the item's outcome (and its count).
        numbered = dict(
            ItemAttempt.objects.filter(item_id__in=[i[0] for i in items])
            .values("item_id")
            .annotate(last=Max("number"))
            .values_list("item_id", "last")
        )
        ItemAttempt.objects.bulk_create(
            ItemAttempt(
                item_id=item_id,
                number=max(attempts, numbered.get(item_id, 0)) + 1,
                worker=worker,
                started_at=started or now,
                finished_at=now,
                step=step,
                outcome=AttemptOutcome.INTERRUPTED,
                error=f"Interrupted: {why}",
            )
            for item_id, attempts, started, step in items
        )
        freed = JobItem.objects.filter(
            id__in=[i[0] for i in items], status=ItemStatus.PROCESSING, worker=worker
        ).update(
            status=ItemStatus.QUEUED,
            worker="",
            started_at=None,
            attempts=Subquery(
                ItemAttempt.objects.filter(item=OuterRef("pk"))
                .values("item")
                .annotate(last=Max("number"))
                .values("last")
            ),
        )
        job = BatchJob.objects.get(pk=job_id)
        job.recount()
        add_log(
            job_id,
            f"Reconcile: {freed:,} items of runner {worker} put back in the queue ({why})",
            LogLevel.WARNING,
        )
    return freed
