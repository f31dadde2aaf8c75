"""Quotas: URLs per batch, jobs queued or running at once, jobs per hour — enforced by
services.submit_batch for the API (429), the CLI (exit 2) and pages (a ServiceError the form
shows), set by staff in the admin, shown to users as usage bars."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from jobs.models import BatchJob, JobStatus, Quota
from jobs.services import ServiceError, submit_batch
from tests.conftest import ROOT, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True)

URL = "https://example.com/"


def set_quota(user, **limits) -> Quota:
    quota, _ = Quota.objects.update_or_create(
        user=user,
        defaults={"max_urls_per_batch": None, "max_running_jobs": None, "jobs_per_hour": None}
        | limits,
    )
    return quota


def post_job(user, urls: list[str]):
    client = APIClient()
    client.force_authenticate(user)
    return client.post("/api/jobs", {"urls": urls}, format="json")


def test_a_user_starts_with_the_site_default_quota(alice, settings):
    settings.BATCHSITE_QUOTA_MAX_RUNNING_JOBS = 7
    settings.BATCHSITE_QUOTA_JOBS_PER_HOUR = 0  # no limit
    submit_batch(alice, urls=[URL])
    quota = Quota.objects.get(user=alice)
    assert quota.max_running_jobs == 7
    assert quota.jobs_per_hour is None
    assert quota.max_urls_per_batch == settings.BATCHSITE_MAX_URLS_PER_BATCH


def test_too_many_running_jobs_answers_429_on_the_api(alice, bob):
    set_quota(alice, max_running_jobs=1)
    assert post_job(alice, [URL]).status_code == 201
    response = post_job(alice, [URL + "2"])
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "quota_exceeded"
    assert body["errors"] == {
        "detail": [
            "You have 1 jobs queued or running; your quota is 1 at once. "
            "Wait for one to finish or cancel one."
        ]
    }
    assert BatchJob.objects.filter(owner=alice).count() == 1
    assert post_job(bob, [URL]).status_code == 201, "quotas are per user"
    BatchJob.objects.filter(owner=alice).update(status=JobStatus.COMPLETED)
    assert post_job(alice, [URL]).status_code == 201, "a finished job frees its place"


def test_too_many_jobs_in_an_hour_answers_429_and_says_when_to_come_back(alice):
    set_quota(alice, jobs_per_hour=2)
    now = timezone.now()
    for minutes in (50, 10, 70):
        BatchJob.objects.create(
            owner=alice, status=JobStatus.COMPLETED, created_at=now - timedelta(minutes=minutes)
        )
    response = post_job(alice, [URL])
    assert response.status_code == 429
    assert response.json()["errors"]["detail"] == [
        "You have submitted 2 jobs in the last hour; your quota is 2 per hour. Try again in 10 min."
    ]


def test_a_batch_past_the_url_quota_is_refused_on_the_urls_field(alice):
    set_quota(alice, max_urls_per_batch=2)
    assert post_job(alice, [URL + "a", URL + "b"]).status_code == 201
    response = post_job(alice, [URL + "a", URL + "b", URL + "c"])
    assert response.status_code == 429
    assert response.json()["errors"] == {
        "urls": [
            "This batch has 3 URLs; your quota is 2 URLs per batch. Split it into smaller batches."
        ]
    }


def test_the_service_error_is_what_the_new_batch_form_shows(alice):
    from django import forms

    from jobs.account.forms import add_service_errors

    set_quota(alice, max_running_jobs=0)
    with pytest.raises(ServiceError) as caught:
        submit_batch(alice, text=URL)
    error = caught.value
    assert (error.status, error.code) == (429, "quota_exceeded")
    assert list(error.errors) == ["detail"]

    class NewBatch(forms.Form):
        urls = forms.CharField()

    form = NewBatch({"urls": URL})
    assert form.is_valid()
    add_service_errors(form, error)
    assert form.non_field_errors() == error.errors["detail"]


def test_the_cli_exits_2_with_the_quota_message(alice, tmp_path):
    set_quota(alice, max_urls_per_batch=1)
    path = tmp_path / "urls.txt"
    path.write_text(f"{URL}a\n{URL}b\n")
    done = subprocess.run(
        [sys.executable, "manage.py", "submit_batch", str(path), "--user", "alice"],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "This batch has 2 URLs; your quota is 1 URLs per batch." in done.stderr
    assert "urls:" not in done.stderr
    assert not BatchJob.objects.exists()


def test_submissions_at_the_same_moment_cannot_both_slip_under_the_limit(alice):
    set_quota(alice, max_running_jobs=1)
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def submit(n: int) -> None:
        start.wait()
        try:
            submit_batch(alice, urls=[f"{URL}{n}"])
            outcomes.append("ok")
        except ServiceError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["ok", "quota_exceeded", "quota_exceeded", "quota_exceeded"]
    assert BatchJob.objects.count() == 1


def test_usage_bars_show_what_is_used_of_each_quota(alice, client):
    set_quota(alice, max_running_jobs=4, jobs_per_hour=10, max_urls_per_batch=None)
    submit_batch(alice, urls=[URL + "1", URL + "2", URL + "3"])
    BatchJob.objects.create(owner=alice, status=JobStatus.RUNNING, total_items=1)
    client.force_login(alice)
    page = client.get("/settings").content.decode()
    figures = re.findall(r'class="usage__figure">([^<]*)', page)
    assert [f.strip() for f in figures] == ["2 of 4", "2 of 10", "3"]
    assert "no limit" in page
    assert 'value="50"' in page  # 2 of 4 running


def test_staff_change_quotas_in_the_admin(alice, staff, client):
    quota = set_quota(alice, max_running_jobs=3)
    client.force_login(staff)  # staff, not a superuser
    page = f"/admin/jobs/quota/{quota.pk}/change/"
    assert client.get("/admin/jobs/quota/").status_code == 200
    response = client.post(
        page, {"max_urls_per_batch": "500", "max_running_jobs": "8", "jobs_per_hour": ""}
    )
    assert response.status_code == 302
    quota.refresh_from_db()
    assert (quota.max_urls_per_batch, quota.max_running_jobs, quota.jobs_per_hour) == (
        500,
        8,
        None,
    )
    client.force_login(alice)
    assert client.get(page).status_code == 302, "not for non-staff users"
