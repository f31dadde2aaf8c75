"""Retention (jobs.retention): old finished jobs go, a few rows per transaction, by the
scheduler's task and POST /api/cleanup alike; recent and active jobs stay, and so do the last
two runs of every schedule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs import retention
from jobs.models import (
    AuditAction,
    AuditEntry,
    BatchJob,
    ItemAttempt,
    ItemStatus,
    JobItem,
    JobStatus,
    Schedule,
)
from jobs.tasks import purge_expired
from tests.api.seed import client_for, make_job

pytestmark = pytest.mark.django_db(transaction=True)


def aged(job: BatchJob, days: float) -> BatchJob:
    at = timezone.now() - timedelta(days=days)
    BatchJob.objects.filter(pk=job.pk).update(created_at=at, finished_at=at)
    return job


def test_old_finished_jobs_are_deleted_in_batches_and_recent_ones_stay(alice, settings):
    settings.BATCHSITE_RETENTION_DAYS = 30
    old = aged(make_job(alice, 25, item_status=ItemStatus.SUCCEEDED), 40)
    item = old.items.first()
    ItemAttempt.objects.create(item=item, number=1, started_at=timezone.now(), outcome="succeeded")
    recent = aged(make_job(alice, 3, item_status=ItemStatus.SUCCEEDED), 2)
    running = aged(make_job(alice, 3, status=JobStatus.RUNNING), 90)
    with CaptureQueriesContext(connection) as queries:
        assert retention.purge(batch=10) == {"deleted_jobs": 1, "deleted_items": 25}
    item_deletes = [q for q in queries if q["sql"].startswith('DELETE FROM "jobs_jobitem"')]
    assert len(item_deletes) == 3  # 25 items, 10 per transaction
    assert set(BatchJob.objects.values_list("pk", flat=True)) == {recent.pk, running.pk}
    assert not JobItem.objects.filter(job_id=old.pk).exists()
    assert not ItemAttempt.objects.exists()


def test_the_last_two_runs_of_a_schedule_are_kept_whatever_their_age(alice, settings):
    settings.BATCHSITE_RETENTION_DAYS = 1
    schedule = Schedule.objects.create(owner=alice, kind="interval", interval_minutes=60)
    other = Schedule.objects.create(owner=alice, kind="interval", interval_minutes=60)
    runs = [aged(make_job(alice, 2, schedule=schedule), 10 - i) for i in range(4)]
    lone = aged(make_job(alice, 1, schedule=other), 10)
    unlinked = aged(make_job(alice, 1), 10)
    assert purge_expired() == {"deleted_jobs": 3, "deleted_items": 5}
    kept = set(BatchJob.objects.values_list("pk", flat=True))
    assert kept == {runs[2].pk, runs[3].pk, lone.pk}
    assert unlinked.pk not in kept


def test_the_schedulers_purge_is_audited_as_the_system_when_it_deleted_something(alice, settings):
    settings.BATCHSITE_RETENTION_DAYS = 30
    assert purge_expired() == {"deleted_jobs": 0, "deleted_items": 0}
    assert not AuditEntry.objects.exists()  # the hourly run that finds nothing says nothing
    aged(make_job(alice, 4, item_status=ItemStatus.SUCCEEDED), 40)
    assert purge_expired() == {"deleted_jobs": 1, "deleted_items": 4}
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action) == (None, AuditAction.CLEANUP)
    assert entry.details == {
        "older_than_days": 30,
        "automatic": True,
        "deleted_jobs": 1,
        "deleted_items": 4,
    }


def test_cleanup_endpoint_goes_through_retention(alice, staff):
    schedule = Schedule.objects.create(owner=alice, kind="interval", interval_minutes=60)
    runs = [aged(make_job(alice, 1, schedule=schedule), 50 - i) for i in range(3)]
    response = client_for(staff).post("/api/cleanup", {"older_than_days": 7}, format="json")
    assert response.json() == {"deleted_jobs": 1, "deleted_items": 1}
    assert set(BatchJob.objects.values_list("pk", flat=True)) == {runs[1].pk, runs[2].pk}
