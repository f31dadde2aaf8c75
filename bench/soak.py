"""Soak: jobs of URLs that fail at random, for ten minutes, on the product as ./run runs it
(issue 9, point 3). Not part of the test suite.

    .venv/bin/python bench/soak.py [--jobs 20] [--urls 5000] [--minutes 10] [--db sqlite|postgres]

The product: `rqworker-pool` (2 workers), `manage.py scheduler` (reconcile) and daphne, against a
fresh database and a private redis-server on a free port (or --redis-url's DB index, flushed at
start and end); the local site (tests/site.py) in a subprocess on 127.0.0.1; three WebSocket clients following all
jobs through daphne, so that daphne carries every live event.

Jobs (http_check, concurrency 100, item timeout 2 s, 2 attempts) arrive evenly over --minutes.
Their URLs, drawn with a fixed seed: 84 % answer after 20–200 ms; 5 % answer 503 once, then 200 (a
retry); 4 % always 500; 4 % reset the connection; 3 % never answer (a timeout).

Checks (exit 1 when one fails): every job ends (a job still active --grace seconds after the last
arrival is stuck); every item is in one terminal state, its job's counters are its items', its
attempt history is 1..attempts, each once; no process grows: the median RSS of the workers, the
pool, the scheduler and daphne over the last minute is within 20 % (or 25 MB) of their median over
the second minute (the first is warm-up); every WebSocket client saw every job end. RSS is
sampled every 5 s; work horses (one per runner, short-lived) are reported, not checked.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.common import mb, say

QUEUES = ("urgent", "high", "default", "low")
GROWTH_RATIO, GROWTH_BYTES = 1.20, 25 * 1024 * 1024
SAMPLE_SECONDS = 5.0
WORKER_ENV = {
    # Quick retries and recovery, so that faults cost seconds: as a deployment might tune them.
    "BATCHSITE_RETRY_BACKOFF_BASE": "0.2",
    "BATCHSITE_RETRY_BACKOFF_MAX": "2",
    "BATCHSITE_RUNNER_STALE_SECONDS": "20",
    "BATCHSITE_RECONCILE_SECONDS": "5",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--urls", type=int, default=5000, help="URLs per job")
    parser.add_argument("--minutes", type=float, default=10.0, help="how long jobs arrive")
    parser.add_argument("--grace", type=float, default=300.0, help="seconds to drain after")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--redis-url", help="a Redis DB of the benchmark's own (default: private)")
    parser.add_argument("--seed", type=int, default=9)
    return parser.parse_args(argv)


def job_urls(site, job: int, n: int, rng: random.Random) -> list[str]:
    urls = []
    for i in range(n):
        key, roll = f"j{job}-{i}", rng.random()
        if roll < 0.84:
            urls.append(site.url(f"/delay/{rng.randint(20, 200)}/{key}"))
        elif roll < 0.89:
            urls.append(site.url(f"/flaky/{key}?fails=1"))
        elif roll < 0.93:
            urls.append(site.url(f"/status/500?k={key}"))
        elif roll < 0.97:
            urls.append(site.url(f"/reset?k={key}"))
        else:
            urls.append(site.url(f"/hang?k={key}"))
    return urls


# --- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Product:
    """The pool, the scheduler and daphne, logging to var/bench/soak-*.log."""

    def __init__(self) -> None:
        self.port = free_port()
        self.procs: dict[str, subprocess.Popen] = {}

    def _start(self, name: str, argv: list[str]) -> None:
        common.BENCH_VAR.mkdir(parents=True, exist_ok=True)
        with open(common.BENCH_VAR / f"soak-{name}.log", "wb") as log:
            self.procs[name] = subprocess.Popen(
                argv,
                cwd=common.ROOT,
                env={**os.environ, **WORKER_ENV},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def start(self) -> Product:
        manage = [common.PYTHON, "manage.py"]
        self._start("pool", [*manage, "rqworker-pool", *QUEUES, "--num-workers", "2"])
        self._start("scheduler", [*manage, "scheduler"])
        daphne = [common.PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port)]
        self._start("daphne", [*daphne, "batchsite.asgi:application"])
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return self
            if time.monotonic() > deadline or any(
                p.poll() is not None for p in self.procs.values()
            ):
                raise RuntimeError("the product did not start; see var/bench/soak-*.log")
            time.sleep(0.1)

    def stop(self) -> None:
        common.stop_processes(self.procs.values())


class Memory:
    """RSS of the product's long-lived processes every SAMPLE_SECONDS: (seconds, name, bytes)."""

    def __init__(self, product: Product) -> None:
        self.product = product
        self.samples: list[tuple[float, str, int]] = []
        self.horse_peak = 0
        self.started = time.monotonic()
        self.next_at = 0.0

    def sample(self) -> None:
        import psutil

        now = time.monotonic() - self.started
        if now < self.next_at:
            return
        self.next_at = now + SAMPLE_SECONDS
        for name, proc in self.product.procs.items():
            with contextlib.suppress(psutil.NoSuchProcess):
                parent = psutil.Process(proc.pid)
                self.samples.append((now, name, parent.memory_info().rss))
                if name != "pool":
                    continue
                for worker in parent.children():
                    with contextlib.suppress(psutil.NoSuchProcess):
                        self.samples.append((now, "worker", worker.memory_info().rss))
                        for horse in worker.children():
                            self.horse_peak = max(self.horse_peak, horse.memory_info().rss)

    def window(self, name: str, start: float, end: float) -> float:
        values = [rss for t, n, rss in self.samples if n == name and start <= t < end]
        return statistics.median(values) if values else 0.0


