"""RQ entry points (they take ids, never model instances) and the one way to enqueue them."""

from __future__ import annotations

import logging
import math
import uuid
from typing import TYPE_CHECKING, Any

import django_rq
from django.conf import settings
from rq import Worker, get_current_job

from jobs import logcontext

if TYPE_CHECKING:
    from jobs.models import BatchJob

log = logging.getLogger(__name__)

RUNNER_ID_PREFIX = "chunk-"


def run_chunk(job_id: str) -> dict[str, Any]:
    """Work through a batch job's queued items (a chunk of them, see jobs.runner)."""
    from jobs.runner import ChunkRunner

    current = get_current_job()
    with logcontext.bound(job=job_id):
        return ChunkRunner(
            job_id,
            rq_job_id=current.id if current else "",
            worker_name=(current.worker_name or "") if current else "",
        ).run()


def reconcile() -> dict[str, Any]:
    """Periodic: put back the items of dead runners and re-enqueue work Redis lost."""
    from jobs.reconcile import reconcile as do_reconcile

    return do_reconcile()


def publish_queues() -> int:
    """Periodic: queue_updated to every socket that listens (jobs.events.publish_queues)."""
    from jobs import events

    return events.publish_queues()


def refresh_planner_stats() -> list[str]:
    """Periodic: keep SQLite's planner statistics current (jobs.dbstats)."""
    from jobs.dbstats import refresh

    return refresh()


def fire_schedules() -> list[str]:
    """Periodic: submit the runs of due schedules, each exactly once (jobs.schedules)."""
    from jobs.schedules import fire_due

    return [str(job.pk) for job in fire_due() if job is not None]


def purge_expired() -> dict[str, int]:
    """Periodic: delete finished jobs past the retention period (jobs.retention). A run that
    deleted something leaves an audit entry by the system (no actor), as POST /api/cleanup does
    by its caller; an hourly run that found nothing leaves none."""
    from jobs import audit
    from jobs.models import AuditAction
    from jobs.retention import purge

    result = purge()
    if result["deleted_jobs"]:
        days = settings.BATCHSITE_RETENTION_DAYS
        audit.record(None, AuditAction.CLEANUP, older_than_days=days, automatic=True, **result)
    return result


def runner_timeout(job: BatchJob) -> int:
    """RQ's hard limit for one runner: its slice, then its slowest items' every attempt."""
    retries = job.max_attempts * (job.item_timeout + settings.BATCHSITE_RETRY_BACKOFF_MAX)
    return int(settings.BATCHSITE_SLICE_SECONDS + retries + 120)


def runners_for(queue, items: int) -> int:
    """How many runners a job of `items` waiting items gets: one per worker listening on its
    queue (runners share a job's items as they go, so they all finish together), at least
    BATCHSITE_MIN_RUNNER_ITEMS items each, at most BATCHSITE_MAX_PARALLEL_CHUNKS, and enough
    that none claims more than BATCHSITE_CHUNK_SIZE items."""
    workers = Worker.count(connection=queue.connection, queue=queue)
    by_size = math.ceil(items / max(1, settings.BATCHSITE_MIN_RUNNER_ITEMS))
    by_chunk = math.ceil(items / max(1, settings.BATCHSITE_CHUNK_SIZE))
    return max(1, min(max(workers, by_chunk), by_size, settings.BATCHSITE_MAX_PARALLEL_CHUNKS))


def enqueue_runners(job: BatchJob, count: int | None = None, *, items: int = 0) -> list[str]:
    """Enqueue runners for the job on its priority's queue: `count`, or as many as suit `items`
    waiting items (now, not on commit: callers in a transaction wrap this in on_commit)."""
    queue = django_rq.get_queue(job.queue_name, commit_mode="auto")
    if count is None:
        count = runners_for(queue, items)
    if count <= 0:
        return []
    timeout = runner_timeout(job)
    data = [
        queue.prepare_data(
            run_chunk,
            args=(str(job.pk),),
            job_id=f"{RUNNER_ID_PREFIX}{job.pk}-{uuid.uuid4().hex[:12]}",
            timeout=timeout,
            result_ttl=3600,
            failure_ttl=7 * 86400,
            description=f"Batch job {job.pk} ({job.processor})",
        )
        for _ in range(count)
    ]
    enqueued = queue.enqueue_many(data)
    return [rq_job.id for rq_job in enqueued]


def job_id_of(rq_job_id: str) -> str | None:
    """The batch job a runner's RQ job id belongs to, or None for other RQ jobs."""
    if not rq_job_id.startswith(RUNNER_ID_PREFIX):
        return None
    rest = rq_job_id[len(RUNNER_ID_PREFIX) :]
    candidate = rest.rsplit("-", 1)[0]
    try:
        return str(uuid.UUID(candidate))
    except ValueError:
        return None


def queued_runner_jobs() -> set[str]:
    """Batch job ids that have a runner waiting in some queue (Redis's view)."""
    found: set[str] = set()
    for name in settings.JOB_QUEUES:
        queue = django_rq.get_queue(name)
        for rq_job_id in queue.get_job_ids():
            job_id = job_id_of(rq_job_id)
            if job_id:
                found.add(job_id)
        for rq_job_id in queue.scheduled_job_registry.get_job_ids():
            job_id = job_id_of(rq_job_id)
            if job_id:
                found.add(job_id)
    return found
