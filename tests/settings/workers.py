"""Real RQ workers for the settings tests, in burst mode, that also run the scheduled jobs that
are due (webhook retries are scheduled with RQ's enqueue_at)."""

from __future__ import annotations

import time
from collections.abc import Callable

import django_rq
import pytest
from django.conf import settings
from django.utils import timezone
from rq.job import Job
from rq.utils import current_timestamp

from jobs.models import WebhookDelivery
from tests.conftest import run_burst_worker


def enqueue_due_scheduled_jobs() -> int:
    """Move the scheduled RQ jobs that are due onto their queues, as RQ's scheduler does (without
    its lock, so nothing else in the run can hold it up)."""
    moved = 0
    for name in settings.JOB_QUEUES:
        queue = django_rq.get_queue(name)
        registry = queue.scheduled_job_registry
        for job_id in registry.get_jobs_to_schedule(current_timestamp()):
            registry.remove(job_id)
            queue.enqueue_job(Job.fetch(job_id, connection=queue.connection))
            moved += 1
    return moved


def scheduled_jobs() -> int:
    return sum(
        django_rq.get_queue(name).scheduled_job_registry.count for name in settings.JOB_QUEUES
    )


def work_until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Run burst workers, moving due scheduled jobs (webhook retries) onto their queues first,
    until `condition()` holds; fail the test when it never does."""
    deadline = time.monotonic() + timeout
    while True:
        enqueue_due_scheduled_jobs()
        run_burst_worker()
        if condition():
            return
        if time.monotonic() > deadline:
            deliveries = list(
                WebhookDelivery.objects.values_list("status", "attempts", "next_attempt_at")
            )
            pytest.fail(
                f"the workers never got there: deliveries {deliveries}, "
                f"{scheduled_jobs()} scheduled RQ jobs, now {timezone.now()}"
            )
        time.sleep(0.2)
