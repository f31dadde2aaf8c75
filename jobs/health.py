"""Is the service up? The database, Redis, live workers and the scheduler, each checked cheaply."""

from __future__ import annotations

import time
from typing import Any

import django_rq
from django.db import connection
from rq import Worker
from rq.cron_scheduler_registry import get_registry_key as cron_registry_key

WORKER_FRESH_SECONDS = 60


def _timed(check) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = check()
        ok = True
    except Exception as exc:  # a health check reports, it never raises
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _redis() -> str:
    conn = django_rq.get_connection("default")
    conn.ping()
    return "ping"


def _workers() -> dict[str, Any]:
    conn = django_rq.get_connection("default")
    workers = Worker.all(connection=conn)
    now = time.time()
    live = [
        w
        for w in workers
        if w.last_heartbeat and now - w.last_heartbeat.timestamp() < WORKER_FRESH_SECONDS
    ]
    if not live:
        raise RuntimeError("no worker has sent a heartbeat in the last minute")
    return {"count": len(live), "names": sorted(w.name for w in live)[:20]}


def _scheduler() -> dict[str, Any]:
    conn = django_rq.get_connection("default")
    # Scores are each scheduler's last heartbeat.
    fresh = conn.zcount(cron_registry_key(), time.time() - 2 * WORKER_FRESH_SECONDS, "+inf")
    if not fresh:
        raise RuntimeError("no scheduler has sent a heartbeat in the last two minutes")
    return {"count": fresh}


def check(include_scheduler: bool = True) -> dict[str, Any]:
    report: dict[str, Any] = {"database": _timed(_database), "redis": _timed(_redis)}
    if report["redis"]["ok"]:
        report["workers"] = _timed(_workers)
        if include_scheduler:
            report["scheduler"] = _timed(_scheduler)
    else:
        report["workers"] = {"ok": False, "detail": "unknown: Redis is down", "ms": 0}
    down = [name for name, part in report.items() if not part["ok"]]
    return {"ok": not down, "down": down, **report}
