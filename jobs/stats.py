"""Small figures about recent work that pages show (p50 item time), at a bounded cost.

Pages never scan all items: these read a few recent jobs through the (processor, -created_at)
index and, per job, the latest finished items through the partial (job, finished_at, position)
index, so the cost is the same for a table of a thousand items or a hundred million.
"""

from __future__ import annotations

import statistics

from django.core.cache import cache
from django.db.models import Q

from jobs.models import BatchJob, JobItem

# How many of the latest jobs to look at, and of those how many (having finished items) to read.
JOB_WINDOW = 200
MAX_JOBS = 5
CACHE_SECONDS = 30


def recent_item_seconds(
    processor: str | None = None, *, sample: int = 500, cache_seconds: float = CACHE_SECONDS
) -> float | None:
    """The median duration in seconds of recently finished items (of `processor`, or of every
    processor when None), or None when nothing has finished yet. Cached `cache_seconds` (0: not)."""
    key = f"stats:recent_item_seconds:{processor or '*'}:{sample}"
    if cache_seconds:
        cached = cache.get(key)
        if cached is not None:
            return cached["p50"]
    durations = recent_durations(processor, sample=sample)
    p50 = statistics.median(durations) if durations else None
    if cache_seconds:
        cache.set(key, {"p50": p50}, cache_seconds)
    return p50


def recent_durations(processor: str | None = None, *, sample: int = 500) -> list[float]:
    """Up to `sample` durations of the latest finished items, newest jobs first."""
    durations: list[float] = []
    for job_id in _recent_jobs_with_finished_items(processor):
        want = sample - len(durations)
        if want <= 0:
            break
        # Read past the items that finished without running (cancelled before they ran have a
        # finished_at but no duration), but never more than a bounded slice of the index.
        rows = (
            JobItem.objects.filter(job_id=job_id, finished_at__isnull=False)
            .order_by("-finished_at", "-position")
            .values_list("duration", flat=True)[: want * 2]
        )
        durations.extend(d for d in rows if d is not None)
        del durations[sample:]
    return durations


def _recent_jobs_with_finished_items(processor: str | None) -> list:
    jobs = BatchJob.objects.all()
    if processor:
        jobs = jobs.filter(processor=processor)
    # A bounded window of the newest jobs (an index range), then the few that ran something.
    window = jobs.order_by("-created_at").values("pk")[:JOB_WINDOW]
    ran = Q(count_succeeded__gt=0) | Q(count_failed__gt=0)
    return list(
        BatchJob.objects.filter(pk__in=window)
        .filter(ran)
        .order_by("-created_at")
        .values_list("pk", flat=True)[:MAX_JOBS]
    )
