"""What metrics cost the hot paths: a runner's per-flush `metrics.items_flushed` (500 outcomes)
against one Redis PING (the round trip it cannot beat), and a page request with the timing
middleware against the same request without it. Not a test: prints medians and ratios.

    .venv/bin/python -m bench.observability [--redis-url redis://127.0.0.1:6379/12] [--runs 300]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from bench import common


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--runs", type=int, default=300)
    return parser.parse_args(argv)


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    common.configure_environment(
        database_url=f"sqlite:///{common.BENCH_VAR / 'observability.sqlite3'}",
        redis_url=args.redis_url,
    )
    common.prepare_database("sqlite", "observability")
    import django

    django.setup()
    import django_rq
    from django.conf import settings
    from django.test import Client, override_settings

    from jobs import metrics
    from jobs.store import Outcome

    conn = django_rq.get_connection("default")
    now = datetime.now(UTC)
    outcomes = [
        Outcome(i, "failed" if i % 10 == 0 else "succeeded", "fetch", 100.0, 1, None, "", "",
                200, now - timedelta(seconds=1), now - timedelta(milliseconds=i), 0.1)
        for i in range(500)
    ]  # fmt: skip
    ping = [timed(conn.ping) for _ in range(args.runs)]
    flushed = [
        timed(lambda: metrics.items_flushed("http_check", outcomes)) for _ in range(args.runs)
    ]
    common.say(
        f"items_flushed(500 outcomes): median {common.median(flushed) * 1e3:.2f} ms; "
        f"Redis PING {common.median(ping) * 1e3:.2f} ms; ratio {common.median(flushed) / common.median(ping):.1f}x"
    )

    without = [m for m in settings.MIDDLEWARE if m != "jobs.metrics.RequestTimingMiddleware"]
    client = Client(HTTP_HOST="127.0.0.1")
    assert client.get("/accounts/login/").status_code == 200
    with_mw, without_mw = [], []
    for _ in range(args.runs):  # interleaved, so machine noise falls on both alike
        with_mw.append(timed(lambda: client.get("/accounts/login/")))
        with override_settings(MIDDLEWARE=without):
            without_mw.append(timed(lambda: client.get("/accounts/login/")))
    a, b = common.median(with_mw), common.median(without_mw)
    common.say(
        f"GET /accounts/login/: median {a * 1e3:.2f} ms with the timing middleware, "
        f"{b * 1e3:.2f} ms without; ratio {a / b:.3f} (+{(a - b) * 1e3:.2f} ms)"
    )
    for key in conn.scan_iter(f"{metrics.PREFIX}*"):
        conn.delete(key)


if __name__ == "__main__":
    main()
