"""The job page, /jobs/<id>: header and actions, progress, performance, failures by cause, the
items table and the log — plus the partials that htmx and the page script fetch to update it.

The first paint is a fixed handful of queries whatever the size of the job (counts are
denormalised on BatchJob; items are one keyset page; the log is its last lines). Every route
answers 404 for jobs the user may not see (jobs.access).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.views.decorators.http import require_GET

from jobs import item_groups, job_facts
from jobs.access import get_job_for_user
from jobs.api.item_views import (
    ITEM_PARAMS,
    ORDERINGS,
    BadParam,
    decode_cursor,
    encode_cursor,
    filtered_items,
    item_key,
    parse_params,
    walk,
)
from jobs.errors import ErrorCode
from jobs.models import BatchJob, ItemAttempt, ItemStatus, JobItem, JobStatus, LogLevel

PAGE_SIZE = 50
TEMPLATE = "jobs/job_detail.html"
FILTER_NAMES = ("status", "error_code", "http_status", "search")
BREAKDOWNS = {"code": "Error code", "http": "HTTP status", "host": "Host", "step": "Step"}
ITEM_COLUMNS = ("id", "position", "url", "status", "current_step", "attempts", "http_status")
ITEM_COLUMNS += ("error_code", "error", "duration", "finished_at")


# --- the items table ----------------------------------------------------------------------


def item_filters(query) -> dict[str, Any]:
    """The items table's filters from a query string; anything invalid is dropped, not an error
    (a page should open whatever its URL says)."""
    parsers = {name: ITEM_PARAMS[name] for name in (*FILTER_NAMES, "cursor")}
    params, errors = parse_params(query, parsers, {})
    for name in errors:
        params.pop(name, None)
    if "cursor" in params:
        try:
            params["cursor"] = decode_cursor(params["cursor"], "position")
        except BadParam:
            del params["cursor"]
    return params


def filter_query(params: dict[str, Any], **extra: str) -> str:
    """The filters (and `extra`, e.g. a cursor) as a query string, in a stable order."""
    pairs = []
    for name in FILTER_NAMES:
        value = params.get(name)
        if value in (None, "", []):
            continue
        pairs.append((name, ",".join(value) if isinstance(value, list) else str(value)))
    pairs += [(k, v) for k, v in extra.items() if v]
    return urlencode(pairs)


def matching_total(job: BatchJob, params: dict[str, Any]) -> int | None:
    """How many items match, when that is cheap: from the counters when only statuses are
    chosen, one indexed count for an error code; None for a search (it would scan the URLs)."""
    if params.get("search") or params.get("http_status") is not None:
        return None
    if params.get("error_code"):
        return filtered_items(job, params).count()
    statuses = params.get("status") or ItemStatus.values
    return sum(job.counts.get(status, 0) for status in statuses)


def items_page(job: BatchJob, params: dict[str, Any]) -> dict[str, Any]:
    """One keyset page of the table (position order): the same `walk` as the items API, so a
    page deep into a 100,000-item job costs what the first does."""
    order = ORDERINGS["position"]
    direction, key = params.get("cursor") or ("n", None)
    forward = direction == "n"
    base = filtered_items(job, params).only(*ITEM_COLUMNS)
    rows = walk(base, order, key, forward, PAGE_SIZE + 1)
    more, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
    if not forward:
        rows.reverse()
    has_next = more if forward else bool(rows)
    has_prev = (key is not None and bool(rows)) if forward else more
    link = {}
    if rows and has_next:
        link["next"] = encode_cursor("position", "n", item_key(rows[-1], order))
    if rows and has_prev:
        link["prev"] = encode_cursor("position", "p", item_key(rows[0], order))
    return {
        "rows": rows,
        "next": filter_query(params, cursor=link["next"]) if "next" in link else None,
        "prev": filter_query(params, cursor=link["prev"]) if "prev" in link else None,
        "first": filter_query(params) if key is not None else None,
        "total": matching_total(job, params),
        "filtered": any(params.get(name) not in (None, "", []) for name in FILTER_NAMES),
    }


def items_context(job: BatchJob, params: dict[str, Any]) -> dict[str, Any]:
    statuses = params.get("status") or []
    codes = params.get("error_code") or []
    return {
        "job": job,
        "page": items_page(job, params),
        "filters": {
            "status": statuses[0] if len(statuses) == 1 else "",
            "error_code": codes[0] if len(codes) == 1 else "",
            "search": params.get("search", ""),
            "http_status": params.get("http_status"),
        },
        "status_choices": ItemStatus.choices,
        "error_codes": ErrorCode.values,
    }


# --- the page -----------------------------------------------------------------------------


def insights_context(job: BatchJob, processor: job_facts.Processor) -> dict[str, Any]:
    """What the page refreshes while the job runs: performance, failures, what is in flight."""
    return {
        "job": job,
        "processor": processor,
        "perf": job_facts.performance(job),
        "failures": item_groups.groups(job, "code"),
        "flight": job_facts.in_flight(job, processor),
        "breakdowns": BREAKDOWNS,
    }


def page_data(job: BatchJob, logs: list[dict[str, Any]]) -> dict[str, Any]:
    """What the page script needs, passed with json_script."""
    base = f"/api/jobs/{job.pk}"
    here = reverse("job-detail", args=[job.pk])
    return {
        "jobId": str(job.pk),
        "seq": job.seq,
        "status": job.status,
        "counts": job.counts,
        "total": job.total_items,
        "startedAt": job.started_at.isoformat() if job.started_at else None,
        "lastLogId": logs[-1]["id"] if logs else 0,
        "active": sorted(JobStatus.ACTIVE),
        "jobStatus": {s.value: [JobStatus.colors[s], s.label] for s in JobStatus},
        "itemStatus": {s.value: [ItemStatus.colors[s], s.label] for s in ItemStatus},
        "levels": {level.label: level.value for level in LogLevel},
        "urls": {
            "api": base,
            "logs": f"{base}/logs",
            "cancel": reverse("job-cancel", args=[job.pk]),
            "retry": reverse("job-retry", args=[job.pk]),
            "delete": reverse("job-delete", args=[job.pk]),
            "insights": f"{here}/insights",
            "items": f"{here}/items",
            "list": reverse("job-list"),
        },
    }


@login_required
@require_GET
def page(request: HttpRequest, pk) -> HttpResponse:
    job = get_job_for_user(request.user, pk)
    processor = job_facts.processor_facts(job)
    logs = job_facts.recent_logs(job)
    context = {
        **insights_context(job, processor),
        **items_context(job, item_filters(request.GET)),
        "segments": job_facts.status_segments(job),
        "actions": job_facts.actions(job),
        "request_rows": job_facts.request_facts(job, processor),
        "logs": logs,
        "log_levels": [level.label for level in LogLevel],
        "data": page_data(job, logs),
    }
    return render(request, TEMPLATE, context)


@login_required
@require_GET
def insights(request: HttpRequest, pk) -> HttpResponse:
    """Performance, failures and in-flight work, plus the header's times: elements the page
    script swaps in by id."""
    job = get_job_for_user(request.user, pk)
    context = insights_context(job, job_facts.processor_facts(job))
    return render(request, f"{TEMPLATE}#insights", context)


@login_required
@require_GET
def items(request: HttpRequest, pk) -> HttpResponse:
    """The items table for the filters and cursor in the query string; htmx swaps it in and
    the address bar follows (HX-Replace-Url), so a reload shows the same page."""
    job = get_job_for_user(request.user, pk)
    params = item_filters(request.GET)
    response = render(request, f"{TEMPLATE}#items", items_context(job, params))
    cursor = request.GET.get("cursor") if "cursor" in params else ""
    query = filter_query(params, cursor=cursor)
    here = reverse("job-detail", args=[job.pk])
    response["HX-Replace-Url"] = f"{here}?{query}" if query else here
    return response


@login_required
@require_GET
def item_detail(request: HttpRequest, pk, item_id: int) -> HttpResponse:
    """An expanded row: the item's result (pretty JSON) and its attempt history."""
    job = get_job_for_user(request.user, pk)
    item = JobItem.objects.filter(job=job, pk=item_id).defer("worker").first()
    if item is None:
        raise Http404("No such item.")
    attempts = ItemAttempt.objects.filter(item=item).order_by("number", "id")
    result = None
    if item.result is not None:
        result = json.dumps(item.result, indent=2, ensure_ascii=False, sort_keys=True)
    context = {"job": job, "item": item, "result": result, "attempts": list(attempts)}
    return render(request, f"{TEMPLATE}#item-detail", context)


