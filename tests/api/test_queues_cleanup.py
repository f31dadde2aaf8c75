"""GET /api/queues (RQ counts, live workers, waiting items) and POST /api/cleanup (staff only)."""

from __future__ import annotations

from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rq import SimpleWorker

from jobs.models import (
    BatchJob,
    JobItem,
    JobLogEntry,
    JobStatus,
)
from jobs.services import submit_batch
from tests.api.seed import client_for, make_job

pytestmark = pytest.mark.django_db(transaction=True)


def test_queues_report_rq_counts_workers_and_waiting_items(api, alice, settings):
    submit_batch(alice, urls=[f"https://example.com/{i}" for i in range(3)], priority=8)
    submit_batch(alice, urls=["https://example.org"], priority=2)
    BatchJob.objects.create(owner=alice, priority=8, status=JobStatus.COMPLETED, count_queued=9)
    queue = django_rq.get_queue("high")
    worker = SimpleWorker([queue], connection=queue.connection)
    worker.register_birth()
    try:
        body = api.get("/api/queues").json()
    finally:
        worker.register_death()
    assert [q["name"] for q in body["queues"]] == list(settings.JOB_QUEUES)
    by_name = {q.pop("name"): q for q in body["queues"]}
    assert set(by_name["high"]) == {
        "queued",
        "started",
        "failed",
        "scheduled",
        "deferred",
        "finished",
        "workers",
        "pending_items",
    }
    assert (by_name["high"]["queued"], by_name["high"]["workers"]) == (1, 1)
    assert by_name["high"]["pending_items"] == 3  # the finished job's stale counter is not
    assert (by_name["low"]["queued"], by_name["low"]["pending_items"]) == (1, 1)
    assert by_name["urgent"] == dict.fromkeys(by_name["urgent"], 0)


def test_queues_need_authentication():
    assert APIClient().get("/api/queues").status_code == 401


def old_job(owner, status, days_ago: float, items: int = 2) -> BatchJob:
    when = timezone.now() - timedelta(days=days_ago)
    job = make_job(owner, items, created_at=when)
    job.status = status
    job.finished_at = None if status in JobStatus.ACTIVE else when
    job.save()
    JobLogEntry.objects.create(job=job, message="done")
    return job


def test_cleanup_deletes_only_finished_jobs_older_than_the_cutoff(alice, staff):
    old = old_job(alice, JobStatus.COMPLETED, 45, items=3)
    old_failed = old_job(alice, JobStatus.FAILED, 31)
    recent = old_job(alice, JobStatus.COMPLETED, 10)
    running = old_job(alice, JobStatus.RUNNING, 60)
    client = client_for(staff)
    response = client.post("/api/cleanup", {}, format="json")  # default: 30 days
    assert response.status_code == 200
    assert response.json() == {"deleted_jobs": 2, "deleted_items": 5}
    remaining = set(BatchJob.objects.values_list("pk", flat=True))
    assert remaining == {recent.pk, running.pk}
    assert not JobItem.objects.filter(job_id__in=[old.pk, old_failed.pk]).exists()
    assert not JobLogEntry.objects.filter(job_id__in=[old.pk, old_failed.pk]).exists()
    response = client.post("/api/cleanup", {"older_than_days": 7}, format="json")
    assert response.json() == {"deleted_jobs": 1, "deleted_items": 2}
    assert set(BatchJob.objects.values_list("pk", flat=True)) == {running.pk}


def test_cleanup_follows_the_retention_setting(alice, staff, settings):
    settings.BATCHSITE_RETENTION_DAYS = 5
    old_job(alice, JobStatus.CANCELLED, 6)
    client = client_for(staff)
    assert client.post("/api/cleanup").json()["deleted_jobs"] == 1


@pytest.mark.parametrize("days", [-1, "soon", 1.5, True, 10**9, "²", "9" * 5000])
def test_cleanup_refuses_a_bad_age(staff, days):
    client = client_for(staff)
    response = client.post("/api/cleanup", {"older_than_days": days}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"older_than_days"}
    assert client.post("/api/cleanup", [days], format="json").status_code == 400


def test_cleanup_is_for_staff_only(alice):
    old_job(alice, JobStatus.COMPLETED, 90)
    client = client_for(alice)
    assert client.post("/api/cleanup").status_code == 403
    assert APIClient().post("/api/cleanup").status_code == 401
    assert BatchJob.objects.count() == 1
