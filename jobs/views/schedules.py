"""The Schedules pages: /schedules (every schedule with its timing, next run, last run's status,
pause/resume) and /schedules/<id> (its settings, next runs, recent runs, and what changed between
its last two finished runs). Buttons are plain POST forms through jobs.schedules."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from jobs import schedule_diff, schedule_timing, schedules
from jobs.access import can_see_all
from jobs.models import BatchJob, Schedule

RECENT_RUNS = 20


def get_schedule(request: HttpRequest, pk) -> Schedule:
    try:
        rows = schedules.with_last_run(schedules.schedules_for(request.user))
        return rows.select_related("owner").get(pk=pk)
    except (Schedule.DoesNotExist, ValueError, ValidationError):
        raise Http404("No such schedule.") from None


@login_required
@require_GET
def schedule_list(request: HttpRequest) -> HttpResponse:
    rows = schedules.with_last_run(schedules.schedules_for(request.user)).select_related("owner")
    context = {
        "schedules": list(rows[:500]),
        "staff": can_see_all(request.user),
        "zone": schedules.user_time_zone(request.user),
    }
    return render(request, "jobs/schedule_list.html", context)


@login_required
@require_GET
def schedule_detail(request: HttpRequest, pk) -> HttpResponse:
    schedule = get_schedule(request, pk)
    runs = list(BatchJob.objects.filter(schedule=schedule).order_by("-created_at")[:RECENT_RUNS])
    context = {
        "schedule": schedule,
        "runs": runs,
        "upcoming": [] if schedule.paused else schedule_timing.upcoming(schedule, 5),
        "changes": schedule_diff.since_last_run(schedule),
        "zone": schedules.user_time_zone(request.user),
        "urls_shown": schedule.urls[:50],
    }
    return render(request, "jobs/schedule_detail.html", context)


def _back(request: HttpRequest, schedule: Schedule) -> HttpResponse:
    if request.POST.get("next") == "list":
        return redirect("schedule-list")
    return redirect("schedule-detail", pk=schedule.pk)


@login_required
@require_POST
def pause(request: HttpRequest, pk) -> HttpResponse:
    schedule = schedules.pause(get_schedule(request, pk))
    messages.success(request, f"{schedule} is paused.")
    return _back(request, schedule)


@login_required
@require_POST
def resume(request: HttpRequest, pk) -> HttpResponse:
    schedule = schedules.resume(get_schedule(request, pk))
    messages.success(request, f"{schedule} runs again.")
    return _back(request, schedule)


@login_required
@require_POST
def delete(request: HttpRequest, pk) -> HttpResponse:
    schedule = get_schedule(request, pk)
    schedule.delete()
    messages.success(request, f"{schedule} is deleted; its runs stay in Jobs.")
    return redirect("schedule-list")


urlpatterns = [
    path("schedules", schedule_list, name="schedule-list"),
    path("schedules/<str:pk>", schedule_detail, name="schedule-detail"),
    path("schedules/<str:pk>/pause", pause, name="schedule-pause"),
    path("schedules/<str:pk>/resume", resume, name="schedule-resume"),
    path("schedules/<str:pk>/delete", delete, name="schedule-delete"),
]
