"""The bell every page's layout has, and the alerts it counts: its panel, the list page, mark
read (jobs.alerts raises them)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from jobs import alerts
from jobs.account.preferences import layout_preferences
from jobs.models import Alert

NOTICES_SHOWN = 10


def _mine(request: HttpRequest):
    """The user's own alerts (staff too: the bell is about what you asked for)."""
    return Alert.objects.filter(user=request.user).select_related("job").order_by("-id")


@login_required
@require_GET
def notifications(request: HttpRequest) -> HttpResponse:
    """The bell's panel: the latest alerts, unread ones marked."""
    return _panel(request)


def _panel(request: HttpRequest) -> HttpResponse:
    shown = list(_mine(request)[:NOTICES_SHOWN])
    unread = alerts.unread_count(request.user)
    return render(request, "jobs/partials/notifications.html", {"shown": shown, "unread": unread})


@login_required
@require_GET
def alert_list(request: HttpRequest) -> HttpResponse:
    mine = _mine(request)
    unread_only = request.GET.get("unread") == "1"
    if unread_only:
        mine = mine.filter(read_at__isnull=True)
    page = Paginator(mine, layout_preferences(request.user).page_size).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "jobs/alerts.html",
        {"page": page, "unread_only": unread_only, "unread": alerts.unread_count(request.user)},
    )


@login_required
@require_POST
def mark_read(request: HttpRequest, alert_id: int | None = None) -> HttpResponse:
    """Mark one alert (or all) read. From the bell's panel (htmx): the panel again."""
    alerts.mark_read(request.user, alert_id)
    if request.headers.get("HX-Request"):
        return _panel(request)
    return redirect("alerts")


urlpatterns = [
    path("notifications", notifications, name="notifications"),
    path("alerts", alert_list, name="alerts"),
    path("alerts/read", mark_read, name="alerts-read"),
    path("alerts/<int:alert_id>/read", mark_read, name="alert-read"),
]
