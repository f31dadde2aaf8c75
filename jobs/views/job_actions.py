"""The job page's buttons: cancel, retry (all failed items, or one group of failures) and
delete. Each is a POST that calls jobs.services and answers JSON for the page script: what
happened in a sentence, or the service's refusal with its status (409 while running, …)."""

from __future__ import annotations

import functools

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from jobs import item_groups
from jobs.access import get_job_for_user
from jobs.models import ItemStatus
from jobs.services import ServiceError, cancel_job, delete_job, retry_items


def refused(exc: ServiceError) -> JsonResponse:
    messages = [message for field in exc.errors.values() for message in field]
    body = {"ok": False, "code": exc.code, "message": " ".join(messages) or str(exc)}
    return JsonResponse(body, status=exc.status)


def read_only(view):
    """A viewer's button press: the page script shows the message (a 403 in JSON, not HTML)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> JsonResponse:
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied as exc:
            body = {"ok": False, "code": "forbidden", "message": str(exc)}
            return JsonResponse(body, status=403)

    return wrapped


def bad_request(message: str) -> JsonResponse:
    return JsonResponse({"ok": False, "code": "invalid", "message": message}, status=400)


@login_required
@require_POST
@read_only
def cancel(request: HttpRequest, pk) -> JsonResponse:
    job = get_job_for_user(request.user, pk, act=True)
    try:
        job = cancel_job(job, actor=request.user)
    except ServiceError as exc:
        return refused(exc)
    return JsonResponse({"ok": True, "status": job.status, "message": "Cancel requested."})


def group_filter(by: str, key: str) -> dict | str:
    """retry_items arguments for one group of item_groups.groups, or why there is none."""
    if by == "":
        return {"statuses": [ItemStatus.FAILED]}
    statuses = list(item_groups.RETRYABLE)
    if by == "code" and key:
        return {"statuses": statuses, "error_code": key}
    if by == "http" and key.isdigit() and len(key) == 3:
        return {"statuses": statuses, "http_status": int(key)}
    if by == "host" and key:
        return {"statuses": statuses, "host": key}
    return "Retry all failed items, or one group by error code, HTTP status or host."


@login_required
@require_POST
@read_only
def retry(request: HttpRequest, pk) -> JsonResponse:
    """No `by`: every failed item. `by` code / http / host with its `key`: one failure group
    (failed and cancelled items, as the group counts them)."""
    job = get_job_for_user(request.user, pk, act=True)
    arguments = group_filter(request.POST.get("by", ""), request.POST.get("key", ""))
    if isinstance(arguments, str):
        return bad_request(arguments)
    try:
        requeued = retry_items(job, **arguments, actor=request.user)
    except ServiceError as exc:
        return refused(exc)
    if not requeued:
        return JsonResponse({"ok": True, "requeued": 0, "message": "Nothing to retry."})
    noun = "item" if requeued == 1 else "items"
    message = f"{requeued:,} {noun} queued again."
    return JsonResponse({"ok": True, "requeued": requeued, "message": message})


@login_required
@require_POST
@read_only
def delete(request: HttpRequest, pk) -> JsonResponse:
    job = get_job_for_user(request.user, pk, act=True)
    try:
        delete_job(job, actor=request.user)
    except ServiceError as exc:
        return refused(exc)
    return JsonResponse({"ok": True, "message": "Job deleted.", "redirect": reverse("job-list")})


urlpatterns = [
    path("jobs/<uuid:pk>/cancel", cancel, name="job-cancel"),
    path("jobs/<uuid:pk>/retry", retry, name="job-retry"),
    path("jobs/<uuid:pk>/delete", delete, name="job-delete"),
]
