"""Bulk services: cancel or retry many jobs at once, each through the one-job service."""

from __future__ import annotations

import pytest

from jobs import store
from jobs.models import BatchJob, ItemStatus, JobStatus
from jobs.services import cancel_jobs, retry_failed_jobs, submit_batch
from tests.conftest import refreshed

pytestmark = pytest.mark.django_db


def finished_job(owner, failed: int, succeeded: int = 1) -> BatchJob:
    status = JobStatus.COMPLETED_WITH_ERRORS if failed else JobStatus.COMPLETED
    job = BatchJob.objects.create(owner=owner, status=status, total_items=failed + succeeded)
    rows = [(i, f"https://example.com/{i}", "") for i in range(failed + succeeded)]
    store.insert_items(job.pk, rows, ItemStatus.SUCCEEDED)
    job.items.filter(position__lt=failed).update(status=ItemStatus.FAILED, error_code="TIMEOUT")
    job.recount()
    return job


def test_cancel_jobs_cancels_the_active_ones_and_leaves_finished_ones_alone(alice, site):
    active = [submit_batch(alice, urls=[site.url(f"/ok/{i}")]).job for i in range(3)]
    done = finished_job(alice, failed=0)
    result = cancel_jobs(BatchJob.objects.filter(owner=alice))
    assert (result.matched, result.changed, result.skipped) == (4, 3, 1)
    assert {refreshed(job).status for job in active} == {JobStatus.CANCELLED}
    assert refreshed(done).status == JobStatus.COMPLETED
    assert all(refreshed(job).count_cancelled == 1 for job in active)


def test_cancel_jobs_touches_only_the_jobs_it_is_given(alice, bob, site):
    mine = submit_batch(alice, urls=[site.url("/ok")]).job
    theirs = submit_batch(bob, urls=[site.url("/ok")]).job
    assert cancel_jobs(BatchJob.objects.filter(pk=mine.pk)).changed == 1
    assert refreshed(theirs).status == JobStatus.QUEUED


def test_retry_failed_jobs_requeues_failed_items_of_finished_jobs(alice, site):
    two_failed = finished_job(alice, failed=2)
    one_failed = finished_job(alice, failed=1)
    clean = finished_job(alice, failed=0)
    running = submit_batch(alice, urls=[site.url("/ok")]).job
    result = retry_failed_jobs(BatchJob.objects.filter(owner=alice))
    assert (result.matched, result.changed, result.items) == (4, 2, 3)
    assert refreshed(two_failed).status == JobStatus.QUEUED
    assert refreshed(two_failed).count_queued == 2
    assert refreshed(one_failed).count_failed == 0
    assert refreshed(clean).status == JobStatus.COMPLETED
    assert refreshed(running).status == JobStatus.QUEUED
