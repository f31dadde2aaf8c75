"""The REST API's two big reads at scale, against the naive way, in one run (issue 5, Benchmark).

    .venv/bin/python bench/api_jobs.py [--db sqlite|postgres|both] [--requests 200] [--reuse]

Seeds 100,000 jobs (90% of them the bench user's, the rest four other users') and 1,000,000 items,
all in ONE job (the hard case for deep pages), then times through Django's test client — the whole
stack: middleware, Bearer-key auth, DRF, JSON:

1. `GET /api/jobs`: 200 filtered, sorted pages — a seeded random mix of status (one or a list),
   date_range, priority (number or band), processor, search (a word of the name or an 8-digit id
   prefix), sort_by/sort_order over all six sort keys, offset 0–5,000, limit 50/100.
   Baseline, the naive way: load the user's jobs into Python, filter, count the summary, sort and
   slice there (a direct call, no HTTP: flattering to the baseline).
2. `GET /api/jobs/{id}/items`: 200 deep keyset pages, 500,000–999,000 rows into the 1M-item job —
   by position (both directions), `status=failed` by position, and by duration. Baseline, the
   naive way for deep pages: the same filter and order with OFFSET and a COUNT, as an offset
   paginator does (direct ORM call, no HTTP).

The baselines take seconds per request, so they run the first --baseline-requests (20) of the same
requests. p50/p95 in milliseconds, ratio = baseline p95 ÷ ours p95; goal p95 < 50 ms for ours.
--explain prints the queries of the slowest requests with their plans.

Own state only: SQLite at var/bench/api_jobs.sqlite3, PostgreSQL database bench_api (created if
missing), Redis DB 12 (flushed at start and end; never 0, 13 or 15). Seeding is skipped with
--reuse when the database already holds this seed. After seeding, PostgreSQL is ANALYZEd as
autovacuum would do (VACUUM ANALYZE), and SQLite's jobs table as the scheduler does every hour
(jobs.dbstats).

The machine is shared: the table also gives this process's CPU time per request (for SQLite it
includes the database's work) and the load average when the timing ended.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.common import say

GOAL_MS = 50.0
PG_URL = "postgres://postgres@127.0.0.1:5432/bench_api"
SQLITE_PATH = common.BENCH_VAR / "api_jobs.sqlite3"
BIG_JOB_NAME = "bench: the 1M-item job"
WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
]
STATUS_WEIGHTS = {
    "completed": 40,
    "completed_with_errors": 15,
    "failed": 8,
    "cancelled": 10,
    "running": 12,
    "queued": 8,
    "pending": 5,
    "cancelling": 2,
}
PROCESSORS = ("http_check", "page_audit", "site_profile")
SORTS = ("created_at", "updated_at", "progress", "priority", "total_items", "duration")
ERROR_EVERY = 10  # every 10th item failed, the rest succeeded


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=1_000_000, help="items of the one big job")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per endpoint")
    parser.add_argument("--baseline-requests", type=int, default=20)
    parser.add_argument("--reuse", action="store_true", help="keep an existing seeded database")
    parser.add_argument("--explain", action="store_true", help="plans of the slowest requests")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--json-out", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- the database ----------------------------------------------------------------------------


def database_url(kind: str, reuse: bool) -> str:
    if kind == "postgres":
        common._create_postgres_database("bench_api")
        return PG_URL
    common.BENCH_VAR.mkdir(parents=True, exist_ok=True)
    if not reuse:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{SQLITE_PATH}{suffix}").unlink()
    return f"sqlite:///{SQLITE_PATH}"


def is_seeded(n_jobs: int, n_items: int) -> bool:
    from jobs.models import BatchJob

    big = BatchJob.objects.filter(name=BIG_JOB_NAME).only("total_items").first()
    return bool(big) and big.total_items == n_items and BatchJob.objects.count() == n_jobs


def wipe() -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from jobs.models import ApiKey, BatchJob, ItemAttempt, JobItem, JobLogEntry, JobTally

    if connection.vendor == "postgresql":
        # TRUNCATE fires no row triggers: the tally goes with the jobs it counts.
        models = (ItemAttempt, JobLogEntry, JobItem, BatchJob, JobTally, ApiKey)
        tables = [m._meta.db_table for m in models]
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
    get_user_model().objects.filter(username__startswith="bench").delete()


def insert_rows(objs: list) -> None:
    """Model instances as rows, with one parameterised INSERT through executemany: every
    concrete field, prepared by the field itself (so the seed follows the model)."""
    from django.db import connection

    model = type(objs[0])
    fields = model._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = (
        f"INSERT INTO {model._meta.db_table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
    )
    rows = [[f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields] for obj in objs]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def seed_jobs(n_jobs: int, owner, others) -> None:
    """n_jobs jobs, inserted 5,000 at a time; 90% the bench user's."""
    from django.db import transaction
    from django.utils import timezone

    from jobs.models import BatchJob

    rng = random.Random(1)
    now = timezone.now()
    statuses, weights = zip(*STATUS_WEIGHTS.items(), strict=True)
    batch: list[BatchJob] = []
    for i in range(n_jobs):
        status = rng.choices(statuses, weights)[0]
        created = now - timedelta(seconds=rng.uniform(0, 90 * 86400))
        total = rng.choice((1, 10, 100, 1000, 10_000)) * rng.randint(1, 9)
        started = finished = None
        done = 0
        if status not in ("pending", "queued"):
            started = created + timedelta(seconds=rng.uniform(0, 60))
            done = total if status.startswith("completed") else rng.randint(0, total)
        if status in ("completed", "completed_with_errors", "failed", "cancelled"):
            finished = started + timedelta(seconds=rng.uniform(1, 3600))
        failed = done // 10 if status != "completed" else 0
        batch.append(
            BatchJob(
                id=uuid.UUID(int=rng.getrandbits(128), version=4),
                owner=owner if i % 10 else others[i % len(others)],
                name=f"{rng.choice(WORDS)} {rng.choice(WORDS)} batch {i}",
                processor=rng.choice(PROCESSORS),
                priority=rng.randint(1, 10),
                status=status,
                total_items=total,
                count_succeeded=done - failed,
                count_failed=failed,
                count_queued=total - done,
                progress=round(100.0 * done / total, 2),
                item_seconds=done * rng.uniform(0.05, 2.0),
                created_at=created,
                updated_at=finished or started or created,
                started_at=started,
                finished_at=finished,
                duration=(finished or now) - started if started else timedelta(0),
            )
        )
        if len(batch) == 5000 or i == n_jobs - 1:
            with transaction.atomic():
                insert_rows(batch)
            batch.clear()


