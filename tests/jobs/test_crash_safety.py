"""Crash safety: the database is the source of truth. A worker killed mid-chunk or a Redis that
lost every queue costs time, never an item."""

from __future__ import annotations

import django_rq
import pytest
from django.conf import settings as django_settings
from django.db.models import Count
from rq import SimpleWorker

from jobs.models import AttemptOutcome, ItemAttempt, ItemStatus, JobStatus, Runner
from jobs.reconcile import reconcile
from jobs.services import cancel_job, submit_batch
from tests.conftest import kill_process_group, refreshed, start_worker_process, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def assert_counts_exact(job) -> None:
    actual = dict(job.items.values_list("status").annotate(n=Count("id")).order_by())
    assert job.counts == {status: actual.get(status, 0) for status in ItemStatus.values}


def test_worker_killed_mid_chunk_loses_no_item(alice, site, burst_worker):
    urls = [site.url(f"/delay/300/kill-{i}") for i in range(200)]
    job = submit_batch(alice, urls=urls, concurrency=20).job
    worker = start_worker_process("--burst")
    try:
        wait_until(lambda: refreshed(job).count_succeeded >= 20)
    finally:
        kill_process_group(worker)

    job = refreshed(job)
    assert job.status == JobStatus.RUNNING
    held = job.items.filter(status=ItemStatus.PROCESSING).count()
    assert held > 0
    assert Runner.objects.filter(job=job).count() == 1  # the dead runner's row is still there

    report = reconcile(stale_seconds=0, min_age_seconds=0)
    assert report["dead_runners"] == 1
    assert report["requeued_items"] == held
    assert report["enqueued"] >= 1
    assert not job.items.filter(status=ItemStatus.PROCESSING).exists()

    burst_worker()
    job = refreshed(job)
    assert job.status == JobStatus.COMPLETED
    assert job.count_succeeded == 200
    assert_counts_exact(job)
    interrupted = ItemAttempt.objects.filter(item__job=job, outcome=AttemptOutcome.INTERRUPTED)
    assert interrupted.count() == held
    # Each interrupted item then succeeded on its next attempt, numbered after the interruption.
    for attempt in interrupted.select_related("item"):
        assert attempt.item.status == ItemStatus.SUCCEEDED
        assert attempt.item.attempts == attempt.number + 1


def test_redis_flushed_mid_batch_then_reconcile_finishes_the_job(
    alice, site, settings, redis_db, burst_worker
):
    settings.BATCHSITE_CHUNK_SIZE = 50
    settings.BATCHSITE_MIN_RUNNER_ITEMS = 10
    job = submit_batch(alice, urls=[site.url(f"/ok/flush-{i}") for i in range(200)]).job
    queues = [django_rq.get_queue(name) for name in django_settings.JOB_QUEUES]
    SimpleWorker(queues, connection=redis_db).work(burst=True, max_jobs=1)
    job = refreshed(job)
    assert (job.count_succeeded, job.count_queued) == (50, 150)

    redis_db.flushdb()  # every queued runner is gone
    report = reconcile(min_age_seconds=0)
    assert report["enqueued"] == 3

    burst_worker()
    job = refreshed(job)
    assert job.status == JobStatus.COMPLETED
    assert job.count_succeeded == 200
    assert_counts_exact(job)


def test_reconcile_leaves_healthy_jobs_alone(alice, site):
    job = submit_batch(alice, urls=[site.url("/ok")]).job
    report = reconcile(min_age_seconds=0)
    assert report == {"dead_runners": 0, "requeued_items": 0, "enqueued": 0, "finished": 0}
    assert refreshed(job).status == JobStatus.QUEUED


def test_cancel_mid_run_stops_the_job(alice, site):
    urls = [site.url(f"/delay/200/cancel-{i}") for i in range(300)]
    job = submit_batch(alice, urls=urls, concurrency=10).job
    worker = start_worker_process("--burst")
    try:
        wait_until(lambda: refreshed(job).count_succeeded >= 10)
        job = cancel_job(job)
        assert job.status in (JobStatus.CANCELLING, JobStatus.CANCELLED)
        worker.wait(timeout=60)
    finally:
        kill_process_group(worker)
    job = refreshed(job)
    assert job.status == JobStatus.CANCELLED
    assert job.finished_at is not None
    assert job.count_cancelled > 0
    assert job.count_succeeded + job.count_cancelled == 300
    assert not job.items.filter(status__in=ItemStatus.ACTIVE).exists()
    assert_counts_exact(job)
    cancelled = job.items.filter(status=ItemStatus.CANCELLED).first()
    assert cancelled.error_code == "CANCELLED"


def test_cancel_a_queued_job_ends_it_at_once(alice, site, burst_worker):
    job = submit_batch(alice, urls=[site.url(f"/ok/q{i}") for i in range(5)]).job
    job = cancel_job(job)
    assert job.status == JobStatus.CANCELLED
    assert job.count_cancelled == 5
    burst_worker()  # the queued runners find nothing to do
    assert refreshed(job).status == JobStatus.CANCELLED
