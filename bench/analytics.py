"""The analytics page over 30 days of rollups for 10 M items, vs the same figures from raw items.

    .venv/bin/python bench/analytics.py [--db sqlite|postgres] [--items 10000000]
                                        [--raw-items 500000] [--runs 15]

1. Seeds the rollups straight into their tables, as 30 days of work on 3 processors would leave
   them after compaction with the default retentions: day rows older than 14 days, hour rows for
   the 14 days before, minute rows for the last 48 h (about 13,000 rows in all, whatever --items;
   each row's duration histogram drawn from a log-normal). Plus 2,000 jobs (jobs per day).
2. Server time of what the page costs for `range=30d`: `GET /analytics` (the HTML) + `GET
   /api/analytics/overview` (every chart and the KPI row, what the page fetches) through Django's
   test client (the whole stack but the socket); medians over --runs, as the user and as staff.
3. Baseline in the same run: the same figures (per-day success rate and p50/p95/p99 over 30 days)
   computed from raw items, the way one would without rollups: one aggregate for the counts and a
   read of every duration, sorted per day. 10 M raw rows take too long to seed on this machine, so
   --raw-items are seeded (default 500,000) and the time is scaled linearly to --items (the sort is
   n log n, so linear scaling flatters the raw method).

Own state only: SQLite at var/bench/analytics.sqlite3 (deleted at the end unless --keep),
PostgreSQL database bench_analytics; nothing in Redis (the page and API read the database only).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.common import say

PROCESSORS = ("http_check", "page_audit", "site_profile")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--items", type=int, default=10_000_000, help="items the rollups count")
    parser.add_argument("--raw-items", type=int, default=500_000, help="raw items seeded")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    return parser.parse_args(argv)


def lognormal_bins(n: int, median_s: float, sigma: float = 0.8) -> list[int]:
    """n durations spread over the analytics bins as a log-normal would (rounded counts)."""
    from analytics import bins

    def cdf(x: float) -> float:
        return (
            0.0 if x <= 0 else 0.5 * (1 + math.erf(math.log(x / median_s) / (sigma * math.sqrt(2))))
        )

    counts = []
    for i in range(bins.N_BINS):
        low, high = bins.bounds(i)
        high = math.inf if i == bins.N_BINS - 1 else high
        counts.append(round(n * ((1.0 if high == math.inf else cdf(high)) - cdf(low))))
    return counts


def seed_rollups(owner: int, items: int, now) -> int:
    from analytics import bins
    from analytics.compaction import hour_cutoff, minute_cutoff
    from analytics.models import ERROR_FIELDS, ItemRollup, Period
    from analytics.upsert import floor, step

    rows, start = [], floor(now - timedelta(days=30), Period.DAY)
    hours_cut, minutes_cut = hour_cutoff(now), floor(minute_cutoff(now), Period.MINUTE)
    per_hour = items / (30 * 24 * len(PROCESSORS))

    def row(period: str, at, n: float, processor: str, k: int) -> ItemRollup:
        n = int(n)
        failed = n // 20
        hist = lognormal_bins(n, 0.15 + 0.05 * k)
        return ItemRollup(
            period=period,
            start=at,
            owner=owner,
            processor=processor,
            succeeded=n - failed,
            failed=failed,
            cancelled=0,
            duration_sum=n * 0.2,
            bytes=n * 30_000,
            **{ERROR_FIELDS["TIMEOUT"]: failed},
            **dict(zip(bins.FIELDS, hist, strict=True)),
        )

    for k, processor in enumerate(PROCESSORS):
        at = start
        while at < hours_cut:  # day rows
            rows.append(row(Period.DAY, at, per_hour * 24, processor, k))
            at += step(Period.DAY)
        while at < now:  # hour rows
            rows.append(row(Period.HOUR, at, per_hour, processor, k))
            at += step(Period.HOUR)
        at = minutes_cut
        while at < now:  # minute rows (the hour rows hold the same items)
            rows.append(row(Period.MINUTE, at, per_hour / 60, processor, k))
            at += step(Period.MINUTE)
    ItemRollup.objects.bulk_create(rows, batch_size=500)
    return len(rows)


def seed_jobs(user, now, n: int = 2000) -> list:
    from jobs.models import BatchJob, JobStatus

    jobs = [
        BatchJob(
            owner=user,
            name=f"bench {i}",
            processor=PROCESSORS[i % 3],
            status=JobStatus.COMPLETED,
            created_at=now - timedelta(seconds=i * 30 * 86400 / n),
        )
        for i in range(n)
    ]
    return BatchJob.objects.bulk_create(jobs, batch_size=1000)


def seed_raw_items(jobs, n: int, now) -> None:
    """n finished items spread over 30 days on 100 jobs, log-normal durations, 5 % failed."""
    from django.db import connection

    from jobs import store
    from jobs.models import JobItem

    rng = random.Random(8)
    table = JobItem._meta.db_table
    sql = (
        f"INSERT INTO {table} (job_id, position, url, input, status, current_step, progress, attempts, "
        "error, error_code, worker, finished_at, duration) "
        "VALUES (%s, %s, 'u', '', %s, '', 100, 1, '', %s, '', %s, %s)"
    )
    span = 30 * 86400
    with connection.cursor() as cursor:
        for start in range(0, n, 20_000):
            batch = []
            for i in range(start, min(n, start + 20_000)):
                bad = rng.random() < 0.05
                at = now - timedelta(seconds=rng.random() * span)
                batch.append(
                    (
                        store._uuid(jobs[i % 100].pk),
                        i,
                        "failed" if bad else "succeeded",
                        "TIMEOUT" if bad else "",
                        store._dt(at),
                        rng.lognormvariate(math.log(0.2), 0.8),
                    )
                )
            cursor.executemany(sql, batch)


def raw_figures(user, now) -> tuple[float, float]:
    """Per-day success rate and p50/p95/p99 over 30 days, from the items themselves."""
    from django.db.models import Count, Q
    from django.db.models.functions import TruncDate

    from jobs.access import jobs_for
    from jobs.models import JobItem

    t0, c0 = time.perf_counter(), time.process_time()
    items = JobItem.objects.filter(
        job__in=jobs_for(user), finished_at__gte=now - timedelta(days=30)
    )
    list(
        items.annotate(day=TruncDate("finished_at"))
        .values("day")
        .annotate(
            ok=Count("id", filter=Q(status="succeeded")), bad=Count("id", filter=Q(status="failed"))
        )
    )
    per_day: dict = {}
    for at, duration in (
        items.exclude(duration=None).values_list("finished_at", "duration").iterator(10_000)
    ):
        per_day.setdefault(at.date(), []).append(duration)
    for durations in per_day.values():
        durations.sort()
        for q in (0.5, 0.95, 0.99):
            durations[min(len(durations) - 1, int(q * len(durations)))]
    return time.perf_counter() - t0, time.process_time() - c0


def page_times(user, runs: int) -> tuple[list[float], list[float]]:
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    paths = ("/analytics?range=30d", "/api/analytics/overview?range=30d")
    for path in paths:
        assert client.get(path).status_code == 200  # warm
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        for path in paths:
            response = client.get(path, HTTP_ACCEPT="application/json")
            assert response.status_code == 200, (path, response.status_code)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    planned = (
        "postgres://postgres@127.0.0.1:5432/bench_analytics"
        if args.db == "postgres"
        else f"sqlite:///{common.BENCH_VAR / 'analytics.sqlite3'}"
    )
    common.configure_environment(database_url=planned, redis_url=args.redis_url)
    url = common.prepare_database(args.db, "analytics")
    common.configure_environment(database_url=url, redis_url=args.redis_url)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    users = get_user_model().objects
    user = users.create_user("bench", password="bench-pass-123")
    staff = users.create_user("bench-staff", password="bench-pass-123", is_staff=True)
    now = timezone.now()

    t0 = time.perf_counter()
    n_rows = seed_rollups(user.pk, args.items, now)
    jobs = seed_jobs(user, now)
    say(
        f"seeded {n_rows:,} rollup rows for {args.items:,} items and {len(jobs):,} jobs in {time.perf_counter() - t0:.1f} s"
    )
    t0 = time.perf_counter()
    seed_raw_items(jobs, args.raw_items, now)
    say(f"seeded {args.raw_items:,} raw items in {time.perf_counter() - t0:.1f} s")

    user_wall, user_cpu = page_times(user, args.runs)
    staff_wall, staff_cpu = page_times(staff, args.runs)
    raw = [raw_figures(user, now) for _ in range(3)]
    raw_wall = statistics.median(r[0] for r in raw)
    raw_cpu = statistics.median(r[1] for r in raw)
    scale = args.items / args.raw_items
    med = statistics.median

    def ms(value: float) -> str:
        return f"{value * 1000:,.1f}"

    say()
    say("Wall time is what a request waited on this (shared, noisy) machine; CPU time is what the")
    say("process spent (SQLite runs in-process, so it includes the queries): the figure that does")
    say("not depend on the other load.")
    say(
        common.table(
            ("what (range=30d)", "median wall ms", "median CPU ms"),
            [
                ("page + overview API, user", ms(med(user_wall)), ms(med(user_cpu))),
                ("page + overview API, staff", ms(med(staff_wall)), ms(med(staff_cpu))),
                (f"raw items, {args.raw_items:,} seeded", ms(raw_wall), ms(raw_cpu)),
                (
                    f"raw items, x{scale:,.0f} (linear) = {args.items:,}",
                    ms(raw_wall * scale),
                    ms(raw_cpu * scale),
                ),
            ],
        )
    )
    say(f"user wall runs (ms): {common.spread([t * 1000 for t in user_wall], '{:,.0f}')}")
    say()
    for label, page, raw_t in (("wall", med(user_wall), raw_wall), ("CPU", med(user_cpu), raw_cpu)):
        say(
            f"{label}: rollups {raw_t * scale / page:,.0f}x faster than raw scaled to {args.items:,} items "
            f"({raw_t / page:,.1f}x vs the {args.raw_items:,} seeded); page < 100 ms: "
            f"{'met' if page < 0.1 else 'NOT met'}"
        )
    say(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.db == "sqlite" and not args.keep:
        from django.db import connection

        connection.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{common.BENCH_VAR / 'analytics.sqlite3'}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
