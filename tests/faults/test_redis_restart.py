"""Redis restarted mid-batch (a private redis-server without persistence, SIGKILLed and started
again: every queue, waiting runner and pub/sub subscription is gone). The database still knows the
job: the workers and the scheduler reconnect, reconcile enqueues runners for what was lost, the job
finishes with every item recorded exactly once, and a WebSocket client sees it end."""

from __future__ import annotations

import time

import pytest

from jobs import events
from jobs.models import ApiKey, JobStatus
from jobs.services import submit_batch
from tests.conftest import refreshed
from tests.faults.conftest import (
    assert_settled_exactly_once,
    free_port,
    wait_for_workers,
    wait_until,
)
from tests.faults.live_clients import ReconnectingClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ITEMS = 300
DOWN_SECONDS = 2.0


@pytest.fixture
def product_redis(settings, private_redis):
    """This test's processes and its own enqueues use the private Redis."""
    url = private_redis.url()
    settings.REDIS_URL = url
    settings.RQ_QUEUES = {name: {**q, "URL": url} for name, q in settings.RQ_QUEUES.items()}
    return private_redis


def test_redis_restarted_mid_batch_loses_no_item(
    alice, site, settings, product_redis, processes, stopwatch
):
    # Small chunks: runners wait in the queues and continuations are enqueued as the job goes,
    # so the restart loses some.
    chunks = {"BATCHSITE_CHUNK_SIZE": "50", "BATCHSITE_MIN_RUNNER_ITEMS": "50"}
    settings.BATCHSITE_CHUNK_SIZE = settings.BATCHSITE_MIN_RUNNER_ITEMS = 50
    env = {"REDIS_URL": product_redis.url(), **chunks}
    pool = processes.pool(2, **env)
    scheduler = processes.scheduler(**env)
    port = free_port()
    processes.daphne("daphne", port, **env)
    wait_for_workers(2)
    urls = [site.url(f"/delay/100/redis-{i}") for i in range(ITEMS)]
    job = submit_batch(alice, urls=urls, concurrency=10).job
    key = ApiKey.issue(alice, "faults")[1]
    client = ReconnectingClient(f"127.0.0.1:{port}", "/ws/jobs/", key, str(job.pk)).start()

    wait_until(lambda: refreshed(job).count_succeeded >= ITEMS // 5, timeout=120)
    product_redis.kill()
    time.sleep(DOWN_SECONDS)
    product_redis.start()  # empty: no queue, no runner waiting, no worker registered
    stopwatch.restart()
    done = refreshed(job).count_succeeded
    wait_until(lambda: refreshed(job).count_succeeded > done + 10, timeout=120)
    stopwatch.lap("Redis restarted (down 2 s, queues lost): items finishing again")
    wait_until(lambda: refreshed(job).status in JobStatus.TERMINAL, timeout=180)
    stopwatch.lap("Redis restarted (down 2 s, queues lost): job finished")

    job = assert_settled_exactly_once(job)
    assert job.status == JobStatus.COMPLETED
    assert job.count_succeeded == ITEMS
    client.join(timeout=60)
    seqs = [m["seq"] for m in client.messages("job_status_update")]
    assert seqs == sorted(seqs)
    assert client.messages("job_status_update")[-1] == events.status_event(job)
    # Nobody restarted them: the pool replaced the workers that lost Redis while running a
    # runner, and the scheduler waited for Redis to come back.
    assert pool.poll() is None
    assert scheduler.poll() is None
