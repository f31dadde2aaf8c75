"""The job page at scale (issue 7, Measure): first paint of /jobs/<id> for a 100,000-item job
against a job 100× smaller (the same full page: 50 rows, 200 log lines) in the same run, the
bytes of JS and CSS the page ships, and how many live events per second the page handles without
falling behind. Figures for a closing note, not a test.

    .venv/bin/python bench/pages_job.py [--items 100000] [--loads 9] [--rates 10,25,50,100,200,400]
                                    [--seconds 5] [--profile]

1. server time: GET /jobs/<id> through Django's test client (the whole stack, session login),
   median of --loads after two warm-ups, with its query count; ratio = big job ÷ small job.
2. Chromium: the same page from a real daphne in headless Chromium (Debian's), median of --loads
   navigations: response end, DOMContentLoaded, load, and the moment the connection indicator says
   Live (the socket open and subscribed); the JS and CSS bytes the page loads (as served, and
   gzipped as a compressing proxy would send them).
3. events: the big job's page open in Chromium while this process publishes synthetic events
   through jobs.events.send (as the runner does) at rising rates, --seconds each: per tick one
   job_status_update (the counts move), one job_log_entry and one item_update of the 50 rows in
   view. Sampled every 50 ms: how far the page's "items finished" figure lags the last state
   published. A rate is kept up with when the p95 lag stays under 500 ms, the page shows the last
   state within 1 s of the stage's end and every log line arrived. Baseline: what the product
   sends per running job — at most 4 job_status_updates and 4 item_updates a second plus the log
   lines of each flush (events.status_interval, BATCHSITE_FLUSH_SECONDS), about 12 events/s.

Own state only: SQLite at var/bench/pages_job.sqlite3, Redis DB 9 (flushed at start and end), this
run's own pub/sub channel prefix; daphne's log in var/bench/events-daphne-pages.log.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import logging
import os
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.common import say

PRODUCT_EVENTS_PER_SECOND = 12  # see the module docstring
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu"]
LOG_LINES_KEPT = 2000  # as in static/js/pages/job_log.js
ARGS: argparse.Namespace


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--loads", type=int, default=9)
    parser.add_argument("--rates", default="10,25,50,100,200,400", help="ticks per second")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument(
        "--profile", action="store_true", help="print the page's busiest functions per rate"
    )
    return parser.parse_args(argv)


def setup_django(args) -> None:
    path = common.BENCH_VAR / "pages_job.sqlite3"
    common.BENCH_VAR.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    common.configure_environment(database_url=f"sqlite:///{path}", redis_url=args.redis_url)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="bench.events_settings", BENCH_CHANNEL_PREFIX=f"pagesb{os.getpid()}"
    )
    common.manage("migrate", "--no-input", "-v", "0")
    import django

    django.setup()


# --- seeding: a job part-way through, as the page sees one --------------------------------------


def seed_job(owner, items: int, name: str):
    """A running job of `items` URLs: 60 % succeeded, 4 % failed over four causes, 2,000 log
    lines; counters exact (recount)."""
    from datetime import timedelta

    from django.utils import timezone

    from jobs.models import BatchJob, ItemStatus, JobItem, JobLogEntry, JobStatus
    from jobs.services import submit_batch

    urls = [f"https://host{i % 50}.example/page/{i}" for i in range(items)]
    job = submit_batch(owner, urls=urls, name=name, processor="http_check").job
    now = timezone.now()
    done = int(items * 0.60)
    JobItem.objects.filter(job=job, position__lt=done).update(
        status=ItemStatus.SUCCEEDED, duration=0.8, finished_at=now, attempts=1, http_status=200
    )
    causes = [
        ("HTTP_ERROR", 503),
        ("TIMEOUT", None),
        ("CONNECTION_ERROR", None),
        ("DNS_ERROR", None),
    ]
    step = max(1, int(items * 0.01))
    for n, (code, http) in enumerate(causes):
        low = done + n * step
        JobItem.objects.filter(job=job, position__gte=low, position__lt=low + step).update(
            status=ItemStatus.FAILED,
            error_code=code,
            error=f"{code} (seeded)",
            http_status=http,
            duration=2.0,
            finished_at=now,
            attempts=3,
        )
    JobLogEntry.objects.bulk_create(
        JobLogEntry(job=job, level=20, message=f"seeded line {i}", seq=job.seq) for i in range(2000)
    )
    job.refresh_from_db()
    job.recount()
    BatchJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, started_at=now - timedelta(minutes=5), item_seconds=done * 0.8
    )
    job.refresh_from_db()
    return job


# --- 1. server time ---------------------------------------------------------------------------


def server_time(client, job, loads: int) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = f"/jobs/{job.pk}"
    for _ in range(2):
        assert client.get(url).status_code == 200
    times = []
    for _ in range(loads):
        t0 = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return statistics.median(times), len(queries)


# --- 2. Chromium -------------------------------------------------------------------------------

NAVIGATION = """() => {
  const n = performance.getEntriesByType("navigation")[0];
  return {response: n.responseEnd, dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd};
}"""


def browser_loads(context, server: str, job, loads: int) -> dict[str, float]:
    from playwright.sync_api import expect

    rows = []
    for _ in range(loads + 1):
        page = context.new_page()
        t0 = time.perf_counter()
        page.goto(f"{server}/jobs/{job.pk}", wait_until="load")
        expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=20_000)
        live = (time.perf_counter() - t0) * 1000
        timing = page.evaluate(NAVIGATION)
        rows.append({**timing, "live": live})
        page.close()
    rows = rows[1:]  # the first warms the static files' cache in daphne
    return {key: statistics.median(r[key] for r in rows) for key in rows[0]}


def shipped_bytes(context, server: str, job) -> dict[str, tuple[int, int]]:
    """JS and CSS the page loads: bytes as served and gzipped, by kind."""
    page = context.new_page()
    bodies: dict[str, list[bytes]] = {"script": [], "stylesheet": []}
    page.on(
        "response",
        lambda r: r.request.resource_type in bodies and bodies[r.request.resource_type].append(r),
    )
    page.goto(f"{server}/jobs/{job.pk}", wait_until="networkidle")
    result = {}
    for kind, responses in bodies.items():
        raw = [r.body() for r in responses]
        result[kind] = (sum(map(len, raw)), sum(len(gzip.compress(b, 9)) for b in raw), len(raw))
    page.close()
    return result


# --- 3. events per second ----------------------------------------------------------------------


class Publisher:
    """Synthetic events about one job, through jobs.events.send, from a thread of its own."""

    def __init__(self, job, item_ids: list[int]) -> None:
        from jobs import events

        self.events, self.job, self.item_ids = events, job, item_ids
        self.routing = events.routing(job)
        self.done = job.done_items
        self.log_id = 10_000_000
        self.sent_at: dict[int, float] = {}  # done figure → when its state was published (wall)
        self.logs_sent = 0

    async def tick(self) -> None:
        job, events = self.job, self.events
        job.seq += 1
        self.done += 1
        job.count_succeeded += 1
        job.count_queued -= 1
        job.progress = 100.0 * self.done / job.total_items
        self.log_id += 1
        status = events.status_event(job)
        line = {
            "event": "job_log_entry",
            "job_id": str(job.pk),
            "seq": job.seq,
            "id": self.log_id,
            "timestamp": status["updated_at"],
            "level": "info",
            "message": f"bench line {self.log_id}",
            "item": None,
        }
        items = [
            {
                "id": i,
                "status": "succeeded",
                "step": "fetch",
                "http_status": 200,
                "error_code": "",
                "duration": 0.5 + (job.seq % 7) / 10,
                "attempts": 1,
            }
            for i in self.item_ids
        ]
        self.sent_at[self.done] = time.time()
        await events.send(self.routing, [line, events.item_event(job.pk, job.seq, items), status])
        self.logs_sent += 1

    def start(self) -> None:
        """One event loop for every stage, in a thread of its own (Playwright's runs in the main
        thread), so the layer's connection is made once, before anything is timed."""
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.run(2, 1.0)  # warm-up: connect, and let the page settle

    def run(self, rate: float, seconds: float) -> None:
        async def stage() -> None:
            interval, next_at = 1.0 / rate, time.monotonic()
            end = next_at + seconds
            while next_at < end:
                await self.tick()
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))

        asyncio.run_coroutine_threadsafe(stage(), self.loop).result()


