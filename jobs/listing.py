"""The Jobs page's query string, read exactly as GET /api/jobs reads it.

Filters (status, date_range, priority, processor, search) and sorting (sort_by, sort_order) and
the page size (limit) go through the API's own parsing (jobs.api.filters) and its page query
(jobs.api.views.job_page), so the page and /api/jobs always agree. The page adds `page` (1-based)
instead of `offset`. A bad value is reported and left out; the rest still applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone

from jobs.api.filters import JobFilter, filter_errors, parse_paging
from jobs.api.paging import SUMMARY_GROUPS, job_page
from jobs.models import BatchJob, JobStatus, JobTally, Priority

PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_PAGE_SIZE = 25
FILTERS = ("status", "date_range", "priority", "processor", "search")
KEPT = (*FILTERS, "sort_by", "sort_order", "limit", "page")
# Status tabs: the API summary's groups, in the order people look for them.
TABS = (
    ("total_jobs", "All"),
    ("in_progress", "In progress"),
    ("pending", "Waiting"),
    ("completed", "Completed"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
)
# Columns people can sort by: (sort_by, the direction a first click sorts in).
SORTABLE = {
    "created_at": "desc",
    "priority": "desc",
    "total_items": "desc",
    "progress": "desc",
    "duration": "desc",
    "updated_at": "desc",
}


@dataclass
class Row:
    """One job as the API lists it, with its times as datetimes for the template."""

    data: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    owner: str = ""

    def __getattr__(self, name: str) -> Any:
        try:
            return self.data[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def status_member(self) -> JobStatus:
        return JobStatus(self.data["status"])

    @property
    def is_active(self) -> bool:
        return self.data["status"] in JobStatus.ACTIVE

    @property
    def can_retry(self) -> bool:
        return self.data["status"] in JobStatus.TERMINAL and self.data["counts"]["failed"] > 0

    @property
    def done(self) -> int:
        counts = self.data["counts"]
        return counts["succeeded"] + counts["failed"] + counts["cancelled"] + counts["skipped"]

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or timezone.now()
        return max(0.0, (end - self.started_at).total_seconds())

    @property
    def priority_label(self) -> str:
        return Priority.label(self.data["priority"])


@dataclass
class Listing:
    rows: list[Row]
    pagination: dict[str, int]
    summary: dict[str, int]
    query: QueryDict  # the valid parameters, for links and forms
    errors: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    sort_by: str = "created_at"
    sort_order: str = "desc"
    page: int = 1


def _parse_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _row(job: dict[str, Any]) -> Row:
    return Row(
        job,
        created_at=_parse_time(job["created_at"]),
        started_at=_parse_time(job["started_at"]),
        finished_at=_parse_time(job["finished_at"]),
    )


def _describe(errors: dict[str, dict[str, str]]) -> list[str]:
    return [
        f"Ignored {name}: {problem['message']} It accepts {problem['accepts']}."
        for name, problem in errors.items()
    ]


def _page_number(raw: str | None) -> int | None:
    """The 1-based page, or None when it is not a whole number ≥ 1."""
    if raw is None or raw.strip() == "":
        return 1
    raw = raw.strip()
    return int(raw) if raw.isdigit() and len(raw) <= 10 and 1 <= int(raw) <= 10**9 else None


def read(
    params: QueryDict,
    jobs: QuerySet[BatchJob],
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    tally: QuerySet[JobTally] | None = None,
) -> Listing:
    """The page of jobs the query string asks for (bad values reported and left out); without a
    `limit`, `page_size` rows (the user's preference). `tally`: the JobTally rows of `jobs`
    (jobs.access.tallies_for), which answer the status tabs without counting, as in the API."""
    query = QueryDict(mutable=True)
    for name in KEPT:
        values = [v for v in params.getlist(name) if v.strip()]
        if values:
            query.setlist(name, values[-1:])
    filterset = JobFilter(query, queryset=jobs)
    paging, problems = parse_paging(query)
    if not filterset.is_valid():
        problems = {**filter_errors(filterset.form), **problems}
    page = _page_number(query.get("page"))
    if page is None:
        problems["page"] = {
            "message": f"Invalid page {query['page']!r}.",
            "accepts": "a whole number from 1 to 1,000,000,000",
        }
    for name in problems:
        query.pop(name, None)
    if problems:
        filterset = JobFilter(query, queryset=jobs)
        filterset.is_valid()
    errors = _describe(problems)
    limit = paging["limit"] if "limit" in query else page_size
    page = page or 1
    order = {"sort_by": paging["sort_by"], "sort_order": paging["sort_order"]}
    data = job_page(filterset, limit=limit, offset=(page - 1) * limit, tally=tally, **order)
    pages = data["pagination"]["pages"]
    if page > pages:  # past the end (the list shrank, or a typed page number): the last page
        errors.append(f"There is no page {page:,}; this is the last one, page {pages:,}.")
        page = pages
        query["page"] = str(page)
        data = job_page(filterset, limit=limit, offset=(page - 1) * limit, tally=tally, **order)
    return Listing(
        rows=[_row(job) for job in data["jobs"]],
        pagination=data["pagination"],
        summary=data["summary"],
        query=query,
        errors=errors,
        statuses=filterset.form.cleaned_data.get("status") or [],
        page=page,
        **order,
    )


def tabs(listing: Listing) -> list[dict[str, Any]]:
    """The status tabs, each with its count from the summary and its link's status value."""
    chosen = set(listing.statuses)
    out = []
    for key, label in TABS:
        statuses = list(SUMMARY_GROUPS.get(key, ()))
        out.append(
            {
                "label": label,
                "count": listing.summary[key],
                "status": ",".join(statuses) or None,
                "current": chosen == set(statuses),
            }
        )
    return out


def sort_links(listing: Listing) -> dict[str, dict[str, str | None]]:
    """Per sortable column: the sort_by/sort_order its header link sets, and its aria-sort."""
    links = {}
    for key, first in SORTABLE.items():
        current = listing.sort_by == key
        if current:
            order = "asc" if listing.sort_order == "desc" else "desc"
            aria = "descending" if listing.sort_order == "desc" else "ascending"
        else:
            order, aria = first, None
        links[key] = {"sort_by": key, "sort_order": order, "aria": aria}
    return links
