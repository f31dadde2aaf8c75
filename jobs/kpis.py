"""The dashboard's figures, one function per figure, each from bounded queries: the jobs'
denormalised counters, the live Runner rows and a small sample of recent items read through an
index — never a scan of all items.

Every function takes the jobs the viewer may see (`jobs.access.jobs_for(user)`), so a user's
figures are about their own jobs and staff's about everyone's. The analytics rollups will replace
some of them (items/s, success rate, p50): keep the names and return types.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from jobs.models import BatchJob, JobItem, JobStatus, Priority, Runner

SUCCESS_WINDOW = timedelta(hours=24)
# p50 item time: the latest finished items of the most recently updated jobs, through the
# (job, finished_at, position) index — at most P50_JOBS × P50_ITEMS_PER_JOB rows.
P50_JOBS = 5
P50_ITEMS_PER_JOB = 200


@dataclass(frozen=True)
class Rate:
    """A success rate in percent (None when nothing finished) and what it is made of."""

    percent: float | None
    succeeded: int
    failed: int


@dataclass(frozen=True)
class Sample:
    """A median over a sample of item durations (seconds; None when the sample is empty)."""

    seconds: float | None
    size: int


@dataclass(frozen=True)
class QueueDepth:
    name: str
    label: str
    waiting: int  # items pending or queued, in active jobs of this queue's priorities
    processing: int
    jobs: int  # active jobs on this queue


@dataclass(frozen=True)
class Figures:
    """What the KPI cards show."""

    running: int
    waiting_jobs: int
    items_per_second: float
    runners: int
    success: Rate
    p50: Sample
    queue_waiting: int
    queues: list[QueueDepth]


def status_counts(jobs: QuerySet[BatchJob]) -> dict[str, int]:
    """Jobs per status (every status present, zeros included): one grouped count, answered from
    the (owner, status) or (status) index alone — COUNT(id) would read every row for the id."""
    found = dict(jobs.order_by().values_list("status").annotate(n=Count("*")))
    return {status: found.get(status, 0) for status in JobStatus.values}


def jobs_running(counts: dict[str, int]) -> int:
    """Jobs being worked on now (running, or stopping after a cancel)."""
    return counts[JobStatus.RUNNING] + counts[JobStatus.CANCELLING]


def jobs_waiting(counts: dict[str, int]) -> int:
    return counts[JobStatus.PENDING] + counts[JobStatus.QUEUED]


def live_runners(jobs: QuerySet[BatchJob], now: datetime | None = None) -> list[Runner]:
    """Runners of these jobs whose heartbeat is fresh, with their job's name and owner.

    Read from the (few) live runners first, then which of their jobs are the viewer's: asking
    for the runners of the viewer's jobs instead has the database walk all of those jobs."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.BATCHSITE_RUNNER_STALE_SECONDS)
    live = list(
        Runner.objects.filter(heartbeat_at__gte=cutoff)
        .select_related("job")
        .only(
            "id",
            "worker_name",
            "started_at",
            "heartbeat_at",
            "items_done",
            "in_flight",
            "current_urls",
            "job__id",
            "job__name",
            "job__owner_id",
            "job__status",
            "job__processor",
        )
        .order_by("started_at")
    )
    if not live:
        return []
    visible = set(jobs.filter(pk__in={r.job_id for r in live}).values_list("pk", flat=True))
    return [runner for runner in live if runner.job_id in visible]


def items_per_second(runners: list[Runner]) -> float:
    """Items finished per second right now: each live runner's own rate since it started (a
    runner lives for one slice, about a minute), summed."""
    rate = 0.0
    for runner in runners:
        elapsed = (runner.heartbeat_at - runner.started_at).total_seconds()
        if elapsed > 0:
            rate += runner.items_done / elapsed
    return rate


def success_rate(jobs: QuerySet[BatchJob], now: datetime | None = None) -> Rate:
    """Succeeded / (succeeded + failed) items of the jobs that changed in the last 24 hours."""
    since = (now or timezone.now()) - SUCCESS_WINDOW
    totals = jobs.filter(updated_at__gte=since).aggregate(
        succeeded=Sum("count_succeeded", default=0), failed=Sum("count_failed", default=0)
    )
    succeeded, failed = int(totals["succeeded"]), int(totals["failed"])
    finished = succeeded + failed
    return Rate(100.0 * succeeded / finished if finished else None, succeeded, failed)


def p50_item_seconds(jobs: QuerySet[BatchJob], now: datetime | None = None) -> Sample:
    """Median time of the latest finished items of the most recently updated jobs (24 h)."""
    since = (now or timezone.now()) - SUCCESS_WINDOW
    recent = jobs.filter(updated_at__gte=since, item_seconds__gt=0).order_by("-updated_at")
    durations: list[float] = []
    for job_id in recent.values_list("id", flat=True)[:P50_JOBS]:
        durations += (
            JobItem.objects.filter(job_id=job_id, finished_at__isnull=False, duration__isnull=False)
            .order_by("-finished_at")
            .values_list("duration", flat=True)[:P50_ITEMS_PER_JOB]
        )
    if not durations:
        return Sample(None, 0)
    return Sample(statistics.median(durations), len(durations))


def queue_depths(jobs: QuerySet[BatchJob]) -> list[QueueDepth]:
    """Per priority queue (urgent, high, default, low): items waiting and processing, and active
    jobs — one aggregate over the active jobs' counters."""
    bands = {
        name: [p for p in range(1, 11) if Priority.queue_for(p) == name]
        for name in settings.JOB_QUEUES
    }
    aggregates = {}
    for name, band in bands.items():
        in_band = Q(priority__in=band)
        aggregates[f"{name}_pending"] = Sum("count_pending", filter=in_band, default=0)
        aggregates[f"{name}_queued"] = Sum("count_queued", filter=in_band, default=0)
        aggregates[f"{name}_processing"] = Sum("count_processing", filter=in_band, default=0)
        aggregates[f"{name}_jobs"] = Count("id", filter=in_band)
    totals = jobs.filter(status__in=JobStatus.ACTIVE).aggregate(**aggregates)
    return [
        QueueDepth(
            name=name,
            label=Priority.label(band[-1]),
            waiting=int(totals[f"{name}_pending"] + totals[f"{name}_queued"]),
            processing=int(totals[f"{name}_processing"]),
            jobs=int(totals[f"{name}_jobs"]),
        )
        for name, band in bands.items()
    ]


def figures(jobs: QuerySet[BatchJob], counts: dict[str, int], runners: list[Runner]) -> Figures:
    """Every KPI card's figure (the status counts and runners are shared with other panels)."""
    queues = queue_depths(jobs)
    return Figures(
        running=jobs_running(counts),
        waiting_jobs=jobs_waiting(counts),
        items_per_second=items_per_second(runners),
        runners=len(runners),
        success=success_rate(jobs),
        p50=p50_item_seconds(jobs),
        queue_waiting=sum(q.waiting for q in queues),
        queues=queues,
    )
