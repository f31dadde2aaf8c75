"""What the job page shows, read cheaply: every function is one query (or none) whose cost does
not grow with the number of items. Counts per status come from the denormalised counters on
BatchJob; failures by cause are jobs.item_groups.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone

from jobs.models import (
    BatchJob,
    ItemStatus,
    JobItem,
    JobLogEntry,
    JobStatus,
    LogLevel,
    Priority,
    Runner,
)
from jobs.processors.registry import UnknownProcessor, get_processor

LOG_LINES_SHOWN = 200
# The per-step breakdown reads every item of a job once; a running job's is recounted at most
# this often (a finished job's once per change of its seq).
STEPS_REFRESH_SECONDS = 5
LOG_EXPORT_CHUNK = 2000
# Order of the stacked bar and its legend: finished first, then what is still to come.
STATUS_ORDER = (
    ItemStatus.SUCCEEDED,
    ItemStatus.FAILED,
    ItemStatus.CANCELLED,
    ItemStatus.SKIPPED,
    ItemStatus.PROCESSING,
    ItemStatus.QUEUED,
    ItemStatus.PENDING,
)


@dataclass(frozen=True)
class Processor:
    name: str
    label: str
    steps: tuple[str, ...]
    options: list[tuple[str, str]]  # (label, value as text)


def processor_facts(job: BatchJob) -> Processor:
    """The job's processor as people read it; a processor since removed keeps its bare name."""
    try:
        cls = get_processor(job.processor)
    except UnknownProcessor:
        cls = None
    fields = cls.options_form.base_fields if cls and cls.options_form else {}
    options = []
    for key, value in sorted((job.options or {}).items()):
        field = fields.get(key)
        label = (field.label if field and field.label else key.replace("_", " ")).capitalize()
        if isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, dict | list):
            text = json.dumps(value, ensure_ascii=False)
        else:
            text = str(value)
        options.append((label, text))
    return Processor(
        name=job.processor,
        label=(cls.label or cls.name) if cls else job.processor,
        steps=tuple(cls.steps) if cls else (),
        options=options,
    )


def status_segments(job: BatchJob) -> list[dict[str, Any]]:
    """The stacked bar: one segment per item status, x and width in percent of all items."""
    total = job.total_items or 0
    counts = job.counts
    x = 0.0
    segments = []
    for status in STATUS_ORDER:
        n = counts.get(status, 0)
        width = 100.0 * n / total if total else 0.0
        segments.append(
            {
                "status": status.value,
                "label": status.label,
                "color": ItemStatus.colors[status],
                "count": n,
                "percent": width,
                # SVG attributes: never localised, always a dot.
                "x": f"{x:.3f}",
                "width": f"{width:.3f}",
            }
        )
        x += width
    return segments


def performance(job: BatchJob) -> dict[str, Any]:
    """Sequential (Σ item time) against wall clock, from BatchJob.item_seconds, wall_seconds and
    speedup — the figures GET /api/jobs/{id} reports — plus the bar lengths for the chart."""
    wall = job.wall_seconds
    sequential = job.item_seconds or 0.0
    longest = max(sequential, wall or 0.0)
    return {
        "sequential": sequential,
        "wall": wall,
        "speedup": job.speedup,
        "saved": None if wall is None else max(sequential - wall, 0.0),
        "sequential_width": f"{100.0 * sequential / longest:.2f}" if longest else "0",
        "wall_width": f"{100.0 * (wall or 0.0) / longest:.2f}" if longest else "0",
        "throughput": job.done_items / wall if wall else None,
    }


