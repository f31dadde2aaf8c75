"""The Dashboard page: KPI cards, jobs by status, activity, queues and workers.

The page and its live refresh (`dashboard/panels`, swapped in by htmx out of band) render the same
template partials from the same context, so a refresh reads exactly like the first paint.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from redis.exceptions import RedisError

from jobs import activity, kpis, workerinfo
from jobs.access import can_see_all, jobs_for
from jobs.api.ops_views import queue_counts
from jobs.models import JobStatus


def status_chart(counts: dict[str, int]) -> dict[str, Any]:
    """Jobs per status for the chart and its legend (colours are JobStatus.colors)."""
    return {
        "statuses": list(JobStatus.values),
        "labels": [JobStatus(s).label for s in JobStatus.values],
        "colors": [JobStatus.colors[JobStatus(s)] for s in JobStatus.values],
        "counts": [counts[s] for s in JobStatus.values],
    }


def rq_queues() -> dict[str, dict[str, int]] | None:
    """RQ's own view of each queue (chunks waiting, workers listening), for staff; None when
    Redis does not answer."""
    try:
        return {name: queue_counts(name) for name in settings.JOB_QUEUES}
    except RedisError:
        return None


def dashboard_context(user) -> dict[str, Any]:
    jobs = jobs_for(user)
    counts = kpis.status_counts(jobs)
    runners = kpis.live_runners(jobs)
    figures = kpis.figures(jobs, counts, runners)
    try:
        workers = workerinfo.worker_cards(runners)
    except RedisError:
        workers = None
    staff = can_see_all(user)
    rq = rq_queues() if staff else None
    return {
        "figures": figures,
        "total_jobs": sum(counts.values()),
        "legend": [
            {"status": JobStatus(s), "count": counts[s], "color": JobStatus.colors[JobStatus(s)]}
            for s in JobStatus.values
        ],
        "chart": status_chart(counts),
        "timeline": activity.timeline(jobs),
        "queues": [
            {"depth": depth, "rq": rq.get(depth.name) if rq else None} for depth in figures.queues
        ],
        "queue_max": max([q.waiting + q.processing for q in figures.queues] + [1]),
        "workers": workers,
        "staff": staff,
    }


@login_required
def page(request: HttpRequest) -> HttpResponse:
    return render(request, "jobs/dashboard.html", dashboard_context(request.user))


@login_required
def panels(request: HttpRequest) -> HttpResponse:
    """Every panel again, each marked for an out-of-band swap (the page's live refresh)."""
    context = {**dashboard_context(request.user), "oob": True}
    return render(request, "jobs/dashboard.html#panels", context)


urlpatterns = [
    path("", page, name="dashboard"),
    path("dashboard/panels", panels, name="dashboard-panels"),
]