# --- the run -------------------------------------------------------------------------------------


def submit_all(args, site, owner, memory: Memory) -> float:
    """Submit the jobs evenly over the run, sampling memory meanwhile; returns the last arrival."""
    from jobs.services import submit_batch

    rng = random.Random(args.seed)
    interval = args.minutes * 60 / args.jobs
    started = time.monotonic()
    for n in range(args.jobs):
        while time.monotonic() < started + n * interval:
            memory.sample()
            time.sleep(0.5)
        submit_batch(
            owner,
            urls=job_urls(site, n, args.urls, rng),
            name=f"soak {n + 1}",
            concurrency=100,
            item_timeout=2,
            max_attempts=2,
        )
        say(f"  {time.monotonic() - started:5.0f} s  job {n + 1}/{args.jobs} submitted")
    while time.monotonic() < started + args.minutes * 60:
        memory.sample()
        time.sleep(0.5)
    return time.monotonic()


def drain(args, memory, last_arrival: float) -> list:
    """Until every job ended or the grace ran out; returns the jobs still active (stuck)."""
    from jobs.models import BatchJob, JobStatus

    deadline = last_arrival + args.grace
    while time.monotonic() < deadline:
        memory.sample()
        active = list(BatchJob.objects.filter(status__in=JobStatus.ACTIVE))
        if not active:
            return []
        time.sleep(1)
    return active


def check_items(expected: int) -> list[tuple[str, str, bool]]:
    from django.db.models import Count, F, Max, Q

    from jobs.models import BatchJob, ItemStatus, JobItem

    items = JobItem.objects.all()
    total = items.count()
    open_items = items.exclude(status__in=ItemStatus.TERMINAL).count()
    grouped: dict = defaultdict(dict)
    for job_id, status, n in items.values_list("job_id", "status").annotate(n=Count("id")):
        grouped[job_id][status] = n
    off = [
        job.pk
        for job in BatchJob.objects.all()
        if job.counts != {s: grouped[job.pk].get(s, 0) for s in ItemStatus.values}
    ]
    history = items.annotate(
        rows=Count("attempt_history"),
        numbers=Count("attempt_history__number", distinct=True),
        last=Max("attempt_history__number"),
    )
    bad = history.filter(
        ~Q(rows=F("attempts"))
        | ~Q(numbers=F("attempts"))
        | (Q(attempts__gt=0) & ~Q(last=F("attempts")))
    ).count()
    return [
        ("items recorded", f"{total:,} of {expected:,}", total == expected),
        ("items not in a terminal state", f"{open_items:,}", open_items == 0),
        ("jobs whose counters differ from their items", f"{len(off)}", not off),
        ("items whose attempt history is not 1..attempts", f"{bad:,}", bad == 0),
    ]


def outcome_lines() -> list[str]:
    from django.db.models import Count

    from jobs.models import ItemAttempt, JobItem

    rows = JobItem.objects.values_list("status", "error_code").annotate(n=Count("id")).order_by()
    lines = [f"    {status:<10} {code or '-':<18} {n:>8,}" for status, code, n in sorted(rows)]
    attempts = ItemAttempt.objects.values_list("outcome").annotate(n=Count("id")).order_by()
    shown = ", ".join(f"{outcome} {n:,}" for outcome, n in sorted(attempts))
    return [*lines, f"  attempts: {shown}"]


