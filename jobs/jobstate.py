"""The database side of running a job: runners start, cycle (flush + claim + heartbeat) and stop,
and the job ends exactly once. Called by the chunk runner and by reconcile, never by views."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, FloatField, Value
from django.db.models.functions import Cast
from django.utils import timezone
from redis.exceptions import RedisError

from analytics.record import record_items
from jobs import events, store, tasks
from jobs.errors import ErrorCode
from jobs.models import (
    COUNT_FIELDS,
    BatchJob,
    ItemStatus,
    JobItem,
    JobLogEntry,
    JobStatus,
    LogLevel,
    Runner,
)
from jobs.processors.registry import UnknownProcessor, get_processor
from jobs.store import AttemptRow, Claimed, Outcome

log = logging.getLogger(__name__)

RUNNABLE = (JobStatus.QUEUED, JobStatus.RUNNING)


@dataclass
class CycleResult:
    claimed: list[Claimed]
    status: str | None
    share: int
    job: BatchJob | None = None  # the job's state after this cycle (for its status event)
    logs: list[JobLogEntry] = field(default_factory=list)


def add_log(job_id: Any, message: str, level: int = LogLevel.INFO, item_id: int | None = None):
    """A line in the job's log; bumps the job's seq so clients that reconnect catch up on it."""
    BatchJob.objects.filter(pk=job_id).update(seq=F("seq") + 1)
    seq = BatchJob.objects.filter(pk=job_id).values_list("seq", flat=True).first() or 0
    return JobLogEntry.objects.create(
        job_id=job_id, item_id=item_id, level=level, message=message, seq=seq
    )


def _live_runners(job_id: Any) -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.BATCHSITE_RUNNER_STALE_SECONDS)
    return Runner.objects.filter(job_id=job_id, heartbeat_at__gte=cutoff).count()


def _share(concurrency: int, runners: int) -> int:
    from jobs.runner import share_of

    return share_of(concurrency, runners)


def start_runner(job_id: str, runner_id: str, worker_name: str, rq_job_id: str) -> dict | None:
    """Register a runner; returns what it needs to know of the job, or None if there is no work."""
    job = BatchJob.objects.filter(pk=job_id).first()
    if job is None or job.status not in RUNNABLE:
        return None
    try:
        get_processor(job.processor)
    except UnknownProcessor as exc:
        fail_job(job, str(exc))
        return None
    with transaction.atomic():
        Runner.objects.get_or_create(  # get: a retry after a commit whose answer was lost
            id=runner_id,
            defaults={
                "job": job,
                "worker_name": worker_name,
                "rq_job_id": rq_job_id,
                "hostname": runner_id.split(":", 1)[0],
                "pid": int(runner_id.split(":")[1]),
            },
        )
        now = timezone.now()
        started = BatchJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING,
            started_at=now,
            duration=timedelta(0),
            updated_at=now,
            seq=F("seq") + 1,
        )
        if started:
            entry = add_log(job.pk, f"Started: {job.total_items:,} items with {job.processor}")
            events.publish_job(job, with_logs_after_seq=entry.seq - 1)  # the line goes out too
    return {
        "processor": job.processor,
        "options": job.options,
        "concurrency": job.concurrency,
        "per_host_limit": job.per_host_limit,
        "host_delay": job.host_delay,
        "item_timeout": job.item_timeout,
        "max_attempts": job.max_attempts,
        "share": _share(job.concurrency, _live_runners(job.pk)),
    }


def cycle(
    job_id: str,
    runner_id: str,
    outcomes: Sequence[Outcome],
    attempts: Sequence[AttemptRow],
    logs: Sequence[tuple[int | None, int, str, datetime]],
    claim_n: int,
    heartbeat: dict[str, Any],
    flush: int = 0,
    at: datetime | None = None,
) -> CycleResult:
    """One short transaction: record outcomes, attempts and logs, claim more, beat the heart.

    `flush` numbers the runner's flushes (1, 2, …) and `at` is its time, the same when the runner
    retries it (jobs.dbretry). When the connection dropped after the commit, the retry finds its
    number on the runner's row: it writes nothing again and hands back the items it had claimed.
    """
    now = timezone.now()
    claim_at = at or now
    with transaction.atomic():
        row = BatchJob.objects.filter(pk=job_id).values_list("status", "concurrency").first()
        status, concurrency = row if row else (None, 1)
        if flush and _flushed_before(runner_id, flush):
            claimed, entries = store.held(job_id, runner_id, claim_at), []
            job = BatchJob.objects.filter(pk=job_id).first()
        else:
            claim_n = claim_n if status in RUNNABLE else 0
            step = heartbeat["current_step"]
            claimed, job, entries = _flush(
                job_id, runner_id, outcomes, attempts, logs, claim_n, step, claim_at
            )
        Runner.objects.filter(pk=runner_id).update(
            heartbeat_at=now,
            items_done=heartbeat["items_done"],
            in_flight=heartbeat["in_flight"],
            current_urls=heartbeat["current_urls"],
        )
        runners = _live_runners(job_id)
    return CycleResult(claimed, status, _share(concurrency, runners), job, entries)


def _flushed_before(runner_id: str, flush: int) -> bool:
    """Count this flush on the runner's row; True if the row had counted it already."""
    if Runner.objects.filter(pk=runner_id, flushes=flush - 1).update(flushes=flush):
        return False
    return Runner.objects.filter(pk=runner_id, flushes__gte=flush).exists()


