"""First paint of the Dashboard and the Jobs page with 100,000 jobs, and the JS/CSS they ship.

    .venv/bin/python bench/pages_dashboard.py [--db sqlite|postgres] [--runs 15] [--reuse]

Seeds 100,000 jobs (90% the bench user's, with bench/api_jobs.py's seed) and one finished job of
100,000 items (what the p50 sample reads), then:

1. Server time: `GET /` and `GET /jobs` through Django's test client (the whole stack but the
   socket), as the bench user and as staff (who see every job). Baseline in the same run: the
   same layout with nothing to compute (`GET /jobs/new`), so the ratio is what the page's own
   figures cost on top of the layout.
2. The naive way for the two item figures (success rate and p50 over every item of the last 24 h,
   one aggregate and one full read of durations): what jobs.kpis avoids.
3. In Chromium, against daphne: time to first byte, first contentful paint and load, each from a
   cold context (nothing cached), medians over --runs navigations; and the bytes of JS and CSS each
   page loads (as served, and gzip-compressed as a collectstatic deployment serves them).

Own state only: SQLite at var/bench/pages.sqlite3, PostgreSQL database bench_pages, Redis DB 10
(flushed at start and end).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.common import say

SQLITE_PATH = common.BENCH_VAR / "pages.sqlite3"
PG_URL = "postgres://postgres@127.0.0.1:5432/bench_pages"
PAGES = {"dashboard": "/", "jobs": "/jobs", "layout only (baseline)": "/jobs/new"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=100_000, help="items of the one big job")
    parser.add_argument("--runs", type=int, default=15, help="timed requests/navigations each")
    parser.add_argument("--reuse", action="store_true", help="keep an existing seeded database")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/10")
    return parser.parse_args(argv)


def database_url(kind: str, reuse: bool) -> str:
    if kind == "postgres":
        common._create_postgres_database("bench_pages")
        return PG_URL
    common.BENCH_VAR.mkdir(parents=True, exist_ok=True)
    if not reuse:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{SQLITE_PATH}{suffix}").unlink()
    return f"sqlite:///{SQLITE_PATH}"


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:,.1f}"


# --- 1 and 2: server time ---------------------------------------------------------------------


def server_times(user, runs: int) -> dict[str, list[float]]:
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    times: dict[str, list[float]] = {}
    for name, path in PAGES.items():
        assert client.get(path).status_code == 200  # warm: imports, templates, connection
        times[name] = []
        for _ in range(runs):
            t0 = time.perf_counter()
            response = client.get(path)
            times[name].append(time.perf_counter() - t0)
            assert response.status_code == 200, (path, response.status_code)
    return times


def naive_item_figures(user) -> float:
    """Success rate and p50 over every item that finished in the last 24 h (the scan kpis avoids)."""
    from datetime import timedelta

    from django.db.models import Count, Q
    from django.utils import timezone

    from jobs.access import jobs_for
    from jobs.models import JobItem

    t0 = time.perf_counter()
    since = timezone.now() - timedelta(hours=24)
    items = JobItem.objects.filter(job__in=jobs_for(user), finished_at__gte=since)
    items.aggregate(
        ok=Count("id", filter=Q(status="succeeded")), bad=Count("id", filter=Q(status="failed"))
    )
    durations = list(items.exclude(duration=None).values_list("duration", flat=True))
    statistics.median(durations or [0.0])
    return time.perf_counter() - t0


# --- 3: Chromium -------------------------------------------------------------------------------


def start_daphne(port: int) -> subprocess.Popen:
    log = open(common.BENCH_VAR / "pages-daphne.log", "wb")  # noqa: SIM115 (the process owns it)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "batchsite.asgi:application",
        ],
        cwd=common.ROOT,
        env=os.environ.copy(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    from tests.events.conftest import wait_for_port

    wait_for_port(port, proc)
    return proc


MEASURE = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const fcp = performance.getEntriesByName("first-contentful-paint")[0];
  const assets = {js: 0, css: 0};
  for (const r of performance.getEntriesByType("resource")) {
    const path = new URL(r.name).pathname;
    if (path.endsWith(".js")) assets.js += r.decodedBodySize;
    if (path.endsWith(".css")) assets.css += r.decodedBodySize;
  }
  return {ttfb: nav.responseStart - nav.requestStart, fcp: fcp ? fcp.startTime : null,
          load: nav.loadEventEnd - nav.startTime, html: nav.decodedBodySize, assets,
          files: performance.getEntriesByType("resource").map((r) => new URL(r.name).pathname)
            .filter((p) => p.endsWith(".js") || p.endsWith(".css"))};
}"""


