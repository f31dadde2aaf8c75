"""The batch pipeline, end to end, against its baselines — one run, one table (issue 3, Benchmark).

    .venv/bin/python bench/pipeline.py [--urls 5000] [--quick] [--db sqlite|postgres]

Every figure is measured in this run next to its baseline, on this machine:

1. seed design: one RQ job per URL, 5 forking `manage.py rqworker` processes, each job fetching one
   URL with a blocking request and writing its row with one UPDATE — vs ours: `submit_batch` of
   `--urls` URLs (http_check, per_host_limit 0, concurrency 200 and 500) on 2 worker processes,
   timed from submit until the job is finished in the database.
2. efficiency: ours ÷ a bare aiohttp loop (one ClientSession, a Semaphore, one process) at the same
   concurrency, and ours ÷ the same loop through `jobs.fetch.Fetcher`.
3. overhead: the no-op processor (bench/noop.py) on 1 worker process vs raw RQ SimpleWorker running
   no-op jobs.
4. memory: peak RSS of a worker process and its work horses (psutil, every 100 ms) on a 100,000-item
   and a 20,000-item job.

The local site (tests/site.py, a subprocess on 127.0.0.1) answers `/delay/100/{i}` after 100 ms.
The database is fresh each run (SQLite under var/bench/, or PostgreSQL database bench_pipeline);
Redis is the benchmark's own DB index (14 unless --redis-url says), flushed at start and end.
Short measurements are repeated (--runs, default 3) and the median is reported, with the CPU time
per URL (robust when the machine is busy: the load average is printed at the start and the end).
Settings come from the environment as usual (e.g. BATCHSITE_CHUNK_SIZE=5000 to try another chunk
size); worker logs go to var/bench/*.log. Exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.common import mb, median, say, spread

DELAY_MS = 100
SEED_WORKERS = 5
OUR_WORKERS = 2
NOOP_CONCURRENCY = 500


@dataclass
class Results:
    seed_rate: float = 0.0
    ours: dict[int, float] = field(default_factory=dict)  # concurrency → URLs/s (median)
    bare: dict[int, float] = field(default_factory=dict)
    fetcher: dict[int, float] = field(default_factory=dict)
    simple_rate: float = 0.0
    noop_rate: float = 0.0
    memory: dict[int, common.RssSampler] = field(default_factory=dict)  # items → sampler


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--urls", type=int, default=None, help="URLs for ours and the bare loops (5000)"
    )
    parser.add_argument(
        "--seed-urls", type=int, default=None, help="URLs for the seed design (1000)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes, one run each (< 3 min)"
    )
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--runs", type=int, default=None, help="repeats of short measurements (3)")
    parser.add_argument("--concurrency", default="200,500", help="comma-separated (200,500)")
    parser.add_argument("--noop-items", type=int, default=None, help="no-op job size (50000)")
    parser.add_argument("--simple-jobs", type=int, default=None, help="SimpleWorker jobs (5000)")
    parser.add_argument("--memory-items", default=None, help="job sizes for RSS (100000,20000)")
    parser.add_argument(
        "--only", default="seed,ours,overhead,memory", help="phases to run (comma-separated)"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.urls = args.urls or (2000 if quick else 5000)
    args.seed_urls = args.seed_urls or (200 if quick else 1000)
    args.runs = args.runs or (1 if quick else 3)
    args.noop_items = args.noop_items or (10_000 if quick else 50_000)
    args.simple_jobs = args.simple_jobs or (2000 if quick else 5000)
    memory = args.memory_items or ("30000,6000" if quick else "100000,20000")
    args.memory_items = [int(x) for x in memory.split(",")]
    args.concurrency = [int(x) for x in args.concurrency.split(",")]
    args.only = set(args.only.split(","))
    return args


# --- jobs in the database --------------------------------------------------------------------


def bench_owner():
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="bench")
    return user


def failed_runners() -> str:
    """The error of a runner RQ recorded as failed (a crash in the runner), or ''."""
    import django_rq
    from django.conf import settings

    for name in settings.JOB_QUEUES:
        registry = django_rq.get_queue(name).failed_job_registry
        for rq_job_id in registry.get_job_ids():
            rq_job = django_rq.get_queue(name).fetch_job(rq_job_id)
            tail = (rq_job.exc_info or "").strip().splitlines()[-3:] if rq_job else []
            return f"runner {rq_job_id} failed: " + " | ".join(tail)
    return ""


def wait_for_job(job_id, timeout: float = 600.0):
    """Poll until the job is terminal; returns the BatchJob. Stops early when a runner crashed."""
    from jobs.models import BatchJob, JobStatus

    started = time.monotonic()
    checked = started
    while True:
        status = BatchJob.objects.filter(pk=job_id).values_list("status", flat=True).first()
        if status in JobStatus.TERMINAL:
            return BatchJob.objects.get(pk=job_id)
        now = time.monotonic()
        if now - checked > 1.0:
            checked = now
            if error := failed_runners():
                raise RuntimeError(error)
        if now - started > timeout:
            job = BatchJob.objects.get(pk=job_id)
            raise RuntimeError(f"job {job_id} not finished after {timeout:.0f} s: {job.counts}")
        time.sleep(0.02)


def run_batch(urls: list[str], processor: str, concurrency: int) -> dict[str, float]:
    """submit_batch, wait until finished; seconds from submit (and from enqueue) to finished_at."""
    from jobs.models import JobStatus
    from jobs.services import submit_batch

    t0 = datetime.now(UTC)
    job = submit_batch(
        bench_owner(),
        urls=urls,
        processor=processor,
        concurrency=concurrency,
        per_host_limit=0,
        name=f"bench {processor} c{concurrency}",
    ).job
    submitted = datetime.now(UTC)
    job = wait_for_job(job.pk)
    if job.status != JobStatus.COMPLETED or job.count_succeeded != len(urls):
        raise RuntimeError(f"bench job ended {job.status}: {job.counts}")
    return {
        "total": (job.finished_at - t0).total_seconds(),
        "submit": (submitted - t0).total_seconds(),
        "process": (job.finished_at - submitted).total_seconds(),
    }


# --- 1. the seed design ------------------------------------------------------------------------


def seed_items(site, n: int):
    """A job's items for the seed design, created in the DB without enqueueing any runner."""
    from django.db import transaction

    from jobs import store
    from jobs.models import BatchJob, ItemStatus, JobItem, JobStatus

    urls = [site.url(f"/delay/{DELAY_MS}/seed-{i}") for i in range(n)]
    with transaction.atomic():
        job = BatchJob.objects.create(
            owner=bench_owner(),
            name="seed design",
            status=JobStatus.RUNNING,
            total_items=n,
            count_queued=n,
        )
        store.insert_items(job.pk, [(i, u, u) for i, u in enumerate(urls)], ItemStatus.QUEUED)
    return job, list(JobItem.objects.filter(job=job).order_by("position").values_list("id", "url"))


