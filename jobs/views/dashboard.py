"""The Dashboard page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path


@login_required
def page(request: HttpRequest) -> HttpResponse:
    return render(request, "jobs/dashboard.html", {})


urlpatterns = [
    path("", page, name="dashboard"),
]