def seed_big_job(owner, n_items: int):
    """One finished job with n_items items: inserted by jobs.store.insert_items (executemany),
    then one UPDATE gives every item a duration and every 10th a failure."""
    from django.db import connection, transaction
    from django.utils import timezone

    from jobs.models import BatchJob, JobItem, JobStatus
    from jobs.store import insert_items

    now = timezone.now()
    job = BatchJob.objects.create(
        owner=owner,
        name=BIG_JOB_NAME,
        status=JobStatus.COMPLETED_WITH_ERRORS,
        created_at=now - timedelta(hours=3),
        started_at=now - timedelta(hours=3),
        finished_at=now - timedelta(hours=1),
        updated_at=now - timedelta(hours=1),
        duration=timedelta(hours=2),
    )
    chunk = 100_000
    for start in range(0, n_items, chunk):
        rows = [
            (
                pos,
                f"https://site{pos % 1000}.example/page/{pos}",
                f"site{pos % 1000}.example/page/{pos}",
            )
            for pos in range(start, min(start + chunk, n_items))
        ]
        with transaction.atomic():
            insert_items(job.pk, rows, "succeeded")
    table = JobItem._meta.db_table
    finished = connection.ops.adapt_datetimefield_value(now - timedelta(hours=1))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET duration = (position %% 997) * 0.01, finished_at = %s, "
            "attempts = 1, progress = 100, "
            f"status = CASE WHEN position %% {ERROR_EVERY} = 0 THEN 'failed' ELSE 'succeeded' END, "
            f"error_code = CASE WHEN position %% {ERROR_EVERY} = 0 THEN 'TIMEOUT' ELSE '' END, "
            f"http_status = CASE WHEN position %% {ERROR_EVERY} = 0 THEN NULL ELSE 200 END "
            "WHERE job_id = %s",
            [
                finished,
                JobItem._meta.get_field("job").target_field.get_db_prep_value(job.pk, connection),
            ],
        )
    job.recount(save=True)
    return job


