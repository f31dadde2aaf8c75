"""Settings → Audit log: the operator actions a user took (staff: everyone's), newest first,
a page at a time (the user's page size). Read-only, like the admin's view of it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from jobs import roles
from jobs.account.preferences import preferences_for
from jobs.audit import entries_for


@login_required
@require_GET
def page(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(entries_for(request.user), preferences_for(request.user).page_size)
    context = {
        "entries": paginator.get_page(request.GET.get("page")),
        "everyone": roles.is_staff(request.user),
    }
    return render(request, "settings/audit.html", context)


urlpatterns = [path("settings/audit", page, name="settings-audit")]
