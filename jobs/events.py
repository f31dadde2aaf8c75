"""The one publisher of live events (Channels, pub/sub layer).

Every change a client can see is published here, after the database commit, carrying the job's
`seq` (clients drop anything not newer than what they showed). Progress is coalesced by the
publishers: the chunk runner publishes a job's state at most every `status_interval()` seconds,
and item changes as one `item_update` per flush.

Channel-layer messages are ``{"type": "batch.event", "event": <payload>, "job": <routing facts>,
"group": <the group it was sent to>}`` (a daphne process hears each group once and hands the
message to its sockets in that group: jobs.fanout); consumers only check who may see them, apply
subscription filters and forward `event` as JSON.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from jobs import redis_client
from jobs.models import (
    COUNT_FIELDS,
    BatchJob,
    ItemStatus,
    JobLogEntry,
    JobStatus,
    LogLevel,
    Priority,
)

log = logging.getLogger(__name__)

STAFF_GROUP = "jobs.staff"
STAFF_QUEUES_GROUP = "queues.staff"
MESSAGE_TYPE = "batch.event"
# The status fields a job_status_update carries (see DESIGN.md Contracts).
FINAL_EVENTS = {
    JobStatus.COMPLETED: "job_completed",
    JobStatus.COMPLETED_WITH_ERRORS: "job_completed",
    JobStatus.CANCELLED: "job_completed",
    JobStatus.FAILED: "job_failed",
}


def job_group(job_id: Any) -> str:
    return f"job.{job_id}"


def owner_group(user_id: Any) -> str:
    return f"owner.{user_id}"


def queues_group(user) -> str:
    """Where a user hears queue_updated: figures of their own jobs, or of everyone's for staff."""
    return STAFF_QUEUES_GROUP if user.is_staff else f"queues.owner.{user.pk}"


def groups_for(job_id: Any, owner_id: Any) -> tuple[str, ...]:
    return (job_group(job_id), owner_group(owner_id), STAFF_GROUP)


def routing(job: BatchJob | dict) -> dict[str, Any]:
    """What consumers need to route and filter an event without a query."""
    get = job.get if isinstance(job, dict) else lambda k: getattr(job, k)
    return {
        "id": str(get("id")),
        "owner_id": get("owner_id"),
        "status": get("status"),
        "priority": get("priority"),
        "processor": get("processor"),
    }


# --- payloads -------------------------------------------------------------------------------


def _iso(value) -> str | None:
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def status_event(job: BatchJob, *, event: str = "job_status_update") -> dict[str, Any]:
    eta = job.estimated_time_remaining
    return {
        "event": event,
        "job_id": str(job.id),
        "seq": job.seq,
        "status": job.status,
        "overall_progress": round(job.progress, 2),
        "counts": job.counts,
        "total_items": job.total_items,
        "current_step": job.current_step,
        "estimated_time_remaining": None if eta is None else round(eta, 1),
        "updated_at": _iso(job.updated_at),
        "finished_at": _iso(job.finished_at),
    }


def log_event(entry: JobLogEntry, seq: int) -> dict[str, Any]:
    return {
        "event": "job_log_entry",
        "job_id": str(entry.job_id),
        "seq": seq,
        "id": entry.id,
        "timestamp": _iso(entry.timestamp),
        "level": LogLevel(entry.level).label,
        "message": entry.message,
        "item": entry.item_id,
    }


def item_event(job_id: Any, seq: int, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"event": "item_update", "job_id": str(job_id), "seq": seq, "items": list(items)}


def alert_event(alert, seq: int) -> dict[str, Any]:
    """An alert about the job (jobs.alerts): `user_id` is whose it is (staff see every job's)."""
    return {
        "event": "alert",
        "job_id": str(alert.job_id),
        "seq": seq,
        "id": alert.id,
        "kind": alert.kind,
        "title": alert.title,
        "message": alert.message,
        "user_id": alert.user_id,
        "created_at": _iso(alert.created_at),
    }


# --- sending --------------------------------------------------------------------------------


def _messages(job: dict[str, Any], payloads: Iterable[dict[str, Any]]):
    for payload in payloads:
        yield {"type": MESSAGE_TYPE, "event": payload, "job": job}


async def send(job: dict[str, Any], payloads: Iterable[dict[str, Any]]) -> None:
    """Publish payloads about one job to everyone who may see it (async callers: the runner)."""
    layer = get_channel_layer()
    if layer is None:
        return
    groups = groups_for(job["id"], job["owner_id"])
    try:
        for message in _messages(job, payloads):
            for group in groups:  # named, for the process's shared subscription (jobs.fanout)
                await layer.group_send(group, {**message, "group": group})
    except Exception as exc:  # live events are best effort: the DB already has the state
        log.warning("Could not publish events for job %s: %s", job["id"], exc)


def send_sync(job: dict[str, Any], payloads: Iterable[dict[str, Any]]) -> None:
    """Publish from synchronous code. A thread that already runs an event loop (a sync caller
    inside an async framework, Playwright's sync API in the browser tests) cannot block on
    async_to_sync, so the publish runs on a short-lived thread of its own instead of being lost."""
    payloads = list(payloads)
    _run(send, job, payloads)


def _run(coroutine_function, *args) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        async_to_sync(coroutine_function)(*args)
        return
    thread = threading.Thread(
        target=async_to_sync(coroutine_function), args=args, name="batchsite-publish"
    )
    thread.start()
    thread.join()


def publish_job(job: BatchJob, *, with_logs_after_seq: int | None = None) -> None:
    """After the current transaction commits: the job's state (and final event when it ended)."""
    job_id = job.pk

    def _send() -> None:
        fresh = BatchJob.objects.filter(pk=job_id).first()
        if fresh is None:
            return
        send_sync(routing(fresh), job_payloads(fresh, logs_after_seq=with_logs_after_seq))

    transaction.on_commit(_send, robust=True)