def seed(args) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from jobs import dbstats

    if args.reuse and is_seeded(args.jobs + 1, args.items):
        say("  reusing the seeded database")
        return
    wipe()
    users = get_user_model().objects
    owner = users.create_user("bench")
    others = [users.create_user(f"bench-other-{i}") for i in range(4)]
    t0 = time.perf_counter()
    seed_jobs(args.jobs, owner, others)
    t1 = time.perf_counter()
    seed_big_job(owner, args.items)
    t2 = time.perf_counter()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # what autovacuum does after a bulk load
            cursor.execute("VACUUM ANALYZE")
    else:
        dbstats.refresh()  # what the scheduler does every hour
    say(
        f"  seeded {args.jobs + 1:,} jobs in {t1 - t0:.1f} s, {args.items:,} items in "
        f"{t2 - t1:.1f} s ({args.items / (t2 - t1):,.0f} items/s incl. the UPDATE)"
    )


# --- requests --------------------------------------------------------------------------------


def job_requests(n: int, id_prefixes: list[str]) -> list[dict[str, str]]:
    rng = random.Random(2)
    statuses = list(STATUS_WEIGHTS)
    out = []
    for _ in range(n):
        params: dict[str, str] = {}
        if rng.random() < 0.5:
            params["status"] = rng.choice(
                [rng.choice(statuses), "completed,completed_with_errors", "running,queued,pending"]
            )
        if rng.random() < 0.4:
            params["date_range"] = rng.choice(("today", "week", "month", "all"))
        if rng.random() < 0.3:
            params["priority"] = rng.choice(("low", "normal", "high", "urgent", "5", "9"))
        if rng.random() < 0.2:
            params["processor"] = rng.choice(PROCESSORS)
        if rng.random() < 0.2:
            params["search"] = rng.choice(WORDS) if rng.random() < 0.7 else rng.choice(id_prefixes)
        params["sort_by"] = rng.choice(SORTS)
        params["sort_order"] = rng.choice(("asc", "desc"))
        params["offset"] = str(rng.choice((0, 0, 0, 50, 100, 500, 1000, 5000)))
        params["limit"] = str(rng.choice((50, 100)))
        out.append(params)
    return out


