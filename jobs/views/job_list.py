"""The Jobs page: the filtered, sorted, paged job list, and its row and bulk actions.

The query string is the page's whole state (shareable, the back button works); it is read by
jobs.listing with the API's own filter parsing. Actions are plain form posts that go through
jobs.services and come back to the same list with a message (post, redirect, get).
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from jobs import listing
from jobs.access import actionable_jobs_for, can_see_all, jobs_for, tallies_for
from jobs.account.preferences import layout_preferences
from jobs.api.filters import DATE_RANGES, PRIORITY_BANDS, JobFilter
from jobs.models import BatchJob, JobStatus
from jobs.processors.registry import processors
from jobs.services import BulkResult, cancel_jobs, retry_failed_jobs

ACTIONS = {"cancel": cancel_jobs, "retry": retry_failed_jobs}
DATE_LABELS = {"today": "Today", "week": "Last 7 days", "month": "Last 30 days", "all": "Any time"}


def _jump_to_job(request: HttpRequest) -> HttpResponse | None:
    """A full job id in the search box opens that job (when the user may see it)."""
    search = (request.GET.get("search") or "").strip()
    try:
        job_id = uuid.UUID(search)
    except ValueError:
        return None
    if len(search.replace("-", "")) != 32 or not jobs_for(request.user).filter(pk=job_id).exists():
        return None
    return redirect("job-detail", pk=job_id)


def _owners(rows: list[listing.Row]) -> None:
    """Staff see whose job each row is: one query for the page."""
    ids = [row.job_id for row in rows]
    names = dict(BatchJob.objects.filter(pk__in=ids).values_list("id", "owner__username"))
    for row in rows:
        row.owner = names.get(uuid.UUID(row.job_id), "")


def _headers(found: listing.Listing) -> list[dict]:
    """The table's column headers, with the sort link of the sortable ones."""
    sorts = listing.sort_links(found)
    columns = [
        ("Name", "", None),
        ("Progress", "", "progress"),
        ("Processor", "col-wide", None),
        ("Priority", "col-wide", "priority"),
        ("Items", "col-wide num", "total_items"),
        ("Created", "col-wide", "created_at"),
        ("Duration", "col-wide num", "duration"),
    ]
    return [
        {"label": label, "class": css, "sort": sorts[key] if key else None}
        for label, css, key in columns
    ]


def _hidden(query: QueryDict, *names: str, leave_out: tuple[str, ...] = ()) -> list:
    """(name, value) pairs of the query for a form's hidden inputs."""
    wanted = names or tuple(query)
    return [(n, query[n]) for n in wanted if n in query and n not in leave_out]


def _api_query(found: listing.Listing) -> str:
    """The same page as GET /api/jobs parameters (what the page polls while sockets are down)."""
    api = found.query.copy()
    api.pop("page", None)
    api["limit"] = str(found.pagination["limit"])
    api["offset"] = str(found.pagination["offset"])
    return api.urlencode()


def _status_chip(found: listing.Listing, tabs: list[dict]) -> str:
    """The status filter in words, when no tab shows it (e.g. from the dashboard's legend)."""
    if not found.statuses or any(tab["current"] for tab in tabs):
        return ""
    return ", ".join(JobStatus(s).label for s in found.statuses)


@login_required
def page(request: HttpRequest) -> HttpResponse:
    jump = _jump_to_job(request)
    if jump is not None:
        return jump
    jobs = jobs_for(request.user)
    found = listing.read(
        request.GET,
        jobs,
        page_size=layout_preferences(request.user).page_size,
        tally=tallies_for(request.user),
    )
    staff = can_see_all(request.user)
    if staff:
        _owners(found.rows)
    tabs = listing.tabs(found)
    query = found.query
    context = {
        "listing": found,
        "query": query,
        "tabs": tabs,
        "status_chip": _status_chip(found, tabs),
        "headers": _headers(found),
        "filter_hidden": _hidden(query, "status", "sort_by", "sort_order", "limit", "search"),
        "size_hidden": _hidden(query, leave_out=("limit", "page")),
        "jump_hidden": _hidden(query, leave_out=("page",)),
        "api_query": _api_query(found),
        "shown_from": found.pagination["offset"] + 1,
        "shown_to": found.pagination["offset"] + len(found.rows),
        "page_sizes": listing.PAGE_SIZES,
        "limit": found.pagination["limit"],
        "processors": [(name, cls.label or name) for name, cls in processors().items()],
        "priorities": list(PRIORITY_BANDS),
        "date_ranges": [(value, DATE_LABELS[value]) for value in DATE_RANGES],
        "staff": staff,
        "status_meta": {
            s: {"label": JobStatus(s).label, "color": JobStatus.colors[JobStatus(s)]}
            for s in JobStatus.values
        },
        "active_statuses": sorted(JobStatus.ACTIVE),
    }
    return render(request, "jobs/job_list.html", context)


def _selected(request: HttpRequest, query: QueryDict):
    """The jobs an action is for: the ticked ids, or everything matching the list's filter
    (only among the jobs the user may change: a viewer's selection is always empty)."""
    jobs = actionable_jobs_for(request.user)
    if request.POST.get("scope") == "matching":
        filterset = JobFilter(query, queryset=jobs)
        if not filterset.is_valid():
            raise ValueError("The filter changed or is not valid; nothing was done.")
        return filterset.qs
    ids = request.POST.getlist("ids")
    if not ids:
        raise ValueError("Select at least one job first.")
    try:
        wanted = [uuid.UUID(value) for value in ids]
    except ValueError:
        raise ValueError("That is not a job id; nothing was done.") from None
    return jobs.filter(pk__in=wanted)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _report(action: str, result: BulkResult) -> str:
    """What happened, in a sentence people read: "Cancelled 12 jobs; 3 had already finished."."""
    one = result.skipped == 1
    those = "that job" if one else f"those {result.skipped:,} jobs"
    if action == "cancel":
        if not result.changed:
            return f"Nothing to cancel: {those} {'has' if one else 'have'} already finished."
        text = f"Cancelled {_plural(result.changed, 'job')}"
        rest = f"; {result.skipped:,} had already finished." if result.skipped else "."
        return text + rest
    if not result.changed:
        verb, has = ("is", "has") if one else ("are", "have")
        return f"Nothing to retry: {those} {verb} still running or {has} no failed items."
    text = f"Retrying {_plural(result.items, 'failed item')} in {_plural(result.changed, 'job')}"
    rest = f"; {result.skipped:,} had nothing to retry." if result.skipped else "."
    return text + rest


@login_required
@require_POST
def actions(request: HttpRequest) -> HttpResponse:
    """Cancel or retry the selected jobs, or all jobs matching the list's filter."""
    query = QueryDict(request.POST.get("query", ""))
    # A query longer than any the page makes is not sent back (nor kept: the list starts over).
    keep = query and len(query.urlencode()) <= 4096
    back = redirect(f"{reverse('job-list')}?{query.urlencode()}" if keep else "job-list")
    action = request.POST.get("action", "")
    if action not in ACTIONS:
        messages.error(request, "Unknown action; choose cancel or retry.")
        return back
    try:
        jobs = _selected(request, query)
    except ValueError as exc:
        messages.error(request, str(exc))
        return back
    result = ACTIONS[action](jobs, actor=request.user)
    if not result.matched:
        messages.error(request, "None of those jobs is yours to change; nothing was done.")
    else:
        messages.success(request, _report(action, result))
    return back


urlpatterns = [
    path("jobs", page, name="job-list"),
    path("jobs/actions", actions, name="job-actions"),
]