def shown_done(page) -> int:
    return int(page.locator("[data-done]").inner_text().replace(",", ""))


# Installed in the page (through the DevTools protocol, which the page's CSP does not govern):
# every change of the "items finished" figure, with the wall-clock time it was made.
WATCH = """() => {
  const el = document.querySelector("[data-done]");
  window.__seen = [];
  window.__busy = 0;
  if (!window.__longtasks) {
    window.__longtasks = new PerformanceObserver((list) => {
      for (const task of list.getEntries()) window.__busy += task.duration;
    });
    window.__longtasks.observe({type: "longtask"});
  }
  new MutationObserver(() => window.__seen.push([Date.now(), Number(el.textContent.replace(/,/g, ""))]))
    .observe(el, {childList: true, characterData: true, subtree: true});
}"""


class Profiler:
    """The page's JavaScript self time per function while a stage runs (--profile)."""

    def __init__(self, page, on: bool) -> None:
        self.cdp = page.context.new_cdp_session(page) if on else None
        if self.cdp:
            self.cdp.send("Profiler.enable")
            self.cdp.send("Profiler.start")

    def report(self) -> None:
        if not self.cdp:
            return
        profile = self.cdp.send("Profiler.stop")["profile"]
        nodes = {n["id"]: n["callFrame"] for n in profile["nodes"]}
        self_ms: Counter[str] = Counter()
        for sample, delta in zip(profile["samples"], profile["timeDeltas"], strict=False):
            frame = nodes[sample]
            where = f"{frame['url'].rsplit('/', 1)[-1]}:{frame['lineNumber'] + 1}"
            self_ms[f"{frame['functionName'] or '(anonymous)'} {where}"] += delta / 1000
        for name, ms in self_ms.most_common(12):
            say(f"  {ms:8.0f} ms  {name}")


