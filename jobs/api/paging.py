"""One page of GET /api/jobs: the jobs, the total and the per-status summary, in two queries
whatever the page size, and without reading each of a user's 100,000 jobs to do it.

- The summary counts the jobs that match every filter but status. Filtered by processor and
  priority at most, it sums JobTally rows (counts kept by triggers). Otherwise it counts from the
  job list indexes (jobs.models.pipeline: (owner, key, id, status, created_at, priority,
  processor, name)), never the table: with a date or priority range from the index that leads to
  the range; without one, in one pass over the status index in status order (GROUP BY status
  without sorting).
- The page's ids come first, then only those rows are read (a deferred join). When few jobs
  match (the summary has just counted them), they are found by the filters and sorted; else the
  sort key's index is walked in order until the page is full.

SQLite's planner knows little of the data (nothing before jobs.dbstats first runs ANALYZE):
these shapes leave it one sensible plan each.
"""

from __future__ import annotations

import math
from typing import Any

from django.db.models import Count, F, QuerySet
from django.db.models.functions import Coalesce

from jobs.api.filters import SORT_FIELDS, JobFilter
from jobs.api.serializers import LIST_FIELDS, job_dict
from jobs.models import BatchJob, JobStatus, JobTally

SUMMARY_GROUPS = {
    "completed": (JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS),
    "failed": (JobStatus.FAILED,),
    "in_progress": (JobStatus.RUNNING, JobStatus.CANCELLING),
    "pending": (JobStatus.PENDING, JobStatus.QUEUED),
    "cancelled": (JobStatus.CANCELLED,),
}
# Up to this many matching jobs, sorting them all costs less than walking the sort key's index
# past the ones that do not match.
SORT_AT_MOST = 2000


def status_counts(jobs: QuerySet[BatchJob], *, narrowed: bool) -> dict[str, int]:
    """Jobs per status. `narrowed`: a range filter has an index that beats a full pass."""
    status = "status"
    if narrowed:
        # Grouped by an expression, which no index is ordered by: otherwise the status index
        # would win the plan for its order, and be read whole.
        status = Coalesce("status", "status")
    rows = jobs.order_by().values_list(status).annotate(n=Count("pk"))
    return dict(rows)


def summary_of(by_status: dict[str, int]) -> dict[str, int]:
    summary = {"total_jobs": sum(by_status.values())}
    for name, statuses in SUMMARY_GROUPS.items():
        summary[name] = sum(by_status.get(status, 0) for status in statuses)
    return summary


def page_of(
    jobs: QuerySet[BatchJob], key: str, descending: bool, offset: int, limit: int, *, sort: bool
) -> list[BatchJob]:
    """The jobs of one page, in order. `sort`: find the matches by the filters and sort them,
    rather than walk the key's index."""
    ordering = (F(key).desc(), F("id").desc()) if descending else (F(key).asc(), F("id").asc())
    walk_order = ordering
    if sort:
        # An expression no index is ordered by: the filters choose the index, then a sort.
        unindexed = Coalesce(key, key)
        walk_order = (unindexed.desc() if descending else unindexed.asc(), ordering[1])
    ids = jobs.order_by(*walk_order).values("pk")[offset : offset + limit]
    return list(BatchJob.objects.filter(pk__in=ids).only(*LIST_FIELDS).order_by(*ordering))


def job_page(
    filterset: JobFilter,
    *,
    limit: int,
    offset: int,
    sort_by: str,
    sort_order: str,
    tally: QuerySet[JobTally] | None = None,
) -> dict[str, Any]:
    """The body of GET /api/jobs for a valid filterset: jobs, pagination and summary.

    `tally`: the JobTally rows of the jobs filterset.queryset holds (jobs.access.tallies_for),
    which answer the summary when they can; without them it is counted.
    """
    ranges = filterset.range_columns()
    by_status = filterset.tallied(tally) if tally is not None else None
    if by_status is None:
        by_status = status_counts(filterset.but_status(), narrowed=bool(ranges))
    wanted = filterset.form.cleaned_data.get("status") or list(JobStatus.values)
    total = sum(by_status.get(status, 0) for status in wanted)
    key = SORT_FIELDS[sort_by]
    jobs = []
    if offset < total:
        # The key's index is the best walk when a filter bounds the key itself.
        sort = total <= SORT_AT_MOST and key not in ranges
        jobs = page_of(filterset.qs, key, sort_order == "desc", offset, limit, sort=sort)
    return {
        "jobs": [job_dict(job) for job in jobs],
        "pagination": {
            "total": total,
            "limit": limit,
            "offset": offset,
            "page": offset // limit + 1,
            "pages": max(1, math.ceil(total / limit)),
        },
        "summary": summary_of(by_status),
    }