def measure_seed(site, redis, n: int) -> float:
    from rq import Queue

    from bench.seed import fetch_and_record
    from jobs.models import JobItem, JobStatus

    job, items = seed_items(site, n)
    queue = Queue("low", connection=redis)  # the seed workers listen here, and nobody else
    with common.Workers(SEED_WORKERS, queues=("low",), label="seed").start(redis):
        t0 = datetime.now(UTC)
        queue.enqueue_many(
            [
                Queue.prepare_data(fetch_and_record, args=(item_id, url), result_ttl=0)
                for item_id, url in items
            ]
        )
        ids = [item_id for item_id, _ in items]
        done = JobItem.objects.filter(id__in=ids, finished_at__isnull=False)
        deadline = time.monotonic() + 30 + n  # ≥ 5 URLs/s, or something is broken
        while done.count() < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"seed design: only {done.count()} of {n} URLs done")
            time.sleep(0.1)
        last = max(done.values_list("finished_at", flat=True))
        failed = JobItem.objects.filter(id__in=ids).exclude(status="succeeded").count()
    job.recount()
    job.transition(JobStatus.COMPLETED)
    if failed:
        raise RuntimeError(f"seed design: {failed} URLs failed")
    return n / (last - t0).total_seconds()


# --- 2. ours and the bare loops --------------------------------------------------------------