@login_required
@require_GET
def failures(request: HttpRequest, pk, by: str) -> HttpResponse:
    """Failed items grouped by HTTP status, host or step (loaded when its tab is chosen)."""
    job = get_job_for_user(request.user, pk)
    if by not in item_groups.BY or by == "code":
        raise Http404("No such breakdown.")
    context = {"job": job, "by": by, "groups": item_groups.groups(job, by)}
    return render(request, f"{TEMPLATE}#breakdown", context)


class LogText:
    """The job's whole log as text, chunk by chunk, in both the WSGI and the ASGI handler."""

    def __init__(self, job_id: Any) -> None:
        self.job_id = job_id

    def __iter__(self) -> Iterator[bytes]:
        for chunk in job_facts.log_text_chunks(self.job_id):
            yield chunk.encode("utf-8", "backslashreplace")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = job_facts.log_text_chunks(self.job_id)
        done = object()
        while (chunk := await sync_to_async(next)(chunks, done)) is not done:
            yield chunk.encode("utf-8", "backslashreplace")


@login_required
@require_GET
def log_download(request: HttpRequest, pk) -> StreamingHttpResponse:
    job = get_job_for_user(request.user, pk)
    text = LogText(job.pk)
    stream = text.__aiter__() if isinstance(request, ASGIRequest) else iter(text)
    response = StreamingHttpResponse(stream, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="job-{str(job.pk)[:8]}-log.txt"'
    response["Cache-Control"] = "private, no-store"
    return response


urlpatterns = [
    path("jobs/<uuid:pk>", page, name="job-detail"),
    path("jobs/<uuid:pk>/insights", insights, name="job-detail-insights"),
    path("jobs/<uuid:pk>/items", items, name="job-detail-items"),
    path("jobs/<uuid:pk>/items/<int:item_id>", item_detail, name="job-detail-item"),
    path("jobs/<uuid:pk>/failures/<str:by>", failures, name="job-detail-failures"),
    path("jobs/<uuid:pk>/log.txt", log_download, name="job-detail-log"),
]