def item_requests(n: int, n_items: int) -> list[dict]:
    """Deep pages: each a cursor 50%–99% of the way into its ordering of the job, as the API would
    have handed it out."""
    from jobs.api.item_views import encode_cursor

    rng = random.Random(3)
    out = []
    for _ in range(n):
        depth = rng.randint(n_items // 2, n_items - n_items // 100)
        kind = rng.choices(("position", "-position", "failed", "duration"), (45, 15, 20, 20))[0]
        limit = rng.choice((50, 100))
        if kind == "duration":  # durations run 0.00–9.96 s: past 5 s is past half of the rows
            ordering, key = "duration", (0, round(9.96 * depth / n_items, 2), depth)
        elif kind == "-position":
            ordering, key = "-position", (0, n_items - depth, n_items - depth)
        else:
            ordering, key = "position", (0, depth, depth)
        params = {"ordering": ordering, "limit": str(limit)}
        if kind == "failed":
            params["status"] = "failed"
        params["cursor"] = encode_cursor(ordering, "n", key)
        out.append({"params": params, "depth": depth, "kind": kind})
    return out


# --- ours and the naive ways -----------------------------------------------------------------


def api_client(owner):
    from django.test import Client

    from jobs.models import ApiKey

    _, raw = ApiKey.issue(owner, "bench")
    return Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {raw}")


def get_ok(client, path: str, params: dict) -> dict:
    response = client.get(path, params)
    if response.status_code != 200:
        raise SystemExit(f"GET {path} {params} → {response.status_code}: {response.content[:300]}")
    return response.json()


def naive_jobs(owner, params: dict[str, str]) -> dict:
    """GET /api/jobs the naive way: every job of the user into Python, then filter, count, sort."""
    from jobs.api.filters import PRIORITY_BANDS, date_range_start
    from jobs.api.serializers import job_dict
    from jobs.api.views import SUMMARY_GROUPS
    from jobs.models import BatchJob

    jobs = list(BatchJob.objects.filter(owner=owner))
    start = date_range_start(params["date_range"]) if params.get("date_range") else None
    band = params.get("priority")
    if not band:
        low, high = 1, 10
    elif band in PRIORITY_BANDS:
        low, high = PRIORITY_BANDS[band]
    else:
        low = high = int(band)
    search = params.get("search", "").lower()

    def matches(job) -> bool:
        return (
            (start is None or job.created_at >= start)
            and low <= job.priority <= high
            and job.processor == params.get("processor", job.processor)
            and (not search or search in job.name.lower() or str(job.id).startswith(search))
        )

    base = [job for job in jobs if matches(job)]
    summary = {"total_jobs": len(base)} | {
        name: sum(job.status in group for job in base) for name, group in SUMMARY_GROUPS.items()
    }
    wanted = set(params["status"].split(",")) if params.get("status") else None
    rows = [job for job in base if wanted is None or job.status in wanted]
    field = params["sort_by"]
    # The id breaks ties, as ours does.
    rows.sort(key=lambda job: (getattr(job, field), job.id), reverse=params["sort_order"] == "desc")
    offset, limit = int(params["offset"]), int(params["limit"])
    page = rows[offset : offset + limit]
    body = {
        "jobs": [job_dict(job) for job in page],
        "pagination": {"total": len(rows), "limit": limit, "offset": offset},
        "summary": summary,
    }
    json.dumps(body)
    return body


def offset_items(job, request: dict) -> list:
    """A deep items page the naive way: the same filter and order, OFFSET, and a COUNT."""
    from jobs.api.item_views import item_dict
    from jobs.models import JobItem

    params, depth = request["params"], request["depth"]
    items = JobItem.objects.filter(job=job)
    offset = depth
    if params.get("status"):
        items = items.filter(status__in=params["status"].split(","))
        offset = depth // ERROR_EVERY
    ordering = params["ordering"]
    items = (
        items.order_by(ordering, "position") if ordering == "duration" else items.order_by(ordering)
    )
    total = items.count()
    page = [item_dict(item) for item in items[offset : offset + int(params["limit"])]]
    json.dumps({"items": page, "count": total})
    return page


# --- timing ----------------------------------------------------------------------------------


def timed(call: Callable[[object], object], requests: Iterable) -> tuple[list[float], list[float]]:
    """Wall-clock and this process's CPU milliseconds per request. On a busy machine the wall
    clock mostly measures the wait for a core; the CPU time does not (for SQLite it includes the
    database's work, for PostgreSQL not the server's)."""
    walls, cpus = [], []
    for request in requests:
        t0, c0 = time.perf_counter(), time.process_time()
        call(request)
        walls.append((time.perf_counter() - t0) * 1000)
        cpus.append((time.process_time() - c0) * 1000)
    return walls, cpus


def p50_p95(times: list[float]) -> tuple[float, float]:
    if len(times) < 2:  # --baseline-requests 1: quantiles need two points
        return times[0], times[0]
    return statistics.median(times), statistics.quantiles(times, n=20, method="inclusive")[-1]


def explain_slowest(call, requests: list, times: list[float], label: str) -> None:
    """The slowest requests again, with every query's time and the slowest one's plan."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    slowest = sorted(range(len(times)), key=times.__getitem__, reverse=True)[:3]
    for index in slowest:
        with CaptureQueriesContext(connection) as ctx:
            call(requests[index])
        say(f"\n  {label}: {times[index]:.1f} ms — {requests[index]}")
        queries = sorted(ctx.captured_queries, key=lambda q: float(q["time"]), reverse=True)
        for query in queries[:3]:
            say(f"    {float(query['time']) * 1000:7.1f} ms  {query['sql'][:400]}")
        sql = queries[0]["sql"]
        prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN ANALYZE "
        with connection.cursor() as cursor:
            cursor.execute(prefix + sql)
            for row in cursor.fetchall():
                say("      " + " ".join(str(c) for c in row))


def agrees(ours: dict, naive: dict) -> bool:
    """Same total, summary and page."""
    return (
        ours["pagination"]["total"] == naive["pagination"]["total"]
        and ours["summary"] == naive["summary"]
        and [j["job_id"] for j in ours["jobs"]] == [j["job_id"] for j in naive["jobs"]]
    )


def cross_check(ours_call, naive_call, requests: list[dict]) -> int:
    """Requests where ours disagrees with the naive way run just before and just after it (a
    date_range boundary may pass a job between two calls, never between all three)."""
    bad = 0
    for params in requests:
        before, ours, after = naive_call(params), ours_call(params), naive_call(params)
        bad += not (agrees(ours, before) or agrees(ours, after))
    return bad


def run_one(args) -> dict:
    import django
    from django.contrib.auth import get_user_model
    from django.db import connection

    django.setup()
    from jobs.models import BatchJob

    say(f"\n== {connection.vendor}: {args.jobs:,} jobs, one job of {args.items:,} items ==")
    seed(args)
    owner = get_user_model().objects.get(username="bench")
    big = BatchJob.objects.get(name=BIG_JOB_NAME)
    prefixes = [str(pk)[:8] for pk in BatchJob.objects.values_list("id", flat=True)[:50]]
    client = api_client(owner)
    jobs_reqs = job_requests(args.requests, prefixes)
    items_reqs = item_requests(args.requests, args.items)
    items_path = f"/api/jobs/{big.pk}/items"

    def ours_jobs(params):
        return get_ok(client, "/api/jobs", params)

    def ours_items(request):
        body = get_ok(client, items_path, request["params"])
        if len(body["items"]) != int(request["params"]["limit"]):
            raise SystemExit(f"short page: {request} → {len(body['items'])} items")
        return body

    for warm in jobs_reqs[:5]:  # imports, connections, caches: not what is measured
        ours_jobs(warm)
    for warm in items_reqs[:5]:
        ours_items(warm)
    results: dict = {"db": connection.vendor}
    n_base = min(args.baseline_requests, args.requests)
    for name, ours, naive, reqs in (
        ("GET /api/jobs", ours_jobs, lambda p: naive_jobs(owner, p), jobs_reqs),
        ("GET /api/jobs/{id}/items", ours_items, lambda r: offset_items(big, r), items_reqs),
    ):
        ours_times, ours_cpu = timed(ours, reqs)
        base_times, _ = timed(naive, reqs[:n_base])
        results[name] = {
            "ours": p50_p95(ours_times),
            "ours_cpu": p50_p95(ours_cpu),
            "base": p50_p95(base_times),
            "n_base": n_base,
            "load": os.getloadavg()[0],
        }
        if args.explain:
            explain_slowest(ours, reqs, ours_times, name)
    mismatches = cross_check(ours_jobs, lambda p: naive_jobs(owner, p), jobs_reqs[:n_base])
    results["mismatches"] = mismatches
    print_table([results])
    if mismatches:
        say(f"  WARNING: ours and the naive way disagree on {mismatches} of {n_base} job pages")
    return results


def print_table(all_results: list[dict]) -> None:
    rows = []
    for res in all_results:
        for name in ("GET /api/jobs", "GET /api/jobs/{id}/items"):
            (o50, o95), (b50, b95) = res[name]["ours"], res[name]["base"]
            c50, c95 = res[name]["ours_cpu"]
            rows.append(
                [
                    res["db"],
                    name,
                    f"{o50:.1f} / {o95:.1f}",
                    f"{c50:.1f} / {c95:.1f}",
                    f"{b50:.0f} / {b95:.0f} (n={res[name]['n_base']})",
                    f"{b95 / o95:,.0f}×",
                    f"{res[name]['load']:.1f}",
                    "PASS" if o95 < GOAL_MS else "FAIL",
                ]
            )
    headers = [
        "db",
        "endpoint",
        "ours p50 / p95 ms",
        "ours CPU p50 / p95",
        "baseline p50 / p95 ms",
        "ratio",
        "load",
        f"p95 < {GOAL_MS:.0f} ms",
    ]
    say("\n" + common.table(headers, rows))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.db == "both":
        # One process per database: Django binds its DATABASES once per process.
        results = []
        for kind in ("sqlite", "postgres"):
            out = common.BENCH_VAR / f"api_jobs-{kind}.json"
            out.unlink(missing_ok=True)
            child = [sys.executable, __file__, *(argv or sys.argv[1:]), "--db", kind]
            subprocess.run([*child, "--json-out", str(out)], check=False)  # 1: a goal failed
            if not out.exists():
                raise SystemExit(f"the {kind} run failed")
            results.append(json.loads(out.read_text()))
        say("\n== both databases ==")
        print_table(results)
        return 0 if all(passed(r) for r in results) else 1
    common.configure_environment(
        database_url=database_url(args.db, args.reuse), redis_url=args.redis_url
    )
    import redis

    conn = redis.Redis.from_url(args.redis_url)
    conn.flushdb()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    say(f"API benchmark, {args.db}; load average {load} on {os.cpu_count()} CPUs")
    common.manage("migrate", "--no-input", "-v", "0")
    try:
        results = run_one(args)
    finally:
        conn.flushdb()
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results))
    return 0 if passed(results) else 1


def passed(results: dict) -> bool:
    return all(results[name]["ours"][1] < GOAL_MS for name in results if name.startswith("GET"))


if __name__ == "__main__":
    sys.exit(main())