def job_payloads(job: BatchJob, *, logs_after_seq: int | None = None) -> list[dict[str, Any]]:
    payloads = []
    if logs_after_seq is not None:
        entries = job.log_entries.filter(seq__gt=logs_after_seq).order_by("id")[:100]
        payloads += [log_event(entry, entry.seq) for entry in entries]
    payloads.append(status_event(job))
    if job.status in FINAL_EVENTS:
        payloads.append(status_event(job, event=FINAL_EVENTS[job.status]))
    return payloads


SUBSCRIBERS_KEY = "batchsite:subscribers:{job_id}"
ALL_SUBSCRIBERS_KEY = "batchsite:subscribers:all"


def subscriber_count(job_id: Any) -> int:
    """Sockets watching this job, directly or through "all jobs" (kept by the consumers)."""
    try:
        values = redis_client.shared().mget(
            SUBSCRIBERS_KEY.format(job_id=job_id), ALL_SUBSCRIBERS_KEY
        )
    except Exception:  # no Redis: the default interval
        return 0
    return sum(max(0, int(v)) for v in values if v is not None)


def status_interval(subscribers: int = 0) -> float:
    """Seconds between two job_status_updates of one job: a few per second, slower when many
    sockets watch it, so one job's fan-out stays within a daphne process's budget (socket
    messages per second), but never slower than BATCHSITE_EVENT_MAX_INTERVAL, so every socket
    still gets the latest state well within 2 s. (Past budget × max interval sockets on one
    job, 12,000 by default, the budget gives way: spread them over more daphne processes.)"""
    base = settings.BATCHSITE_EVENT_INTERVAL
    budget = settings.BATCHSITE_EVENT_FANOUT_BUDGET
    if subscribers <= 0:
        return base
    return min(settings.BATCHSITE_EVENT_MAX_INTERVAL, max(base, subscribers / budget))


# --- queue_updated --------------------------------------------------------------------------

QUEUE_SEQ_KEY = "batchsite:queues:seq"
_DONE = [COUNT_FIELDS[s] for s in ItemStatus.TERMINAL]
_WAITING = [COUNT_FIELDS[ItemStatus.PENDING], COUNT_FIELDS[ItemStatus.QUEUED]]


def queue_figures(owner_ids: Iterable[Any] = ()) -> dict[Any, list[dict[str, Any]]]:
    """Per RQ queue (urgent, high, default, low), items of the active jobs: `pending` (waiting
    for a worker), `processing` and `completed` (done, whatever the outcome), and `jobs`. Keyed
    by owner id (every owner with an active job, and each of `owner_ids` even with none) and
    None (everyone's, for staff). One aggregate over the active jobs' counters."""
    from django.db.models import Count, Sum

    sums = {f: Sum(f) for f in {*_DONE, *_WAITING, COUNT_FIELDS[ItemStatus.PROCESSING]}}
    rows = (
        BatchJob.objects.filter(status__in=JobStatus.ACTIVE)
        .values("owner_id", "priority")
        .annotate(jobs=Count("id"), **sums)
        .order_by()
    )
    blank = {
        name: {"pending": 0, "processing": 0, "completed": 0, "jobs": 0}
        for name in settings.JOB_QUEUES
    }
    figures: dict[Any, dict[str, dict[str, int]]]
    figures = {key: {n: dict(v) for n, v in blank.items()} for key in [None, *owner_ids]}
    for row in rows:
        name = Priority.queue_for(row["priority"])
        add = {
            "pending": sum(row[f] or 0 for f in _WAITING),
            "processing": row[COUNT_FIELDS[ItemStatus.PROCESSING]] or 0,
            "completed": sum(row[f] or 0 for f in _DONE),
            "jobs": row["jobs"],
        }
        owner = figures.setdefault(row["owner_id"], {n: dict(v) for n, v in blank.items()})
        for target in (figures[None][name], owner[name]):
            for field, value in add.items():
                target[field] += value
    return {
        key: [{"name": name, **per_queue[name]} for name in settings.JOB_QUEUES]
        for key, per_queue in figures.items()
    }


def queue_event(queues: list[dict[str, Any]], seq: int) -> dict[str, Any]:
    return {"event": "queue_updated", "seq": seq, "queues": queues}


def publish_queues(owner_ids: Iterable[Any] = ()) -> int:
    """queue_updated to staff (everyone's figures) and to each owner with an active job or in
    `owner_ids` (their own jobs' figures); returns how many groups it was sent to. Called by the
    periodic sampler (jobs.cron) and, after commit, when a job is enqueued or ends."""
    layer = get_channel_layer()
    if layer is None:
        return 0
    figures = queue_figures(owner_ids)
    try:
        seq = int(redis_client.shared().incr(QUEUE_SEQ_KEY))
    except Exception as exc:  # no Redis: no live events either
        log.warning("Could not publish queue_updated: %s", exc)
        return 0
    messages = {}
    for owner_id, queues in figures.items():
        group = STAFF_QUEUES_GROUP if owner_id is None else f"queues.owner.{owner_id}"
        event = queue_event(queues, seq)
        messages[group] = {"type": MESSAGE_TYPE, "event": event, "job": None, "group": group}

    async def _send() -> None:
        for group, message in messages.items():
            await layer.group_send(group, message)

    try:
        _run(_send)
    except Exception as exc:
        log.warning("Could not publish queue_updated: %s", exc)
        return 0
    return len(messages)


def publish_queues_on_commit(owner_id: Any) -> None:
    transaction.on_commit(lambda: publish_queues([owner_id]), robust=True)