async def bare_aiohttp(urls: list[str], concurrency: int) -> float:
    """One ClientSession, one Semaphore, one process: the floor of what asyncio + aiohttp do."""
    import aiohttp

    sem = asyncio.Semaphore(concurrency)
    errors = 0

    async def one(session: aiohttp.ClientSession, url: str) -> None:
        nonlocal errors
        async with sem, session.get(url) as response:
            await response.read()
            errors += response.status != 200

    connector = aiohttp.TCPConnector(limit=concurrency)
    t0 = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one(session, u) for u in urls))
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"bare aiohttp loop: {errors} non-200 answers")
    return len(urls) / elapsed


async def bare_fetcher(urls: list[str], concurrency: int) -> float:
    """The same loop through our Fetcher (SSRF guard, manual redirects, trace timings, byte cap)."""
    from jobs.fetch import Fetcher

    sem = asyncio.Semaphore(concurrency)
    fetcher = Fetcher(concurrency=concurrency, per_host_limit=0, allowed_networks=["127.0.0.1/32"])

    async def one(url: str) -> int:
        async with sem:
            return (await fetcher.fetch(url)).status

    t0 = time.perf_counter()
    async with fetcher:
        statuses = await asyncio.gather(*(one(u) for u in urls))
    elapsed = time.perf_counter() - t0
    if any(s != 200 for s in statuses):
        raise RuntimeError("bare Fetcher loop: non-200 answers")
    return len(urls) / elapsed


@dataclass
class Series:
    """Rates and CPU cost per item of one kind of run, over the repeats."""

    rates: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)

    def line(self, label: str) -> str:
        return (
            f"    {label:<21} {median(self.rates):8,.0f} URLs/s   CPU "
            f"{median(self.cpu_ms):.2f} ms/URL   {spread(self.rates)}"
        )


def timed_bare(loop, urls: list[str], conc: int, series: Series) -> None:
    cpu0 = time.process_time()
    series.rates.append(asyncio.run(loop(urls, conc)))
    series.cpu_ms.append(1000 * (time.process_time() - cpu0) / len(urls))


def timed_ours(urls: list[str], conc: int, workers, redis, series: Series, peaks: list) -> float:
    """One run of ours; CPU is the workers' and their work horses' (leftover runners included)."""
    cpu0 = common.family_cpu(workers.pids)
    with common.RssSampler(workers.pids) as rss:
        timing = run_batch(urls, "http_check", conc)
        common.wait_idle(redis)
    series.rates.append(len(urls) / timing["total"])
    series.cpu_ms.append(1000 * (common.family_cpu(workers.pids) - cpu0) / len(urls))
    peaks.append(rss)
    return timing["submit"]


def measure_ours(site, redis, args, res: Results) -> None:
    urls = [site.url(f"/delay/{DELAY_MS}/{i}") for i in range(args.urls)]
    with common.Workers(OUR_WORKERS, label="worker").start(redis) as workers:
        for conc in args.concurrency:
            ours, bare, fetch, submits, peaks = Series(), Series(), Series(), [], []
            for _ in range(args.runs):  # interleaved, so noise hits all three alike
                submits.append(timed_ours(urls, conc, workers, redis, ours, peaks))
                timed_bare(bare_aiohttp, urls, conc, bare)
                timed_bare(bare_fetcher, urls, conc, fetch)
            res.ours[conc] = median(ours.rates)
            res.bare[conc], res.fetcher[conc] = median(bare.rates), median(fetch.rates)
            say(f"  concurrency {conc}:")
            say(ours.line(f"ours ({OUR_WORKERS} workers)"))
            say(
                f"      (submit {median(submits):.2f} s of {len(urls) / res.ours[conc]:.2f} s; "
                "CPU of workers + work horses)"
            )
            say(bare.line("bare aiohttp loop"))
            say(fetch.line("bare Fetcher loop"))
            say(
                f"    memory, {OUR_WORKERS} workers     largest process RSS "
                f"{mb(max(r.peak_process for r in peaks)):.0f} MB; workers + horses PSS "
                f"{mb(max(r.peak_pss_sum for r in peaks)):.0f} MB "
                f"(RSS sum {mb(max(r.peak_rss_sum for r in peaks)):.0f} MB)"
            )


# --- 3. overhead -------------------------------------------------------------------------------


