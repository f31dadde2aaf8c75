"""What the benchmarks share: a safe environment, a fresh database, worker processes, RSS sampling,
and small formatting helpers.

The environment is set before Django is imported, so the benchmark process and every worker it
starts see the same database, the benchmark's own Redis database index and the same processors.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_VAR = ROOT / "var" / "bench"
PYTHON = sys.executable
QUEUES = ("urgent", "high", "default", "low")
FORBIDDEN_REDIS_DBS = {0, 13}  # the product's and the test suite's


# --- environment ---------------------------------------------------------------------------


def redis_db_index(url: str) -> int:
    path = urlsplit(url).path.strip("/")
    return int(path) if path else 0


def configure_environment(*, database_url: str, redis_url: str) -> None:
    """Set what batchsite/settings.py reads; refuses a Redis index the product or tests use."""
    index = redis_db_index(redis_url)
    if index in FORBIDDEN_REDIS_DBS:
        raise SystemExit(f"refusing REDIS_URL {redis_url}: db {index} belongs to the product/tests")
    host = urlsplit(redis_url).hostname
    if host not in ("127.0.0.1", "localhost"):
        raise SystemExit(f"refusing REDIS_URL {redis_url}: the benchmark only talks to 127.0.0.1")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "batchsite.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "BATCHSITE_ALLOWED_NETWORKS": "127.0.0.1/32",
            "BATCHSITE_PROCESSORS": "bench.noop.NoOp,bench.noop.Paced",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }
    )
    os.environ.pop("DJANGO_DEBUG", None)
    # Bytecode as any deployment has it (written on first import), but under var/bench/ so the
    # source tree stays clean; with PYTHONDONTWRITEBYTECODE every forked work horse would compile
    # the modules it imports again.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(BENCH_VAR / "pycache")
    sys.dont_write_bytecode = False
    sys.pycache_prefix = os.environ["PYTHONPYCACHEPREFIX"]
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        os.environ.pop(proxy, None)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def prepare_database(kind: str, name: str = "pipeline") -> str:
    """A fresh, migrated benchmark database; returns its DATABASE_URL (also set in os.environ)."""
    if kind == "postgres":
        url = f"postgres://postgres@127.0.0.1:5432/bench_{name}"
        _create_postgres_database(f"bench_{name}")
    else:
        BENCH_VAR.mkdir(parents=True, exist_ok=True)
        path = BENCH_VAR / f"{name}.sqlite3"
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{path}{suffix}").unlink()
        url = f"sqlite:///{path}"
    os.environ["DATABASE_URL"] = url
    manage("migrate", "--no-input", "-v", "0")
    warm_bytecode()
    if kind == "postgres":
        manage("flush", "--no-input", "-v", "0")  # fresh each run, like the SQLite file
    return url


def warm_bytecode() -> None:
    """Import what workers import, once, so the bytecode cache is there before any timing."""
    modules = "jobs.tasks, jobs.runner, jobs.jobstate, jobs.processors.registry, bench.seed"
    code = (
        f"import django; django.setup(); import rq, django_rq, {modules}; "
        "jobs.processors.registry.processors()"
    )
    subprocess.run([PYTHON, "-c", code], cwd=ROOT, env=os.environ.copy(), check=True)


def _create_postgres_database(name: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def manage(*args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=os.environ.copy(), check=True)


# --- worker processes ----------------------------------------------------------------------


@dataclass
class Workers:
    """`manage.py rqworker QUEUES` processes, each in its own session, logging to var/bench/."""

    count: int
    queues: Sequence[str] = QUEUES
    label: str = "worker"
    extra_args: Sequence[str] = ()
    procs: list[subprocess.Popen] = field(default_factory=list)

    def start(self, connection, timeout: float = 60.0) -> Workers:
        from rq import Worker

        BENCH_VAR.mkdir(parents=True, exist_ok=True)
        before = Worker.count(connection=connection)
        for i in range(self.count):
            log = open(BENCH_VAR / f"{self.label}-{i}.log", "ab")  # noqa: SIM115 (kept by Popen)
            self.procs.append(
                subprocess.Popen(
                    [PYTHON, "manage.py", "rqworker", *self.queues, *self.extra_args],
                    cwd=ROOT,
                    env=os.environ.copy(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
            log.close()
        deadline = time.monotonic() + timeout
        while Worker.count(connection=connection) < before + self.count:
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError(
                    f"a {self.label} process exited; see {BENCH_VAR}/{self.label}-*.log"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.label} processes did not register within {timeout:.0f} s"
                )
            time.sleep(0.05)
        return self

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def stop(self) -> None:
        stop_processes(self.procs)
        self.procs.clear()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_processes(procs: Iterable[subprocess.Popen]) -> None:
    """Warm shutdown (SIGTERM), then SIGKILL for whatever is left, children (work horses) too:
    only our own processes."""
    import psutil

    procs = list(procs)
    family: list[psutil.Process] = []
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            family.extend(psutil.Process(proc.pid).children(recursive=True))
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    for child in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(family, timeout=10)


def wait_idle(connection, timeout: float = 120.0) -> None:
    """Until every queue is empty and no worker is busy (leftover runners have exited)."""
    from rq import Queue, Worker

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queued = sum(Queue(name, connection=connection).count for name in QUEUES)
        busy = [w for w in Worker.all(connection=connection) if w.get_state() == "busy"]
        if not queued and not busy:
            return
        time.sleep(0.1)
    raise RuntimeError("workers did not become idle")


# --- memory --------------------------------------------------------------------------------


class RssSampler:
    """Samples the memory of some processes and all their children every `interval` seconds.

    RSS counts the pages a forked work horse shares with its worker in both processes, so the
    family's RSS sum overstates what they use together; PSS splits shared pages between the
    processes that share them, so the family's PSS sum is what the worker really costs.
    """

    def __init__(self, pids: Iterable[int], interval: float = 0.1) -> None:
        self.pids = list(pids)
        self.interval = interval
        self.peak_rss_sum = 0  # worker(s) + horses at one instant, RSS (shared pages twice)
        self.peak_pss_sum = 0  # the same in PSS: the family's real footprint
        self.peak_parent = 0  # RSS of a worker process
        self.peak_child = 0  # RSS of the largest work horse
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _sample(self, parents) -> None:
        import psutil

        rss_sum = pss_sum = 0
        for parent in parents:
            family = [(parent, True)]
            with contextlib.suppress(psutil.NoSuchProcess):
                family += [(c, False) for c in parent.children(recursive=True)]
            for proc, is_parent in family:
                try:
                    mem = proc.memory_full_info()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                rss_sum += mem.rss
                pss_sum += mem.pss
                if is_parent:
                    self.peak_parent = max(self.peak_parent, mem.rss)
                else:
                    self.peak_child = max(self.peak_child, mem.rss)
        self.peak_rss_sum = max(self.peak_rss_sum, rss_sum)
        self.peak_pss_sum = max(self.peak_pss_sum, pss_sum)
        self.samples += 1

    def _run(self) -> None:
        import psutil

        parents = [psutil.Process(pid) for pid in self.pids]
        while not self._stop.is_set():
            self._sample(parents)
            self._stop.wait(self.interval)

    @property
    def peak_process(self) -> int:
        """The largest RSS of any one process (worker or horse)."""
        return max(self.peak_parent, self.peak_child)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def family_cpu(pids: Iterable[int]) -> float:
    """CPU seconds of processes and of the children they have reaped (RQ's work horses)."""
    import psutil

    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


# --- numbers and output --------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def repeat(runs: int, measure: Callable[[], float]) -> list[float]:
    return [measure() for _ in range(runs)]


def spread(values: Sequence[float], fmt: str = "{:,.0f}") -> str:
    if len(values) == 1:
        return "1 run"
    return "runs: " + " / ".join(fmt.format(v) for v in values)


def mb(n_bytes: float) -> float:
    return n_bytes / (1024 * 1024)


def say(message: str = "") -> None:
    print(message, flush=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join("-" * w for w in widths)

    def fmt(row: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip()

    return "\n".join([fmt(headers), line, *(fmt(r) for r in rows)])
