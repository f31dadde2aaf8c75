"""A job's failed items grouped by cause — error code, HTTP status, host, or the step they ended
at — and the filter that picks one group out again ("retry this group").

Grouping and selecting use the same expressions, so a group's count is exactly what a retry of
it puts back. Every query reads only the job's failed and cancelled items (the (job, status,
position) index), never the whole job.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, QuerySet, Value
from django.db.models.functions import Concat, StrIndex, Substr

from jobs.models import BatchJob, ItemStatus, JobItem

# Items a "retry this group" button can put back (services.retry_items accepts these).
RETRYABLE = (ItemStatus.FAILED, ItemStatus.CANCELLED)
GROUPS_SHOWN = 12
BY = ("code", "http", "host", "step")


def host_expression():
    """The host[:port] of a normalised URL ("scheme://host[:port]/path…"), in SQL."""
    rest = Substr(F("url"), StrIndex(F("url"), Value("://")) + 3)
    return Substr(rest, 1, StrIndex(Concat(rest, Value("/")), Value("/")) - 1)


def as_is(column: F, *, text: bool = False):
    """The column's value, as an expression: grouped by it, a planner without statistics (SQLite
    as deployed) reads the failed rows through the (job, status, position) index instead of
    walking all of the job's items in (job, error_code) or (job, http_status) index order —
    4,000 failures of a 100,000-item job: 8 ms instead of 80."""
    return Concat(column, Value("")) if text else column + 0


def failed_items(job: BatchJob) -> QuerySet[JobItem]:
    return JobItem.objects.filter(job=job, status__in=RETRYABLE)


def in_group(items: QuerySet[JobItem], *, http_status: int | None = None, host: str | None = None):
    """`items` narrowed to one HTTP status and/or one host (as `groups` names them)."""
    if http_status is not None:
        items = items.filter(http_status=http_status)
    if host is not None:
        items = items.annotate(host=host_expression()).filter(host=host)
    return items


def groups(job: BatchJob, by: str) -> list[dict[str, Any]]:
    """The job's failed and cancelled items per cause, largest group first: dicts with `key`
    (what selects the group), `label` (for people) and `count`. One grouped query."""
    if not (job.count_failed or job.count_cancelled):
        return []
    failed = failed_items(job)
    if by == "code":
        rows = failed.annotate(key=as_is(F("error_code"), text=True)).values_list("key")
        found = [
            {"key": c or "", "label": c or "No error code", "count": n}
            for c, n in rows.annotate(n=Count("id")).order_by()
        ]
    elif by == "http":
        rows = failed.annotate(key=as_is(F("http_status"))).filter(key__isnull=False)
        found = [
            {"key": str(s), "label": f"HTTP {s}", "count": n}
            for s, n in rows.values_list("key").annotate(n=Count("id")).order_by()
        ]
    elif by == "host":
        rows = failed.annotate(host=host_expression()).values_list("host")
        found = [
            {"key": h, "label": h or "(no host)", "count": n}
            for h, n in rows.annotate(n=Count("id")).order_by()
        ]
    elif by == "step":
        rows = failed.values_list("current_step").annotate(n=Count("id")).order_by()
        found = [{"key": s, "label": s or "before the first step", "count": n} for s, n in rows]
    else:
        raise ValueError(f"No such grouping: {by!r}")
    found.sort(key=lambda g: (-g["count"], g["label"]))
    return found[:GROUPS_SHOWN]