def gzip_bytes(paths: list[str]) -> int:
    from django.contrib.staticfiles import finders

    total = 0
    for path in set(paths):
        found = finders.find(path.removeprefix("/static/"))
        if found:
            total += len(gzip.compress(Path(found).read_bytes(), 9))
    return total


def browser_times(user, runs: int) -> dict[str, dict]:
    from django.conf import settings
    from django.test import Client
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM_ARGS, chromium_path
    from tests.events.conftest import free_port

    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    port = free_port()
    daphne = start_daphne(port)
    server = f"http://127.0.0.1:{port}"
    results: dict[str, dict] = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS
            )
            for name, path in PAGES.items():
                samples = []
                for i in range(runs + 1):
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    context.add_cookies(
                        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": server}]
                    )
                    page = context.new_page()
                    page.goto(f"{server}{path}", wait_until="load")
                    sample = page.evaluate(MEASURE)
                    context.close()
                    if i:  # the first one warms daphne
                        samples.append(sample)
                last = samples[-1]
                results[name] = {
                    "ttfb": statistics.median(s["ttfb"] for s in samples),
                    "fcp": statistics.median(s["fcp"] for s in samples if s["fcp"] is not None),
                    "load": statistics.median(s["load"] for s in samples),
                    "html": last["html"],
                    "js": last["assets"]["js"],
                    "css": last["assets"]["css"],
                    "gzip": gzip_bytes(last["files"]),
                    "files": sorted(last["files"]),
                }
            browser.close()
    finally:
        daphne.terminate()
        daphne.wait(timeout=10)
    return results


# --- the run -----------------------------------------------------------------------------------


def seed(args) -> None:
    from bench import api_jobs

    api_jobs.seed(SimpleNamespace(jobs=args.jobs, items=args.items, reuse=args.reuse))


def report(args, server: dict, staff_server: dict, naive: float, browser: dict) -> None:
    base = statistics.median(server["layout only (baseline)"])
    say("\nServer time (Django test client, median ms; ratio = page ÷ layout-only baseline)")
    rows = []
    for name in PAGES:
        rows.append(
            [
                name,
                ms(server[name]),
                f"{statistics.median(server[name]) / base:.2f}",
                ms(staff_server[name]),
            ]
        )
    say(common.table(["page", "bench user", "ratio", "staff (all jobs)"], rows))
    kpi = statistics.median(server["dashboard"]) - base
    say(
        f"\nNaive item figures (success rate + p50 over every item of 24 h): {naive * 1000:,.1f} ms"
        f" vs the whole dashboard's own work {kpi * 1000:,.1f} ms"
    )
    say("\nChromium, cold context, median ms; bytes as served (gzip -9 in brackets)")
    rows = [
        [
            name,
            f"{r['ttfb']:,.1f}",
            f"{r['fcp']:,.1f}",
            f"{r['load']:,.1f}",
            f"{r['html']:,}",
            f"{r['js']:,}",
            f"{r['css']:,}",
            f"({r['gzip']:,})",
        ]
        for name, r in browser.items()
    ]
    say(common.table(["page", "TTFB", "FCP", "load", "HTML", "JS", "CSS", "JS+CSS gzip"], rows))
    for name, r in browser.items():
        say(f"  {name}: {', '.join(r['files'])}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    common.configure_environment(
        database_url=database_url(args.db, args.reuse), redis_url=args.redis_url
    )
    os.environ["DJANGO_ALLOWED_HOSTS"] = "localhost,127.0.0.1"
    import redis

    conn = redis.Redis.from_url(args.redis_url)
    conn.flushdb()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    say(
        f"Pages benchmark, {args.db} ({urlsplit(os.environ['DATABASE_URL']).path}); load average {load} on {os.cpu_count()} CPUs"
    )
    common.manage("migrate", "--no-input", "-v", "0")
    try:
        import django

        django.setup()
        from django.contrib.auth import get_user_model

        seed(args)
        users = get_user_model().objects
        owner = users.get(username="bench")
        staff, _ = users.get_or_create(username="bench-staff", defaults={"is_staff": True})
        server = server_times(owner, args.runs)
        staff_server = server_times(staff, args.runs)
        naive = statistics.median(naive_item_figures(owner) for _ in range(3))
        browser = browser_times(owner, args.runs)
        report(args, server, staff_server, naive, browser)
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        say(f"\nload average at the end: {load}")
    finally:
        conn.flushdb()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
