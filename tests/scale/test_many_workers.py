"""Scale out on PostgreSQL: four worker processes share one 20,000-item job, and every item runs
exactly once — the claims of concurrent runners never overlap (issue 10).

SQLite serialises every write through one file lock, so several worker processes there prove
nothing about concurrent claims: the test runs on PostgreSQL only.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection

from jobs.models import AttemptOutcome, ItemAttempt, ItemStatus, JobStatus
from jobs.services import submit_batch
from tests.conftest import refreshed, wait_until
from tests.faults.conftest import assert_settled_exactly_once, processes, wait_for_workers

__all__ = ["processes"]  # the fixture, used by name below

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ITEMS = 20_000
WORKERS = 4
INSTANT = "tests.plugins.Instant"


@pytest.fixture
def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "four workers claiming one job concurrently needs PostgreSQL (SQLite serialises all "
            "writes): run with DATABASE_URL=postgres://…"
        )


def test_four_workers_run_every_item_of_one_job_exactly_once(
    postgres_only, alice, site, settings, processes
):
    settings.BATCHSITE_PROCESSORS = [INSTANT]
    # Smaller chunks than production, so runners also hand over to continuations mid-job.
    env = {"BATCHSITE_PROCESSORS": INSTANT, "BATCHSITE_CHUNK_SIZE": "3000"}
    settings.BATCHSITE_CHUNK_SIZE = 3000
    for i in range(WORKERS):
        processes.worker(f"worker-{i}", **env)
    wait_for_workers(WORKERS)

    urls = [site.url(f"/ok/scale-{i}") for i in range(ITEMS)]
    job = submit_batch(alice, urls=urls, processor="instant", concurrency=200).job
    wait_until(lambda: refreshed(job).status in JobStatus.TERMINAL, timeout=240, interval=0.5)

    job = assert_settled_exactly_once(job)
    assert job.status == JobStatus.COMPLETED
    assert job.count_succeeded == ITEMS
    attempts = ItemAttempt.objects.filter(item__job=job)
    # Exactly one attempt per item, and it succeeded: no item was claimed by two runners.
    per_item = Counter(attempts.values_list("item_id", flat=True))
    assert len(per_item) == ITEMS
    assert set(per_item.values()) == {1}
    assert set(attempts.values_list("outcome", flat=True)) == {AttemptOutcome.SUCCEEDED}
    assert not job.items.exclude(status=ItemStatus.SUCCEEDED).exists()
    # The work was shared: runners in four different work horses (host:pid:nonce) ran items.
    runners = set(attempts.values_list("worker", flat=True))
    horses = {runner.split(":")[1] for runner in runners}
    assert len(horses) >= WORKERS, runners
