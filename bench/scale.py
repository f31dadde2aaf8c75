"""The scaling curve: URLs/s end to end for 1, 2, 4 worker processes × the job's concurrency,
against the local site's 100 ms pages, with its baselines measured in the same run (issue 10).

    .venv/bin/python bench/scale.py [--db sqlite|postgres|both] [--workers 1,2,4]
        [--concurrency 50,200,500] [--urls 3000] [--runs 3] [--redis-url redis://127.0.0.1:6379/2]
        [--only grid,claims,baselines,profile]

1. grid: for each worker count n and concurrency c, `submit_batch` of --urls URLs (http_check,
   per_host_limit 0, job concurrency c — the product caps one job at 500, shared by its runners)
   timed from submit until the job is finished in the database; each point --runs times, interleaved with a bare aiohttp loop at
   the same total concurrency. Per point: the median rate, the load average, the cores used by the
   workers, the local site, PostgreSQL and Redis (bench/resources.py), and what limits it.
2. claims (PostgreSQL): 4 workers over one 20,000-item no-op job, claims with `FOR UPDATE SKIP
   LOCKED` vs the plain conditional UPDATE (BATCHSITE_PG_CLAIM), interleaved; items/s and how often
   a claim was seen waiting for a row lock (pg_stat_activity, every 20 ms).
3. baselines: the seed design (one RQ job per URL, bench/pipeline.py) and raw RQ no-op jobs
   (SimpleWorker) vs our no-op processor on 1 worker.
4. profile: py-spy (a dev dependency) records the workers and their work horses at the grid's top
   point; the functions that took the samples are listed.

The database is fresh (SQLite under var/bench/scale.sqlite3 or PostgreSQL bench_scale); Redis is
--redis-url's DB index, flushed at start and end. `--db both` runs each database in a process of
its own (Django binds one database per process). Exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common, resources
from bench.common import median, say, spread

DELAY_MS = 100
CLAIM_ITEMS = 20_000
CLAIM_WORKERS = 4
PARTIES = ("workers", "site", "postgres", "redis", "machine")


@dataclass
class Point:
    rates: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    shares: list[dict[str, float]] = field(default_factory=list)

    def share(self, party: str) -> float:
        return median([s.get(party, 0.0) for s in self.shares])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--concurrency", default="50,200,500", help="the job's (≤ 500)")
    parser.add_argument("--urls", type=int, default=3000, help="URLs per grid run (3000)")
    parser.add_argument("--seed-urls", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--simple-jobs", type=int, default=1000, help="raw RQ no-op jobs (1000)")
    parser.add_argument("--noop-items", type=int, default=CLAIM_ITEMS, help="no-op job size")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/2")
    parser.add_argument("--only", default="grid,claims,baselines,profile")
    args = parser.parse_args(argv)
    args.workers = [int(x) for x in args.workers.split(",")]
    args.concurrency = [int(x) for x in args.concurrency.split(",")]
    args.only = set(args.only.split(","))
    return args


def load1() -> float:
    return os.getloadavg()[0]


# --- 1. the grid -----------------------------------------------------------------------------


def measure_grid(site, redis, args) -> dict[tuple[int, int], Point]:
    import asyncio

    from bench.pipeline import bare_aiohttp, run_batch

    points: dict[tuple[int, int], Point] = defaultdict(Point)
    urls = [site.url(f"/delay/{DELAY_MS}/{i}") for i in range(args.urls)]
    for n in args.workers:
        with common.Workers(n, label=f"scale-{n}").start(redis) as workers:
            for conc in args.concurrency:
                point = points[(n, conc)]
                for _ in range(args.runs):
                    point.loads.append(load1())
                    with resources.CpuSampler(workers.pids, site._process.pid) as cpu:
                        timing = run_batch(urls, "http_check", conc)
                    common.wait_idle(redis)
                    point.rates.append(len(urls) / timing["total"])
                    point.shares.append(cpu.shares())
                    point.bare.append(asyncio.run(bare_aiohttp(urls, conc)))
                say(
                    f"  {n} worker(s) × c={conc:<4} {median(point.rates):7,.0f} URLs/s "
                    f"({spread(point.rates)}); bare loop c={conc}: {median(point.bare):,.0f}; "
                    f"load {median(point.loads):.1f}"
                )
    return points


def grid_rows(points: dict[tuple[int, int], Point]) -> list[list[str]]:
    rows = []
    for (n, conc), p in sorted(points.items()):
        rate = median(p.rates)
        ceiling = conc / (DELAY_MS / 1000)
        shares = {party: p.share(party) for party in PARTIES}
        rows.append(
            [
                str(n),
                str(conc),
                f"{rate:,.0f}",
                f"{rate / n:,.0f}",
                f"{rate / median(p.bare):.2f}",
                f"{median(p.loads):.1f}",
                *(f"{shares[party]:.2f}" for party in PARTIES),
                resources.limit_of(shares, n, ceiling, rate),
            ]
        )
    return rows


GRID_HEADERS = [
    "workers",
    "c (job)",
    "URLs/s",
    "per worker",
    "÷ bare",
    "load",
    "cores: workers",
    "site",
    "postgres",
    "redis",
    "machine",
    "limit",
]


# --- 2. claims -------------------------------------------------------------------------------


class LockWaits:
    """Samples PostgreSQL's sessions on the benchmark database every 20 ms: how often a claim
    waited for another transaction's row lock (`transactionid`/`tuple`), and which lock waits any
    session had (e.g. `extend`: a table growing, which is not one worker waiting for another)."""

    def __init__(self, dbname: str) -> None:
        self.dbname = dbname
        self.samples = self.claim_waits = 0
        self.events: Counter = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psycopg

        sql = (
            "SELECT wait_event, query LIKE 'WITH picked%%' FROM pg_stat_activity "
            "WHERE datname = %s AND wait_event_type = 'Lock'"
        )
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
            while not self._stop.wait(0.02):
                rows = c.execute(sql, [self.dbname]).fetchall()
                self.samples += 1
                self.claim_waits += any(
                    is_claim and event in ("transactionid", "tuple") for event, is_claim in rows
                )
                self.events.update({event for event, _ in rows})

    def __enter__(self) -> LockWaits:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def measure_claims(redis, args, dbname: str) -> dict[str, dict[str, list[float]]]:
    from bench.pipeline import noop_urls, run_batch

    urls = noop_urls(CLAIM_ITEMS)
    found: dict[str, dict[str, list[float]]] = {}
    for _ in range(args.runs):
        for mode in ("skip_locked", "conditional"):
            os.environ["BATCHSITE_PG_CLAIM"] = mode
            with common.Workers(CLAIM_WORKERS, label=f"claims-{mode}").start(redis):
                with LockWaits(dbname) as waits:
                    timing = run_batch(urls, "noop", 500)
                common.wait_idle(redis)
            got = found.setdefault(mode, {"rate": [], "claim_waits": [], "events": Counter()})
            got["rate"].append(CLAIM_ITEMS / timing["total"])
            got["claim_waits"].append(100 * waits.claim_waits / max(1, waits.samples))
            got["events"].update(waits.events)
    os.environ.pop("BATCHSITE_PG_CLAIM", None)
    for mode, got in found.items():
        say(
            f"  {mode:<12} {median(got['rate']):7,.0f} items/s ({spread(got['rate'])}); a claim "
            f"waiting for a row lock in {median(got['claim_waits']):.1f} % of samples; lock "
            f"waits seen (samples): {dict(got['events']) or 'none'}"
        )
    return found


# --- 4. profile ------------------------------------------------------------------------------


def profile_top(site, redis, args, n: int, conc: int, rate: float) -> None:
    from bench.pipeline import run_batch

    seconds = 10
    urls = [site.url(f"/delay/{DELAY_MS}/p{i}") for i in range(int(rate * (seconds + 4)))]
    out = common.BENCH_VAR / "profile"
    for old in common.BENCH_VAR.glob("profile-*.txt"):
        old.unlink()
    with common.Workers(n, label=f"profile-{n}").start(redis) as workers:
        spies = resources.start_profile(workers.pids, out, seconds)
        time.sleep(1.0)  # py-spy attached
        run_batch(urls, "http_check", conc)
        common.wait_idle(redis)
        for spy in spies:
            spy.wait(timeout=60)
    files = sorted(common.BENCH_VAR.glob("profile-*.txt"))
    say(f"  {n} worker(s) × c={conc}, {len(urls):,} URLs, py-spy {seconds} s at 200 Hz:")
    for line in resources.summarise_profile(files):
        say(line)


# --- main ------------------------------------------------------------------------------------


def goals(points, claims, base) -> list[list[str]]:
    rows = []
    if points:
        (n, conc), top = max(points.items(), key=lambda kv: median(kv[1].rates))
        rate = median(top.rates)
        where = f"{n}×c{conc}"
        rows.append(
            ["throughput, top point", where, f"{rate:,.0f} URLs/s", "≥ 1,000", rate >= 1000]
        )
        bare = median(top.bare)
        rows.append(
            [
                "÷ bare aiohttp loop (same c)",
                where,
                f"{rate / bare:.2f}",
                "≥ 0.5",
                rate / bare >= 0.5,
            ]
        )
        if base.seed_rate:
            ratio = rate / base.seed_rate
            rows.append(
                [
                    "÷ one RQ job per URL",
                    where,
                    f"{ratio:,.1f}× ({base.seed_rate:.1f}/s)",
                    "≥ 20×",
                    ratio >= 20,
                ]
            )
    if base.noop_rate:
        ratio = base.noop_rate / base.simple_rate
        rows.append(
            [
                "no-op items/s ÷ raw RQ jobs/s",
                "1 worker",
                f"{ratio:,.1f}× ({base.noop_rate:,.0f} vs {base.simple_rate:,.0f})",
                "≥ 10×",
                ratio >= 10,
            ]
        )
    if claims:
        skip, cond = median(claims["skip_locked"]["rate"]), median(claims["conditional"]["rate"])
        waits = median(claims["skip_locked"]["claim_waits"])
        rows.append(
            ["SKIP LOCKED ÷ conditional claims", "4 workers", f"{skip / cond:.2f}", "(info)", None]
        )
        rows.append(
            [
                "claims waiting on a row lock (SKIP LOCKED)",
                "4 workers",
                f"{waits:.1f} % of samples",
                "0",
                waits == 0,
            ]
        )
    return [[*r[:4], "-" if r[4] is None else ("PASS" if r[4] else "FAIL")] for r in rows]


def run_one(args) -> int:
    started = time.monotonic()
    common.configure_environment(database_url="", redis_url=args.redis_url)
    say(f"\n=== {args.db}: load average {', '.join(f'{x:.2f}' for x in os.getloadavg())} ===")
    say(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    url = common.prepare_database(args.db, "scale")

    import django

    django.setup()
    import django_rq

    from bench import pipeline
    from tests.site import LocalSite

    redis = django_rq.get_connection("default")
    assert redis.connection_pool.connection_kwargs.get("db", 0) not in common.FORBIDDEN_REDIS_DBS
    redis.flushdb()
    site = LocalSite(in_process=False).start()
    say(f"  database {url}; site {site.base_url}; median of {args.runs} runs")
    points, claims = {}, {}
    base = pipeline.Results()
    try:
        if "grid" in args.only:
            say(
                "\n1. grid: http_check, per_host_limit 0, job concurrency c (shared by the workers)"
            )
            points = measure_grid(site, redis, args)
            redis.flushdb()
        if "claims" in args.only and args.db == "postgres":
            say(f"\n2. claims: {CLAIM_WORKERS} workers, one {CLAIM_ITEMS:,}-item no-op job")
            claims = measure_claims(redis, args, url.rsplit("/", 1)[1])
            redis.flushdb()
        if "baselines" in args.only:
            say("\n3. baselines")
            base.seed_rate = pipeline.measure_seed(site, redis, args.seed_urls)
            say(
                f"  one RQ job per URL (5 workers, {args.seed_urls} URLs): {base.seed_rate:.1f} URLs/s"
            )
            redis.flushdb()
            ns = SimpleNamespace(
                simple_jobs=args.simple_jobs, noop_items=args.noop_items, runs=args.runs
            )
            pipeline.measure_overhead(redis, ns, base)
            redis.flushdb()
        if "profile" in args.only and points:
            say("\n4. profile at the top point")
            (n, conc), top = max(points.items(), key=lambda kv: median(kv[1].rates))
            profile_top(site, redis, args, n, conc, median(top.rates))
    finally:
        site.stop()
        redis.flushdb()
    if points:
        say(f"\nScaling curve ({args.db}; cores = CPU seconds ÷ wall seconds, medians)")
        say(common.table(GRID_HEADERS, grid_rows(points)))
    rows = goals(points, claims, base)
    say(f"\nGoals ({args.db})")
    say(common.table(["figure", "where", "measured", "goal", "result"], rows))
    say(
        f"(total {time.monotonic() - started:.0f} s; load now {load1():.2f} on {os.cpu_count()} CPUs)"
    )
    return 0 if all(r[-1] != "FAIL" for r in rows) else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.db != "both":
        return run_one(args)
    argv = list(sys.argv[1:] if argv is None else argv)
    codes = [
        subprocess.run([sys.executable, __file__, *argv, "--db", kind]).returncode
        for kind in ("sqlite", "postgres")
    ]
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
