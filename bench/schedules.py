"""Schedules' two heavy reads and writes against the naive way, in one run (issue 9, points 8–9).

    .venv/bin/python bench/schedules.py [--db sqlite|postgres] [--items 20000] [--runs 5]

1. What changed since the last run: `schedule_diff.compare` of two runs of --items URLs each (a
   tenth of them changing) against the baseline of only reading the same rows (two
   `values_list` reads, nothing compared): the ratio is what the comparison adds to the read.
2. Retention: `retention.purge` (BATCHSITE_RETENTION_BATCH rows per transaction) of a job of
   --items items with one attempt each, against one `job.delete()` (Django's cascade, one
   transaction) of an identical job. The figure that matters is the longest transaction, the
   time the tables are held: purge's is one batch's, the baseline's is the whole delete.

Own state only: SQLite at var/bench/schedules.sqlite3 or PostgreSQL bench_schedules; Redis DB 12
(nothing is enqueued). Medians of --runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.common import median, say


def seed_run(owner, schedule, items: int, flip_every: int):
    from django.db import transaction
    from django.utils import timezone

    from jobs import store
    from jobs.models import BatchJob, ItemAttempt, ItemStatus, JobStatus

    job = BatchJob.objects.create(owner=owner, schedule=schedule, status=JobStatus.COMPLETED)
    rows = [(i, f"https://site{i % 50}.example/page/{i}", "") for i in range(items)]
    with transaction.atomic():
        store.insert_items(job.pk, rows, ItemStatus.SUCCEEDED)
    bad = job.items.filter(position__in=range(0, items, flip_every)) if flip_every else None
    job.items.update(http_status=200)
    if bad is not None:
        bad.update(http_status=500)
    now = timezone.now()
    ItemAttempt.objects.bulk_create(
        (
            ItemAttempt(item_id=pk, number=1, started_at=now, outcome="succeeded")
            for pk in job.items.values_list("pk", flat=True).iterator()
        ),
        batch_size=5000,
    )
    return job


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    common.configure_environment(
        database_url="sqlite:///unused", redis_url="redis://127.0.0.1:6379/12"
    )
    common.prepare_database(args.db, "schedules")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection

    from jobs import retention, schedule_diff
    from jobs.models import BatchJob, JobItem, Schedule

    owner = get_user_model().objects.create_user("bench-schedules")
    schedule = Schedule.objects.create(owner=owner, kind="interval", interval_minutes=60)
    previous = seed_run(owner, schedule, args.items, 0)
    current = seed_run(owner, schedule, args.items, 10)

    def read_only() -> None:
        for job in (previous, current):
            list(JobItem.objects.filter(job=job).values_list("url", "status", "http_status"))

    diff_s = [timed(lambda: schedule_diff.compare(previous, current)) for _ in range(args.runs)]
    read_s = [timed(read_only) for _ in range(args.runs)]
    changes = schedule_diff.compare(previous, current)
    assert changes.counts["newly_failing"] == args.items // 10, changes.counts

    # Retention: the longest transaction, timed at each COMMIT.
    spans: list[float] = []
    state = {"start": None}

    def watch(execute, sql, params, many, context):
        if state["start"] is None:
            state["start"] = time.perf_counter()
        result = execute(sql, params, many, context)
        return result

    def commit_hook() -> None:
        if state["start"] is not None:
            spans.append(time.perf_counter() - state["start"])
        state["start"] = None

    purge_s, purge_longest, naive_s, naive_longest = [], [], [], []
    Schedule.objects.filter(pk=schedule.pk).delete()  # the runs become ordinary, unprotected jobs
    for _ in range(args.runs):
        for job in (seed_run(owner, None, args.items, 0), seed_run(owner, None, args.items, 0)):
            BatchJob.objects.filter(pk=job.pk).update(finished_at=job.created_at.replace(year=2000))
        target = BatchJob.objects.filter(finished_at__year=2000).order_by("pk")
        first, second = list(target)
        spans.clear()
        real_commit = connection.commit

        def tracked_commit(real_commit=real_commit) -> None:
            commit_hook()
            real_commit()

        connection.commit = tracked_commit
        with connection.execute_wrapper(watch):
            purge_s.append(
                timed(
                    lambda j=first: retention.delete_job(
                        j, batch=settings.BATCHSITE_RETENTION_BATCH
                    )
                )
            )
            purge_longest.append(max(spans))
            spans.clear()
            state["start"] = None
            naive_s.append(timed(lambda j=second: _naive_delete(j)))
            naive_longest.append(max(spans))
        connection.commit = real_commit

    say(f"database: {args.db}; {args.items:,} items per run; medians of {args.runs}")
    say(
        common.table(
            ("what", "ours", "baseline", "ratio"),
            [
                (
                    "compare two runs (s) vs read them only",
                    f"{median(diff_s):.3f}",
                    f"{median(read_s):.3f}",
                    f"{median(diff_s) / median(read_s):.2f}×",
                ),
                (
                    "retention: delete one job, total (s)",
                    f"{median(purge_s):.3f}",
                    f"{median(naive_s):.3f}",
                    f"{median(purge_s) / median(naive_s):.2f}×",
                ),
                (
                    "retention: longest transaction (ms)",
                    f"{median(purge_longest) * 1000:.1f}",
                    f"{median(naive_longest) * 1000:.1f}",
                    f"{median(naive_longest) / median(purge_longest):.1f}× shorter",
                ),
            ],
        )
    )
    os.environ.pop("DATABASE_URL", None)


def _naive_delete(job) -> None:
    from django.db import transaction

    with transaction.atomic():
        job.delete()


if __name__ == "__main__":
    main()
