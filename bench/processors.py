"""Items/s of the page processors on a 100 KB HTML page, against http_check in the same run (issue 4).

    .venv/bin/python bench/processors.py [--items 2000] [--runs 3] [--concurrency 50] [--quick]

Each processor runs `--items` URLs of the same ~100 KB page (tests/fixture_site/bench-100k.html,
gzip on the wire, ``?i=N`` so every URL is its own item) through the real pipeline: `submit_batch`,
then one RQ SimpleWorker in burst mode in this process (one worker, one process), timed from the
worker's start until it returns. The fixture site runs as a subprocess on 127.0.0.1 so it does not
share this process's GIL. Runs are interleaved (http_check, page_audit, site_profile, then again)
and the median is reported; the ratio is processor ÷ http_check, the parse cost as a rate.
Goal: page_audit ≥ 0.7 × http_check.

Own state only: SQLite at var/bench/processors.sqlite3 (fresh each run) and Redis DB 15 (flushed at
start and end; --redis-url to change, never 0 or 13).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.common import median, say

PAGE = "/bench-100k.html"
GOAL = 0.7
DATABASE = common.BENCH_VAR / "processors.sqlite3"
PROCESSORS = ("http_check", "page_audit", "site_profile")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=2000, help="URLs per run (2000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per processor (3); median")
    parser.add_argument("--concurrency", type=int, default=50, help="per-job concurrency (50)")
    parser.add_argument("--quick", action="store_true", help="500 items, 1 run")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args(argv)
    if args.quick:
        args.items, args.runs = 500, 1
    return args


def prepare_database() -> str:
    common.BENCH_VAR.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{DATABASE}{suffix}").unlink()
    url = f"sqlite:///{DATABASE}"
    import os

    os.environ["DATABASE_URL"] = url
    common.manage("migrate", "--no-input", "-v", "0")
    return url


def run_once(owner, urls: list[str], processor: str, concurrency: int) -> tuple[float, float]:
    """(items/s, items per CPU second) of one job on one burst SimpleWorker in this process."""
    import django_rq
    from django.conf import settings
    from rq import SimpleWorker

    from jobs.models import JobStatus
    from jobs.services import submit_batch

    job = submit_batch(
        owner,
        urls=urls,
        processor=processor,
        concurrency=concurrency,
        per_host_limit=0,
        max_attempts=1,
        name=f"bench {processor}",
    ).job
    queues = [django_rq.get_queue(name) for name in settings.JOB_QUEUES]
    worker = SimpleWorker(queues, connection=queues[0].connection)
    started, cpu = time.perf_counter(), time.process_time()
    worker.work(burst=True, with_scheduler=False)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    job.refresh_from_db()
    if job.status != JobStatus.COMPLETED or job.count_succeeded != len(urls):
        first = job.items.exclude(status="succeeded").values("error_code", "error").first()
        raise RuntimeError(f"{processor} job ended {job.status}: {job.counts}; e.g. {first}")
    job.delete()  # every run starts from the same (empty) tables
    return len(urls) / elapsed, len(urls) / cpu


def parse_cost(body: bytes, repeat: int = 200) -> float:
    """CPU ms to parse the page once (UTF-8 bytes, as get_page does): page_audit's floor."""
    from selectolax.lexbor import LexborHTMLParser

    started = time.process_time()
    for _ in range(repeat):
        LexborHTMLParser(body)
    return (time.process_time() - started) * 1000 / repeat


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    common.configure_environment(database_url="", redis_url=args.redis_url)
    database_url = prepare_database()

    import django

    django.setup()
    import django_rq
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from jobs.processors.registry import processors
    from tests.fixture_site.app import FixtureSite

    redis = django_rq.get_connection("default")
    assert redis.connection_pool.connection_kwargs.get("db", 0) not in common.FORBIDDEN_REDIS_DBS
    redis.flushdb()
    names = [name for name in PROCESSORS if name in processors()]
    owner, _ = get_user_model().objects.get_or_create(username="bench")
    site = FixtureSite(in_process=False).start()
    page_bytes = (Path(__file__).resolve().parent.parent / "tests/fixture_site" / PAGE[1:]).stat()
    say(
        f"page processors benchmark: {args.items:,} items × {args.runs} run(s), concurrency "
        f"{args.concurrency}, 1 SimpleWorker (burst, in process)"
    )
    say(
        f"  page {site.url(PAGE)} ({page_bytes.st_size:,} bytes, gzip on the wire); "
        f"database {database_url}; Redis {settings.REDIS_URL}"
    )
    if "site_profile" not in names:
        say("  site_profile is not registered (jobs/processors/registry.py): skipped")
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    body = (Path(__file__).resolve().parent.parent / "tests/fixture_site" / PAGE[1:]).read_bytes()
    parse_ms: list[float] = []
    try:
        warm = [site.url(f"{PAGE}?warm={i}") for i in range(50)]
        for name in names:
            run_once(owner, warm, name, args.concurrency)  # imports, connections, robots code
        for run in range(args.runs):
            # Rotate the order each run, so no processor always runs first (or last).
            for name in names[run % len(names) :] + names[: run % len(names)]:
                urls = [site.url(f"{PAGE}?run={run}&p={name}&i={i}") for i in range(args.items)]
                rate, per_cpu = run_once(owner, urls, name, args.concurrency)
                wall[name].append(rate)
                cpu[name].append(per_cpu)
                say(
                    f"  run {run + 1}: {name:<12} {rate:8,.0f} items/s   "
                    f"{per_cpu:8,.0f} items per CPU second"
                )
            parse_ms.append(parse_cost(body))
            say(f"  run {run + 1}: parse of the page alone: {parse_ms[-1]:.3f} ms CPU")
    finally:
        site.stop()
        redis.flushdb()
    return report(names, wall, cpu, started, median(parse_ms))


def report(
    names: list[str],
    wall: dict[str, list[float]],
    cpu: dict[str, list[float]],
    started: float,
    parse_ms: float,
) -> int:
    base_wall, base_cpu = median(wall["http_check"]), median(cpu["http_check"])
    rows, ok = [], True
    for name in names:
        rate, per_cpu = median(wall[name]), median(cpu[name])
        ratio = rate / base_wall
        verdict = "baseline"
        if name == "page_audit":
            ok = ratio >= GOAL
            verdict = f"{'PASS' if ok else 'FAIL'} (goal ≥ {GOAL})"
        elif name != "http_check":
            verdict = "no goal"
        rows.append(
            [
                name,
                f"{rate:,.0f}",
                f"{ratio:.2f}",
                f"{1000 / rate:.2f}",
                f"{per_cpu:,.0f}",
                f"{per_cpu / base_cpu:.2f}",
                verdict,
            ]
        )
    say()
    say("Summary (medians; ms/item = 1000 ÷ items/s; CPU = this process, the site excluded)")
    headers = ["processor", "items/s", "÷ http_check", "ms/item", "items/CPU-s", "÷ (CPU)", ""]
    say(common.table(headers, rows))
    # The floor: page_audit can be no cheaper than http_check plus one parse of the page.
    base_ms = 1000 / base_cpu
    say(
        f"\nFloor (CPU): http_check {base_ms:.3f} ms/item + parse {parse_ms:.3f} ms → "
        f"page_audit at best {base_ms / (base_ms + parse_ms):.2f} × http_check with every other "
        f"step free; page_audit's budget for everything past the fetch at {GOAL}×: "
        f"{base_ms / GOAL - base_ms:.3f} ms"
    )
    say(f"\n(total {time.monotonic() - started:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