def measure_simpleworker(redis, n: int) -> float:
    from rq import Queue, SimpleWorker

    from bench.seed import noop

    queue = Queue("bench-noop", connection=redis)
    queue.enqueue_many([Queue.prepare_data(noop, result_ttl=0) for _ in range(n)])
    worker = SimpleWorker([queue], connection=redis)
    t0 = time.perf_counter()
    worker.work(burst=True, logging_level="WARNING", with_scheduler=False)
    elapsed = time.perf_counter() - t0
    if queue.count:
        raise RuntimeError("SimpleWorker left jobs in its queue")
    return n / elapsed


def noop_urls(n: int) -> list[str]:
    return [f"http://127.0.0.1:9/noop/{i}" for i in range(n)]  # never fetched


def measure_overhead(redis, args, res: Results) -> None:
    simple = [measure_simpleworker(redis, args.simple_jobs) for _ in range(args.runs)]
    res.simple_rate = median(simple)
    urls = noop_urls(args.noop_items)
    rates, e2e = [], []
    with common.Workers(1, label="noop-worker").start(redis):
        for _ in range(args.runs):
            timing = run_batch(urls, "noop", NOOP_CONCURRENCY)
            common.wait_idle(redis)
            rates.append(len(urls) / timing["process"])
            e2e.append(len(urls) / timing["total"])
    res.noop_rate = median(rates)
    say(
        f"  raw RQ SimpleWorker, no-op jobs ({args.simple_jobs:,}):   "
        f"{res.simple_rate:8,.0f} jobs/s    {spread(simple)}"
    )
    say(
        f"  ours, no-op processor, 1 worker ({len(urls):,} items): {res.noop_rate:8,.0f} items/s   "
        f"{spread(rates)}"
    )
    say(
        f"    (enqueue → job finished; submit included: {median(e2e):,.0f} items/s; "
        f"concurrency {NOOP_CONCURRENCY})"
    )


# --- 4. memory ---------------------------------------------------------------------------------


def measure_memory(redis, args, res: Results) -> None:
    with common.Workers(1, label="memory-worker").start(redis) as workers:
        for n in sorted(args.memory_items):
            urls = noop_urls(n)
            with common.RssSampler(workers.pids, interval=0.1) as rss:
                timing = run_batch(urls, "noop", NOOP_CONCURRENCY)
                common.wait_idle(redis)
            res.memory[n] = rss
            say(
                f"  {n:>7,} items: RSS worker {mb(rss.peak_parent):5.1f} MB, largest horse "
                f"{mb(rss.peak_child):5.1f} MB; worker + horse at one instant: PSS "
                f"{mb(rss.peak_pss_sum):5.1f} MB (RSS sum {mb(rss.peak_rss_sum):5.1f} MB, "
                f"shared pages twice); {rss.samples} samples over {timing['total']:.1f} s"
            )


# --- summary -------------------------------------------------------------------------------------


def row(figure: str, ours: str, base: str, ratio: str, goal: str, ok: bool | None) -> list[str]:
    return [figure, ours, base, ratio, goal, "-" if ok is None else ("PASS" if ok else "FAIL")]


def summary_rows(res: Results) -> list[list[str]]:
    rows: list[list[str]] = []
    for conc, rate in res.ours.items():
        ours = f"{rate:,.0f} URLs/s"
        if res.seed_rate:
            ratio = rate / res.seed_rate
            seed = f"{res.seed_rate:,.1f} URLs/s"
            rows.append(
                row(
                    f"ours vs seed design (c={conc})",
                    ours,
                    seed,
                    f"{ratio:,.1f}×",
                    "≥ 20×",
                    ratio >= 20,
                )
            )
        rows.append(
            row(f"ours throughput (c={conc})", ours, "-", "-", "≥ 1,000 URLs/s", rate >= 1000)
        )
        bare, fetch = res.bare[conc], res.fetcher[conc]
        rows.append(
            row(
                f"efficiency vs bare aiohttp (c={conc})",
                ours,
                f"{bare:,.0f} URLs/s",
                f"{rate / bare:.2f}",
                "≥ 0.5",
                rate / bare >= 0.5,
            )
        )
        rows.append(
            row(
                f"ours vs bare Fetcher loop (c={conc})",
                ours,
                f"{fetch:,.0f} URLs/s",
                f"{rate / fetch:.2f}",
                "(info)",
                None,
            )
        )
    if res.noop_rate:
        ratio = res.noop_rate / res.simple_rate
        rows.append(
            row(
                "overhead: no-op items/s, 1 worker",
                f"{res.noop_rate:,.0f} items/s",
                f"{res.simple_rate:,.0f} jobs/s",
                f"{ratio:,.1f}×",
                "≥ 10×",
                ratio >= 10,
            )
        )
    if res.memory:
        big, small = res.memory[max(res.memory)], res.memory[min(res.memory)]
        n_big, n_small = f"{max(res.memory):,}", f"{min(res.memory):,}"
        proc, pss = mb(big.peak_process), mb(big.peak_pss_sum)
        growth = big.peak_pss_sum / small.peak_pss_sum
        rows.append(
            row(
                f"memory: peak RSS of a process, {n_big} items",
                f"{proc:.0f} MB",
                "-",
                "-",
                "< 200 MB",
                proc < 200,
            )
        )
        rows.append(
            row(
                f"memory: peak PSS worker + horse, {n_big}",
                f"{pss:.0f} MB",
                "-",
                "-",
                "< 200 MB",
                pss < 200,
            )
        )
        rows.append(
            row(
                f"memory: flat, PSS {n_big} vs {n_small} items",
                f"{pss:.0f} MB",
                f"{mb(small.peak_pss_sum):.0f} MB",
                f"{growth:.2f}",
                "≤ 1.20",
                growth <= 1.2,
            )
        )
    return rows


