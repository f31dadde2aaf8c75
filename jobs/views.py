"""Pages. The dashboard, job list and job pages come with the web UI; until then the home page
sends people to what they can use: the admin for staff, the browsable API for everyone else."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("/admin/" if request.user.is_staff else "/api/jobs")