def lags_ms(seen: list, publisher: Publisher, first: int, last: int) -> list[float]:
    """Per state published: from its publication to the first DOM change that shows it."""
    lags, i = [], 0
    for done in range(first, last + 1):
        while i < len(seen) and seen[i][1] < done:
            i += 1
        shown_at = seen[i][0] / 1000 if i < len(seen) else float("inf")
        lags.append((shown_at - publisher.sent_at[done]) * 1000)
    return lags


def events_stage(page, publisher: Publisher, rate: float, seconds: float, profile: bool) -> dict:
    logs_before = page.locator("[data-log] .log__line").count()
    sent_before, first = publisher.logs_sent, publisher.done + 1
    page.evaluate(WATCH)
    profiler = Profiler(page, profile)
    publisher.run(rate, seconds)
    profiler.report()
    end, target = time.time(), publisher.done
    while shown_done(page) < target and time.time() - end < 5:
        time.sleep(0.02)
    time.sleep(0.3)
    lags = lags_ms(page.evaluate("window.__seen"), publisher, first, target)
    p95 = statistics.quantiles(lags, n=20)[18] if len(lags) >= 20 else max(lags, default=0.0)
    catch_up = max(0.0, lags[-1]) if lags else 0.0
    logs_now = page.locator("[data-log] .log__line").count()
    lines_ok = logs_now == min(LOG_LINES_KEPT, logs_before + publisher.logs_sent - sent_before)
    return {
        "events/s": f"{rate * 3:,.0f}",
        "p95 lag": f"{p95:.0f} ms",
        "catch-up": f"{catch_up:.0f} ms",
        "page busy": f"{page.evaluate('window.__busy') / (seconds * 1000):.0%}",
        "every log line": "yes" if lines_ok else "NO",
        "kept up": "yes" if p95 < 500 and catch_up < 1000 and lines_ok else "no",
    }


