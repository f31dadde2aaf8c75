"""Workers SIGKILLed mid-batch — one of two, then the whole pool — while the scheduler runs:
reconcile finds the dead runners by their heartbeat and puts their items back, with no human in
the loop, and the job finishes with every item recorded exactly once."""

from __future__ import annotations

import pytest

from jobs.models import AttemptOutcome, ItemAttempt, ItemStatus, JobItem, JobStatus
from jobs.services import submit_batch
from tests.conftest import refreshed
from tests.faults.conftest import (
    assert_settled_exactly_once,
    family,
    runner_ids_of,
    wait_for_workers,
    wait_until,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ITEMS = 300


def held_by(runners: set[str]) -> set[int]:
    return set(
        JobItem.objects.filter(status=ItemStatus.PROCESSING, worker__in=runners).values_list(
            "id", flat=True
        )
    )


def assert_recovers(job, dead: set[str], held: set[int], stopwatch, fault: str) -> None:
    """With no help: the dead runners' items go back to the queue, the job finishes, every item
    once; every item they held has an `interrupted` attempt, and only theirs do."""
    wait_until(lambda: not held_by(dead), timeout=120)
    stopwatch.lap(f"{fault}: its items back in the queue")
    wait_until(lambda: refreshed(job).status in JobStatus.TERMINAL, timeout=180)
    stopwatch.lap(f"{fault}: job finished")
    job = assert_settled_exactly_once(job)
    assert job.status == JobStatus.COMPLETED
    assert job.count_succeeded == ITEMS
    interrupted = ItemAttempt.objects.filter(item__job=job, outcome=AttemptOutcome.INTERRUPTED)
    assert held, "the runners held items when they died"
    assert held <= set(interrupted.values_list("item_id", flat=True))
    assert set(interrupted.values_list("worker", flat=True)) <= dead


def kill_mid_batch(processes, victim, job) -> tuple[set[str], set[int]]:
    """SIGKILL `victim` (and its horses) once the job is well under way and it runs a runner of
    it; returns the runners that died and the items they held."""
    wait_until(lambda: refreshed(job).count_succeeded >= ITEMS // 5, timeout=120)
    dead = wait_until(lambda: runner_ids_of(family(victim)), timeout=30)
    processes.kill(victim)
    return dead, held_by(dead)


def test_one_worker_killed_mid_chunk_the_other_and_reconcile_finish_the_job(
    alice, site, processes, stopwatch
):
    urls = [site.url(f"/delay/100/one-{i}") for i in range(ITEMS)]
    first, second = processes.worker("worker-1"), processes.worker("worker-2")
    processes.scheduler()
    wait_for_workers(2)  # so that the job gets a runner on each
    job = submit_batch(alice, urls=urls, concurrency=20).job

    dead, held = kill_mid_batch(processes, first, job)
    stopwatch.restart()
    assert second.poll() is None

    assert_recovers(job, dead, held, stopwatch, "one worker SIGKILLed")


def test_whole_pool_killed_mid_batch_a_new_pool_finishes_the_job(alice, site, processes, stopwatch):
    urls = [site.url(f"/delay/100/pool-{i}") for i in range(ITEMS)]
    pool = processes.pool(2)
    processes.scheduler()
    wait_for_workers(2)  # so that the job gets a runner on each
    job = submit_batch(alice, urls=urls, concurrency=20).job

    dead, held = kill_mid_batch(processes, pool, job)
    stopwatch.restart()
    assert refreshed(job).status == JobStatus.RUNNING
    processes.pool(2, name="pool-restarted")  # what a process supervisor does

    assert_recovers(job, dead, held, stopwatch, "worker pool SIGKILLed and restarted")