# --- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    common.configure_environment(database_url="", redis_url=args.redis_url)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    say(
        f"batch pipeline benchmark — {'quick' if args.quick else 'default'} run, database "
        f"{args.db}; load average {load} on {os.cpu_count()} CPUs"
    )
    database_url = common.prepare_database(args.db)

    import django

    django.setup()
    import django_rq
    from django.conf import settings

    from tests.site import LocalSite

    redis = django_rq.get_connection("default")
    index = redis.connection_pool.connection_kwargs.get("db", 0)
    assert index not in common.FORBIDDEN_REDIS_DBS, index
    redis.flushdb()
    site = LocalSite(in_process=False).start()
    say(
        f"  database {database_url}; Redis {settings.REDIS_URL}; site {site.base_url} "
        f"(/delay/{DELAY_MS}/…); chunk {settings.BATCHSITE_CHUNK_SIZE}, flush "
        f"{settings.BATCHSITE_FLUSH_ITEMS} items/{settings.BATCHSITE_FLUSH_SECONDS} s, max "
        f"{settings.BATCHSITE_MAX_PARALLEL_CHUNKS} chunks; median of {args.runs} run(s)"
    )
    res = Results()
    try:
        run_phases(site, redis, args, res)
    finally:
        site.stop()
        redis.flushdb()
    say()
    say("Summary")
    rows = summary_rows(res)
    say(common.table(["figure", "ours", "baseline", "ratio", "goal", "result"], rows))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    say(
        f"\n(total {time.monotonic() - started:.0f} s; load average now {load} on {os.cpu_count()} CPUs)"
    )
    return 0 if all(r[-1] != "FAIL" for r in rows) else 1


def run_phases(site, redis, args, res: Results) -> None:
    if "seed" in args.only:
        say(
            f"\n1. seed design: 1 RQ job per URL, {SEED_WORKERS} forking workers, "
            f"blocking fetch + 1 UPDATE each"
        )
        res.seed_rate = measure_seed(site, redis, args.seed_urls)
        say(
            f"  {args.seed_urls:,} URLs (fewer than ours; rate measured): {res.seed_rate:.1f} URLs/s"
            f" → {args.urls:,} URLs would take {args.urls / res.seed_rate:.0f} s"
        )
        redis.flushdb()
    if "ours" in args.only:
        say(
            f"\n2. ours: submit_batch of {args.urls:,} URLs, http_check, per_host_limit 0, "
            f"{OUR_WORKERS} workers; vs bare loops"
        )
        measure_ours(site, redis, args, res)
        redis.flushdb()
    if "overhead" in args.only:
        say("\n3. overhead: no-op processor vs raw RQ")
        measure_overhead(redis, args, res)
        redis.flushdb()
    if "memory" in args.only:
        say("\n4. memory: worker RSS (psutil every 100 ms, worker process + work horses)")
        measure_memory(redis, args, res)


if __name__ == "__main__":
    sys.exit(main())
