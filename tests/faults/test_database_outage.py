"""The database briefly unavailable to a runner in the middle of its flush: on PostgreSQL its
connection is terminated (pg_terminate_backend) while the flush waits inside its transaction; on
SQLite another process holds the write lock longer than the worker's busy timeout ("database is
locked"). The flush is retried and nothing is lost or recorded twice: one attempt row, one log
line and one count per item."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.models import Count

from jobs import jobstate
from jobs.models import BatchJob, ItemAttempt, JobLogEntry, JobStatus
from jobs.services import submit_batch
from jobs.store import AttemptRow, Outcome
from tests.conftest import refreshed
from tests.faults.conftest import LOG_DIR, assert_settled_exactly_once, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ITEMS = 240
PROBE = "tests.plugins.TitleProbe"  # writes one log line per item: log lines must be exact too


@pytest.fixture
def probe(settings) -> str:
    settings.BATCHSITE_PROCESSORS = [PROBE]
    return PROBE


def start_job(alice, site, name: str):
    urls = [site.url(f"/delay/40/{name}-{i}") for i in range(ITEMS)]
    return submit_batch(alice, urls=urls, processor="title_probe", concurrency=10).job


def assert_recorded_once(job: BatchJob) -> None:
    job = assert_settled_exactly_once(job)
    assert job.status == JobStatus.COMPLETED
    assert job.count_succeeded == ITEMS
    assert ItemAttempt.objects.filter(item__job=job).count() == ITEMS
    per_item = (
        JobLogEntry.objects.filter(job=job, message__startswith="title of")
        .values("item_id")
        .annotate(n=Count("id"))
    )
    assert sorted(row["n"] for row in per_item) == [1] * ITEMS


def retries_logged(test: str) -> str:
    return (LOG_DIR / f"{test}-worker.log").read_text(errors="replace")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL connections")
def test_worker_connection_terminated_mid_flush_is_retried_and_records_once(
    alice, site, probe, processes, stopwatch, request
):
    import psycopg

    job = start_job(alice, site, "pg")
    processes.worker("worker", "--burst", BATCHSITE_PROCESSORS=probe)
    db = connection.settings_dict
    conninfo = {
        "dbname": db["NAME"],
        "user": db["USER"],
        "password": db.get("PASSWORD") or None,
        "host": db["HOST"] or "127.0.0.1",
        "port": db["PORT"] or 5432,
    }
    with (
        psycopg.connect(**conninfo) as locker,
        psycopg.connect(**conninfo, autocommit=True) as observer,
    ):
        for threshold in (ITEMS // 6, ITEMS // 2):
            wait_until(lambda t=threshold: refreshed(job).count_succeeded >= t, timeout=120)
            # Hold the job's row: the runner's next flush records its items and attempts, then
            # waits for the row inside its transaction. That is where its connection is cut.
            locker.execute("SELECT 1 FROM jobs_batchjob WHERE id = %s FOR UPDATE", [job.pk])
            flushing = wait_until(lambda: _waiting_for_lock(observer), timeout=30)
            observer.execute("SELECT pg_terminate_backend(%s)", [flushing])
            locker.rollback()
            stopwatch.restart()
            done = refreshed(job).count_succeeded
            wait_until(lambda d=done: refreshed(job).count_succeeded > d, timeout=60)
            stopwatch.lap("PostgreSQL connection terminated mid-flush: flushing again")
    wait_until(lambda: refreshed(job).status in JobStatus.TERMINAL, timeout=180)
    assert_recorded_once(job)
    assert retries_logged(request.node.name).count("Database unavailable in cycle") >= 2


def _waiting_for_lock(observer) -> int | None:
    row = observer.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    ).fetchone()
    return row[0] if row else None


LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's write lock")
def test_database_locked_longer_than_the_busy_timeout_is_retried_and_records_once(
    alice, site, probe, processes, stopwatch, request
):
    job = start_job(alice, site, "lite")
    # The worker waits 1 s for a lock; another process holds it for 3 s, twice.
    processes.worker("worker", "--burst", BATCHSITE_PROCESSORS=probe, SQLITE_BUSY_TIMEOUT="1")
    for threshold in (ITEMS // 6, ITEMS // 2):
        wait_until(lambda t=threshold: refreshed(job).count_succeeded >= t, timeout=120)
        locker = subprocess.Popen(
            [sys.executable, "-c", LOCKER, connection.settings_dict["NAME"], "3"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert locker.stdout.readline().strip() == "locked"
        stopwatch.restart()
        assert locker.wait(timeout=30) == 0
        done = refreshed(job).count_succeeded
        wait_until(lambda d=done: refreshed(job).count_succeeded > d, timeout=60)
        stopwatch.lap("SQLite write-locked 3 s by another process: flushing again")
    wait_until(lambda: refreshed(job).status in JobStatus.TERMINAL, timeout=180)
    assert_recorded_once(job)
    assert "database is locked" in retries_logged(request.node.name)


def test_a_flush_run_again_after_its_commit_writes_nothing_twice(alice, site):
    """The answer to a COMMIT can be lost with the connection after the commit went through; the
    runner then sends the same flush again. It must change nothing and give back the same claim."""
    job = submit_batch(alice, urls=[site.url(f"/ok/replay-{i}") for i in range(8)]).job
    runner = "testhost:1:replay"
    jobstate.start_runner(str(job.pk), runner, "", "")
    beat = {"in_flight": 0, "items_done": 0, "current_step": "", "current_urls": []}
    first = jobstate.cycle(str(job.pk), runner, [], [], [], 4, beat, 1, datetime.now(UTC))
    assert len(first.claimed) == 4

    at = datetime.now(UTC)
    outcomes = [_outcome(c.id, at) for c in first.claimed]
    attempts = [_attempt(c.id, runner, at) for c in first.claimed]
    logs = [(c.id, 20, f"done {c.id}", at) for c in first.claimed]
    flush = (str(job.pk), runner, outcomes, attempts, logs, 4, beat, 2, at)
    applied = jobstate.cycle(*flush)
    before = refreshed(job)
    again = jobstate.cycle(*flush)

    assert [c.id for c in again.claimed] == [c.id for c in applied.claimed]
    assert len(applied.claimed) == 4
    after = refreshed(job)
    assert (after.counts, after.seq) == (before.counts, before.seq)
    assert after.count_succeeded == 4
    assert ItemAttempt.objects.filter(item__job=job).count() == 4
    assert JobLogEntry.objects.filter(job=job, message__startswith="done ").count() == 4


def _outcome(item_id: int, at: datetime) -> Outcome:
    return Outcome(
        id=item_id,
        status="succeeded",
        step="",
        progress=100.0,
        attempts=1,
        result={"ok": True},
        error="",
        error_code="",
        http_status=200,
        started_at=at,
        finished_at=at,
        duration=0.01,
    )


def _attempt(item_id: int, runner: str, at: datetime) -> AttemptRow:
    return AttemptRow(
        item_id=item_id,
        number=1,
        worker=runner,
        started_at=at,
        finished_at=at,
        step="",
        outcome="succeeded",
        error_code="",
        error="",
        http_status=200,
        duration=0.01,
    )
