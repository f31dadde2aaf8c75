"""Shared fixtures: named users, the test Redis, burst workers, the local site.

Everything is real: the Redis database index given by tests/testenv.py (flushed per test, nothing
else), the test database, RQ workers in burst mode, and a local aiohttp site on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import django_rq
import psutil
import pytest
from django.conf import settings
from django.db import connection
from rq import SimpleWorker

from jobs.models import BatchJob
from tests.site import LocalSite

ROOT = Path(__file__).resolve().parent.parent

# Nearly every test makes alice, bob and charlie: the production hasher's million rounds cost
# a third of a CPU second each (seconds of wall clock on a busy machine). Tests check what a
# password unlocks, never how slowly. (The daphne the tests start agrees: tests/events/daphne_settings.)
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last: Playwright's sync API keeps an event loop running in the test
    thread while the (session-wide) browser is open, and code that runs asyncio or async_to_sync
    in that thread would otherwise fail in every test after the first browser test."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(autouse=True)
def redis_db() -> Iterator:
    """The test run's own Redis database, empty at the start of every test."""
    conn = django_rq.get_connection("default")
    assert conn.connection_pool.connection_kwargs.get("db", 0) != 0, "tests never use Redis db 0"
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture(scope="session")
def site() -> Iterator[LocalSite]:
    local = LocalSite().start()
    yield local
    local.stop()


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.com", "alice-pass-123")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.com", "bob-pass-123")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        "charlie", "charlie@example.com", "charlie-pass-123", is_staff=True
    )


def run_burst_worker() -> None:
    """A real RQ worker in burst mode, in this process: runs every queued runner, then returns."""
    queues = [django_rq.get_queue(name) for name in settings.JOB_QUEUES]
    worker = SimpleWorker(queues, connection=queues[0].connection)
    worker.work(burst=True, with_scheduler=False)


@pytest.fixture
def burst_worker():
    return run_burst_worker


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for worker processes: the same test database and test Redis as this run."""
    env = dict(os.environ)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by the browser fixture for its own thread
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    else:
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    env["REDIS_URL"] = settings.REDIS_URL
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def start_worker_process(*extra_args: str, **env: str) -> subprocess.Popen:
    """`manage.py rqworker` in its own process group (so a test can SIGKILL the whole worker)."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", *settings.JOB_QUEUES, *extra_args],
        cwd=ROOT,
        env=subprocess_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill_process_group(proc: subprocess.Popen) -> None:
    """SIGKILL a worker and its work horses (RQ starts each horse in a session of its own)."""
    try:
        family = [*psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    for child in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    proc.wait(timeout=10)
    psutil.wait_procs(family, timeout=10)


def refreshed(job: BatchJob) -> BatchJob:
    job.refresh_from_db()
    return job
