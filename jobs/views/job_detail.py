"""The job page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from jobs.access import get_job_for_user


@login_required
def page(request: HttpRequest, pk) -> HttpResponse:
    job = get_job_for_user(request.user, pk)
    return render(request, "jobs/job_detail.html", {"job": job})


urlpatterns = [
    path("jobs/<uuid:pk>", page, name="job-detail"),
]
