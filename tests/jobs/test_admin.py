"""The Django admin shows every model and runs the cancel / retry actions through the services."""

from __future__ import annotations

import pytest

from jobs.models import ItemAttempt, JobLogEntry, JobStatus
from jobs.services import submit_batch
from tests.conftest import refreshed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "root-pass-123")
    client.force_login(user)
    return client


def test_every_admin_page_renders(admin_client, alice, site, burst_worker):
    job = submit_batch(alice, urls=[site.url("/ok"), site.url("/reset")], max_attempts=1).job
    burst_worker()
    item = job.items.first()
    pages = [
        "/admin/jobs/batchjob/",
        f"/admin/jobs/batchjob/{job.pk}/change/",
        "/admin/jobs/jobitem/?status__exact=failed",
        f"/admin/jobs/jobitem/{item.pk}/change/",
        "/admin/jobs/itemattempt/",
        f"/admin/jobs/itemattempt/{ItemAttempt.objects.first().pk}/change/",
        "/admin/jobs/joblogentry/",
        f"/admin/jobs/joblogentry/{JobLogEntry.objects.first().pk}/change/",
        "/admin/jobs/runner/",
        "/admin/jobs/apikey/",
    ]
    for page in pages:
        assert admin_client.get(page).status_code == 200, page
    detail = admin_client.get(f"/admin/jobs/batchjob/{job.pk}/change/").content.decode()
    assert "2 in all: 1 succeeded, 1 failed" in detail
    assert admin_client.get("/admin/jobs/batchjob/add/").status_code == 403


def test_admin_actions_cancel_and_retry(admin_client, alice, site, burst_worker):
    queued = submit_batch(alice, urls=[site.url("/ok")]).job
    response = admin_client.post(
        "/admin/jobs/batchjob/",
        {"action": "cancel_jobs", "_selected_action": [str(queued.pk)]},
    )
    assert response.status_code == 302
    assert refreshed(queued).status == JobStatus.CANCELLED

    failed = submit_batch(alice, urls=[site.url("/reset")], max_attempts=1).job
    burst_worker()
    admin_client.post(
        "/admin/jobs/batchjob/",
        {"action": "retry_failed", "_selected_action": [str(failed.pk)]},
    )
    assert refreshed(failed).status == JobStatus.QUEUED


def test_the_admin_is_linked_for_staff_only(client, alice, staff):
    client.force_login(alice)
    assert 'href="/admin/"' not in client.get("/").content.decode()
    assert client.get("/admin/").status_code == 302  # to the admin's own login
    client.force_login(staff)
    assert 'href="/admin/"' in client.get("/").content.decode()
    assert client.get("/admin/").status_code == 200