def memory_checks(memory: Memory, end: float) -> list[tuple[str, str, bool]]:
    checks = []
    for name in ("pool", "worker", "scheduler", "daphne"):
        early = memory.window(name, 60, 120)
        late = memory.window(name, end - 60, end)
        ok = late <= max(early * GROWTH_RATIO, early + GROWTH_BYTES)
        growth = f"{mb(early):.0f} → {mb(late):.0f} MB ({(late / early - 1) * 100 if early else 0:+.0f} %)"
        checks.append((f"RSS {name}, minute 2 → last minute", growth, ok and early > 0))
    return checks


def private_redis() -> tuple[str, subprocess.Popen]:
    """redis-server on a free port, without persistence; stopped at the end of the run."""
    import shutil

    import redis

    port = free_port()
    binary = shutil.which("redis-server") or str(Path(sys.executable).parent / "redis-server")
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, start_new_session=True)
    client = redis.Redis(port=port)
    for _ in range(100):
        with contextlib.suppress(redis.RedisError):
            client.ping()
            return f"redis://127.0.0.1:{port}/1", proc
        time.sleep(0.1)
    raise RuntimeError("redis-server did not start")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    redis_proc = None
    if not args.redis_url:
        args.redis_url, redis_proc = private_redis()
    try:
        return soak(args)
    finally:
        if redis_proc is not None:
            redis_proc.kill()
            redis_proc.wait()


def soak(args: argparse.Namespace) -> int:
    common.configure_environment(database_url="", redis_url=args.redis_url)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    say(
        f"soak: {args.jobs} jobs × {args.urls:,} URLs over {args.minutes:g} min, database "
        f"{args.db}; load average {load} on {os.cpu_count()} CPUs"
    )
    database_url = common.prepare_database(args.db, "soak")

    import django

    django.setup()
    import django_rq
    from django.contrib.auth import get_user_model

    from jobs.models import ApiKey, BatchJob
    from tests.events.clients import Recorder
    from tests.site import LocalSite

    redis = django_rq.get_connection("default")
    assert redis.connection_pool.connection_kwargs.get("db", 0) not in common.FORBIDDEN_REDIS_DBS
    redis.flushdb()
    owner = get_user_model().objects.create_user("soak", "soak@example.com", "soak-pass-123")
    key = ApiKey.issue(owner, "soak")[1]
    site = LocalSite(in_process=False).start()
    product = Product().start()
    say(f"  database {database_url}; Redis {args.redis_url}; site {site.base_url}")
    memory = Memory(product)
    url = f"ws://127.0.0.1:{product.port}/ws/jobs/?api_key={key}"
    clients = [Recorder(url, [{"event": "subscribe_all_jobs"}]).start() for _ in range(3)]
    started = time.monotonic()
    try:
        last_arrival = submit_all(args, site, owner, memory)
        stuck = drain(args, memory, last_arrival)
        finished = time.monotonic()
        end = last_arrival - memory.started
        time.sleep(2)  # the last final events reach the clients
        checks = [("jobs stuck (active after the grace)", f"{len(stuck)}", not stuck)]
        checks += check_items(args.jobs * args.urls)
        checks += memory_checks(memory, end)
        for i, client in enumerate(clients, 1):
            ended = {m["job_id"] for m in client.of("job_completed", "job_failed")}
            checks.append(
                (
                    f"WebSocket client {i}: jobs seen ending",
                    f"{len(ended)} of {args.jobs}",
                    len(ended) == args.jobs and client.error is None,
                )
            )
        walls = [j.wall_seconds or 0 for j in BatchJob.objects.all()]
        done = BatchJob.objects.filter(finished_at__isnull=False)
    finally:
        product.stop()
        site.stop()
        redis.flushdb()

    say("\nOutcomes (status, error code, items)")
    say("\n".join(outcome_lines()))
    items = args.jobs * args.urls
    say(
        f"\n  {items:,} items arrived and were done in {finished - started:.0f} s; job wall "
        f"time median {statistics.median(walls):.0f} s, max {max(walls):.0f} s; "
        f"{done.count()} jobs finished; largest work horse {mb(memory.horse_peak):.0f} MB"
    )
    say("\nChecks")
    rows = [(name, value, "ok" if ok else "FAIL") for name, value, ok in checks]
    say(common.table(["check", "value", "result"], rows))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    say(f"\n(load average now {load} on {os.cpu_count()} CPUs; logs in var/bench/soak-*.log)")
    return 0 if all(ok for _, _, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