def _flush(
    job_id: str,
    runner_id: str,
    outcomes: Sequence[Outcome],
    attempts: Sequence[AttemptRow],
    logs: Sequence[tuple[int | None, int, str, datetime]],
    claim_n: int,
    step: str,
    now: datetime,
) -> tuple[list[Claimed], BatchJob | None, list[JobLogEntry]]:
    # Attempts first: only those of items this runner still holds are kept (reconcile may have
    # given some to another runner, with an `interrupted` attempt of their own).
    store.record_attempts(attempts, runner_id)
    changed = store.record_outcomes(outcomes, runner_id)
    claimed = store.claim(job_id, runner_id, claim_n, now) if claim_n else []
    if outcomes or claimed or logs:
        if changed == len(outcomes):
            _apply_deltas(job_id, outcomes, len(claimed), step, now)
        else:  # reconcile took some of our items meanwhile: count exactly instead
            BatchJob.objects.get(pk=job_id).recount()
    job = BatchJob.objects.filter(pk=job_id).first()
    if job is not None:
        record_items(job.owner_id, job.processor, outcomes)  # the analytics rollups
    entries: list[JobLogEntry] = []
    if logs and job is not None:
        entries = JobLogEntry.objects.bulk_create(
            JobLogEntry(job_id=job_id, item_id=i, level=lv, message=m, timestamp=t, seq=job.seq)
            for i, lv, m, t in logs
        )
    return claimed, job, entries


def _apply_deltas(
    job_id: str, outcomes: Sequence[Outcome], n_claimed: int, step: str, now: datetime
) -> None:
    finished = Counter(o.status for o in outcomes)
    values: dict[str, Any] = {
        "count_queued": F("count_queued") - n_claimed,
        "count_processing": F("count_processing") + n_claimed - len(outcomes),
        "item_seconds": F("item_seconds") + sum(o.duration for o in outcomes),
        "seq": F("seq") + 1,
        "updated_at": now,
        "duration": BatchJob.duration_until(now),
    }
    if step:
        values["current_step"] = step
    done_expr = Value(float(sum(finished[s] for s in ItemStatus.TERMINAL)))
    for status, n in finished.items():
        field = COUNT_FIELDS[status]
        values[field] = F(field) + n
    for status in ItemStatus.TERMINAL:
        done_expr = done_expr + F(COUNT_FIELDS[status])
    values["progress"] = Value(100.0) * done_expr / Cast(F("total_items"), FloatField())
    BatchJob.objects.filter(pk=job_id, total_items__gt=0).update(**values)


def finish_runner(job_id: str, runner_id: str, *, continue_job: bool) -> dict[str, Any]:
    """The runner is done: free what it still holds, end the job if it was the last, or hand
    over to a continuation runner when it stopped with work left."""
    with transaction.atomic():
        released = JobItem.objects.filter(
            job_id=job_id, status=ItemStatus.PROCESSING, worker=runner_id
        ).update(status=ItemStatus.QUEUED, worker="", started_at=None)
        Runner.objects.filter(pk=runner_id).delete()
        if released:
            BatchJob.objects.get(pk=job_id).recount()
        finished = finalize_if_done(job_id)
        continued = False
        if continue_job and not finished:
            job = BatchJob.objects.filter(pk=job_id, status__in=RUNNABLE).first()
            if job and job.items.filter(status=ItemStatus.QUEUED).exists():
                try:
                    tasks.enqueue_runners(job, 1)
                    continued = True
                except RedisError as exc:  # the job is in the database: reconcile enqueues it
                    log.warning("Cannot enqueue a continuation of job %s: %s", job_id, exc)
    return {"released": released, "finished_job": finished, "continued": continued}


def finalize_if_done(job_id: Any) -> bool:
    """End the job if no item is active. Exactly one caller wins; True for that one."""
    with transaction.atomic():
        job = BatchJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in JobStatus.ACTIVE or job.status == JobStatus.PENDING:
            return False
        if job.items.filter(status__in=ItemStatus.ACTIVE).exists():
            return False
        job.recount(save=False)
        final = job.final_status()
        counts = {field: getattr(job, field) for field in COUNT_FIELDS.values()}
        if not job.transition(final, progress=job.progress, **counts):
            return False
        wall = job.wall_seconds or 0.0
        add_log(
            job.pk,
            f"{job.get_status_display()}: {job.count_succeeded:,} succeeded, "
            f"{job.count_failed:,} failed, {job.count_cancelled:,} cancelled in {wall:.1f} s",
            LogLevel.WARNING if final == JobStatus.FAILED else LogLevel.INFO,
        )
        events.publish_job(job, with_logs_after_seq=job.seq)
        events.publish_queues_on_commit(job.owner_id)
        _notify_ended(job)
    return True


def fail_job(job: BatchJob, reason: str) -> None:
    """The job cannot run at all (e.g. its processor is gone): fail every active item and it."""
    now = timezone.now()
    with transaction.atomic():
        job.items.filter(status__in=ItemStatus.ACTIVE).update(
            status=ItemStatus.FAILED,
            error_code=ErrorCode.PROCESSOR_ERROR,
            error=reason[:2000],
            finished_at=now,
            worker="",
        )
        job.recount(save=False)
        counts = {field: getattr(job, field) for field in COUNT_FIELDS.values()}
        if job.transition(JobStatus.FAILED, error=reason, progress=job.progress, **counts):
            add_log(job.pk, f"Failed: {reason}", LogLevel.ERROR)
            events.publish_job(job, with_logs_after_seq=job.seq)
            events.publish_queues_on_commit(job.owner_id)
            _notify_ended(job)


def _notify_ended(job: BatchJob) -> None:
    """The owner's webhooks and e-mail about the job's end, queued once this commits."""
    from jobs.account import notify  # it reaches services, which imports this module

    notify.job_ended(job)