# --- main ---------------------------------------------------------------------------------------


def report_server(client, jobs) -> None:
    say("\n1. first paint, server time (Django test client, median)")
    server = {job.total_items: server_time(client, job, ARGS.loads) for job in jobs}
    rows = [[f"{n:,} items", f"{ms:.1f} ms", str(q)] for n, (ms, q) in server.items()]
    say(common.table(["job", "server time", "queries"], rows))
    small, big = (server[job.total_items][0] for job in jobs)
    say(f"ratio big ÷ small: {big / small:.2f}×")


def report_browser(context, base: str, jobs) -> None:
    say("\n2. first paint in Chromium (real daphne, median; ms from navigation start)")
    loads = {job.total_items: browser_loads(context, base, job, ARGS.loads) for job in jobs}
    rows = [
        [f"{n:,} items", *(f"{t[k]:.0f}" for k in ("response", "dcl", "load", "live"))]
        for n, t in loads.items()
    ]
    say(common.table(["job", "response end", "DOMContentLoaded", "load", "Live"], rows))
    small, big = (loads[job.total_items]["load"] for job in jobs)
    say(f"ratio big ÷ small (load): {big / small:.2f}×")
    for kind, (raw, gz, n) in shipped_bytes(context, base, jobs[-1]).items():
        say(f"{kind}: {n} files, {raw / 1024:.1f} KiB as served, {gz / 1024:.1f} KiB gzipped")


def report_events(context, base: str, job, item_ids: list[int]) -> None:
    say(f"\n3. live events on the {job.total_items:,}-item job's page ({ARGS.seconds:g} s a rate)")
    page = context.new_page()
    page.goto(f"{base}/jobs/{job.pk}")
    page.wait_for_selector("#conn[data-state=live]")
    publisher = Publisher(job, item_ids)
    publisher.start()
    rows, best = [], 0.0
    for rate in [float(r) for r in ARGS.rates.split(",")]:
        row = events_stage(page, publisher, rate, ARGS.seconds, ARGS.profile)
        rows.append(list(row.values()))
        if row["kept up"] != "yes":
            break
        best = rate * 3
    say(common.table(list(row), rows))
    say(
        f"kept up with {best:,.0f} events/s = {best / PRODUCT_EVENTS_PER_SECOND:.0f}× what the "
        f"product sends per running job (~{PRODUCT_EVENTS_PER_SECOND}/s)"
    )


def main(argv=None) -> int:
    global ARGS
    ARGS = parse_args(argv)
    setup_django(ARGS)
    import django_rq
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from playwright.sync_api import sync_playwright

    from bench.events import Daphne
    from jobs.models import JobItem

    redis = django_rq.get_connection("default")
    redis.flushdb()
    say(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    logging.getLogger("axes").setLevel(logging.WARNING)
    owner = get_user_model().objects.create_user("bench-pages", password="x")
    t0 = time.perf_counter()
    small = max(10, ARGS.items // 100)
    jobs = [seed_job(owner, small, "bench: small"), seed_job(owner, ARGS.items, "bench: big")]
    say(f"seeded {small:,} + {ARGS.items:,} items in {time.perf_counter() - t0:.1f} s")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(owner)
    report_server(client, jobs)
    # The rows in view on the big job's page (read now: Playwright's loop owns the thread later).
    item_ids = list(
        JobItem.objects.filter(job=jobs[-1]).order_by("position").values_list("id", flat=True)[:50]
    )
    daphne = Daphne("batchsite.asgi:application", "pubsub", "pages")
    base = f"http://127.0.0.1:{daphne.port}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            cookie = {"name": settings.SESSION_COOKIE_NAME, "url": base}
            context.add_cookies([{**cookie, "value": client.cookies[cookie["name"]].value}])
            report_browser(context, base, jobs)
            report_events(context, base, jobs[-1], item_ids)
            browser.close()
    finally:
        daphne.stop()
        redis.flushdb()
    say(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