def in_flight(job: BatchJob, processor: Processor) -> dict[str, Any]:
    """What is running now: the processing items per step (one grouped query on the
    (job, status, position) index: at most the job's concurrency rows), and the live runners'
    heartbeats with the URLs they are on."""
    if not job.count_processing and not job.is_active:
        return {"steps": [], "runners": 0, "urls": [], "unreported": 0}
    rows = (
        JobItem.objects.filter(job=job, status=ItemStatus.PROCESSING)
        .values_list("current_step")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_step = dict(rows)
    steps = [{"name": s, "count": by_step.pop(s, 0)} for s in processor.steps]
    steps += [{"name": s, "count": n} for s, n in sorted(by_step.items()) if s]
    cutoff = timezone.now() - timedelta(seconds=settings.BATCHSITE_RUNNER_STALE_SECONDS)
    runners = list(
        Runner.objects.filter(job=job, heartbeat_at__gte=cutoff).values_list(
            "current_urls", flat=True
        )
    )
    urls = [url for current in runners for url in (current or [])][:8]
    return {
        "steps": steps,
        "unreported": by_step.get("", 0),
        "runners": len(runners),
        "urls": urls,
    }


def recent_logs(job: BatchJob, n: int = LOG_LINES_SHOWN) -> list[dict[str, Any]]:
    """The last n log lines, oldest first (the (job, id) index, read backwards)."""
    entries = list(
        JobLogEntry.objects.filter(job=job)
        .only("id", "timestamp", "level", "message")
        .order_by("-id")[:n]
    )
    entries.reverse()
    return [log_line(entry) for entry in entries]


def log_line(entry: JobLogEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "timestamp": entry.timestamp,
        "level": LogLevel(entry.level).label,
        "message": entry.message,
    }


def log_text_chunks(job_id: Any) -> Iterator[str]:
    """The whole log as text, a keyset chunk at a time (no statement stays open)."""
    after = 0
    while True:
        rows = list(
            JobLogEntry.objects.filter(job_id=job_id, id__gt=after)
            .order_by("id")
            .values_list("id", "timestamp", "level", "message")[:LOG_EXPORT_CHUNK]
        )
        if not rows:
            return
        yield "".join(
            f"{ts.astimezone(UTC).isoformat(timespec='milliseconds')}  "
            f"{LogLevel(level).label.upper():<7}  {message}\n"
            for _, ts, level, message in rows
        )
        after = rows[-1][0]


def request_facts(job: BatchJob, processor: Processor) -> list[tuple[str, str]]:
    """The job's settings as (label, value) rows."""
    rows = [
        ("Priority", f"{Priority.label(job.priority)} ({job.priority})"),
        ("Concurrency", f"{job.concurrency:,}"),
        ("Timeout per attempt", _seconds(job.item_timeout)),
        ("Max attempts", str(job.max_attempts)),
    ]
    if job.per_host_limit:
        rows.append(("Per host", f"at most {job.per_host_limit:,} at once"))
    if job.host_delay:
        rows.append(("Delay per host", _seconds(job.host_delay)))
    return rows


def _seconds(value: float) -> str:
    return f"{value:g} s"


def actions(job: BatchJob) -> dict[str, bool]:
    """Which header actions apply now (the page script applies the same rules live)."""
    active = job.status in JobStatus.ACTIVE
    return {
        "cancel": active and job.status != JobStatus.CANCELLING,
        "retry": not active and job.count_failed > 0,
        "download": job.done_items > 0,
        "delete": not active,
    }


def step_breakdown(job: BatchJob) -> dict[str, dict[str, int]]:
    """Items per step they reached and status: {"fetch": {"succeeded": 2, "failed": 1}}.

    One grouped pass over the job's items (no index can answer it: 1M items cost a second), so
    the answer is kept in the cache under the job's seq: reused for as long as the job does not
    change, and while it runs (its seq moves with every flush) for STEPS_REFRESH_SECONDS."""
    key = f"job-steps:{job.pk}"
    now = timezone.now().timestamp()
    kept = cache.get(key)
    if kept and (
        kept["seq"] == job.seq
        or (kept["active"] and job.is_active and now - kept["at"] < STEPS_REFRESH_SECONDS)
    ):
        return kept["steps"]
    rows = job.items.values_list("current_step", "status").annotate(n=Count("id")).order_by()
    steps: dict[str, dict[str, int]] = {}
    for step, status, n in rows:
        steps.setdefault(step or "not started", {})[status] = n
    kept = {"seq": job.seq, "active": job.is_active, "at": now, "steps": steps}
    cache.set(key, kept, timeout=3600)
    return steps
