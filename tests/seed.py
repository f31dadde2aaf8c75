"""Data for the page tests: jobs in every state, a real RQ worker registration, a worker process."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import timedelta

import django_rq
import pytest
from django.conf import settings
from django.utils import timezone
from rq import Worker

from jobs.models import BatchJob, ItemStatus, JobItem, JobStatus, Runner
from tests.conftest import start_worker_process

# (name, status, priority, processor, items, failed, progress, minutes ago)
JOBS = [
    ("Weekly uptime sweep", JobStatus.RUNNING, 9, "http_check", 12_400, 31, 46.5, 3),
    ("Shop pages audit", JobStatus.QUEUED, 5, "page_audit", 850, 0, 0.0, 5),
    ("Partner sites", JobStatus.COMPLETED, 5, "site_profile", 320, 0, 100.0, 42),
    ("Blog SEO check", JobStatus.COMPLETED_WITH_ERRORS, 2, "page_audit", 1_204, 17, 100.0, 90),
    ("Old domains", JobStatus.FAILED, 5, "http_check", 64, 64, 100.0, 180),
    ("Campaign links", JobStatus.CANCELLED, 8, "http_check", 5_000, 0, 37.0, 600),
    ("Press coverage", JobStatus.FAILED, 7, "site_profile", 12, 12, 100.0, 1_500),
    ("Landing pages", JobStatus.COMPLETED, 10, "page_audit", 48, 0, 100.0, 3_000),
]


def seed_jobs(owner, *, runner_worker: str | None = None) -> list[BatchJob]:
    """A realistic mix of jobs; with `runner_worker`, the running one has a live runner on it."""
    now = timezone.now()
    made = []
    for name, status, priority, processor, items, failed, progress, ago in JOBS:
        created = now - timedelta(minutes=ago)
        done = round(items * progress / 100)
        finished = status in JobStatus.TERMINAL
        made.append(
            BatchJob.objects.create(
                owner=owner,
                name=name,
                status=status,
                priority=priority,
                processor=processor,
                total_items=items,
                count_failed=failed,
                count_succeeded=max(0, done - failed),
                count_queued=items - done,
                count_cancelled=items - done if status == JobStatus.CANCELLED else 0,
                progress=progress,
                item_seconds=done * 0.42,
                created_at=created,
                updated_at=created + timedelta(minutes=ago / 2),
                started_at=None if status == JobStatus.QUEUED else created + timedelta(seconds=4),
                finished_at=created + timedelta(minutes=ago / 2) if finished else None,
            )
        )
    running = made[0]
    JobItem.objects.bulk_create(
        JobItem(
            job=running,
            position=i,
            url=f"https://uptime.example.com/{i}",
            status=ItemStatus.SUCCEEDED,
            duration=0.18 + (i % 7) * 0.09,
            finished_at=now - timedelta(seconds=i),
        )
        for i in range(60)
    )
    if runner_worker:
        Runner.objects.create(
            id=f"host-1:4242:{running.pk.hex[:8]}",
            job=running,
            worker_name=runner_worker,
            started_at=now - timedelta(seconds=40),
            heartbeat_at=now,
            items_done=5_766,
            in_flight=50,
            current_urls=[f"https://shop.example.com/products/{i}" for i in range(3)],
        )
    return made


@pytest.fixture(name="rq_worker")
def rq_worker_fixture() -> Iterator[Worker]:
    """A real RQ worker registration in the test Redis (what `rqworker` writes when it starts),
    busy, as if its work horse ran a chunk."""
    conn = django_rq.get_connection("default")
    queues = [django_rq.get_queue(name) for name in settings.JOB_QUEUES]
    worker = Worker(queues, connection=conn, name="worker-one")
    worker.register_birth()
    worker.set_state("busy")
    yield worker
    worker.register_death()


def worker_process() -> subprocess.Popen:
    """`manage.py rqworker --burst` with the live-event tests' processors and channel prefix, so
    what it publishes reaches the test's daphne."""
    from tests.events.conftest import CHANNEL_PREFIX, PLUGINS

    return start_worker_process(
        "--burst",
        BATCHSITE_PROCESSORS=",".join(PLUGINS),
        BATCHSITE_CHANNEL_PREFIX=CHANNEL_PREFIX,
    )
