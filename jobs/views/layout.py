"""Partials every page's layout uses: the notifications bell."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from jobs.access import jobs_for
from jobs.models import JobStatus

NOTICES_SHOWN = 10


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    """The bell's panel: the user's most recently finished jobs (staff: their own too — the bell
    is about what you asked for, not everyone's work)."""
    finished = (
        jobs_for(request.user)
        .filter(owner=request.user, status__in=JobStatus.TERMINAL, finished_at__isnull=False)
        .only("id", "name", "status", "finished_at", "total_items", "count_failed")
        .order_by("-finished_at")[:NOTICES_SHOWN]
    )
    return render(request, "jobs/partials/notifications.html", {"finished": finished})


urlpatterns = [
    path("notifications", notifications, name="notifications"),
]
