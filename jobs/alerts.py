"""Alerts about a job, raised at most once per job and kind (a unique constraint says so).

- `failure_rate`: after at least N finished items, more than P % of them failed. The chunk runner
  checks its counts after each flush (`FailureWatch`: no query until the figures say so).
- `stuck_items`: an item has been processing longer than 3x the p95 item time of its processor
  (from its recently finished items; never less than a floor). The scheduler runs `check_stuck`.
- `finished`: the batch ended (completed, with errors, or failed), raised in the transaction
  that ends it (jobs.account.notify.job_ended).

Each alert is a row (the bell and /alerts list them), an `alert` live event to the job's
followers and owner, and, for the first two kinds, a webhook `alert` event and an e-mail as the
owner's preferences say; a finished batch already sends its own job_* webhook and e-mail.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from jobs import events
from jobs.models import Alert, AlertKind, BatchJob, ItemStatus, JobItem, JobStatus, Preferences

log = logging.getLogger(__name__)

UNREAD_KEY = "alerts:unread:{}"
UNREAD_SECONDS = 3600
P95_SAMPLE = 500  # recently finished items of a processor the p95 is taken from…
P95_JOBS = 10  # …in its latest batches


# --- raising --------------------------------------------------------------------------------


def raise_alert(
    job: BatchJob, kind: str, title: str, message: str, data: dict[str, Any] | None = None
) -> Alert | None:
    """Record the alert and send it, once: None when this job already had one of this kind.
    Call inside or outside a transaction; what goes out leaves after the commit."""
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                job_id=job.pk,
                user_id=job.owner_id,
                kind=kind,
                title=title[:200],
                message=message,
                data=data or {},
            )
            BatchJob.objects.filter(pk=job.pk).update(seq=F("seq") + 1)  # a published change
    except IntegrityError:
        return None
    log.info("Alert %s on job %s: %s", kind, job.pk, title, extra={"job_id": str(job.pk)})
    transaction.on_commit(lambda: _publish(alert.pk), robust=True)
    forget_unread(job.owner_id)
    if kind != AlertKind.FINISHED:
        from jobs.account import notify  # notify reaches services, which import this module

        owner = job.owner
        notify.notify_alert(
            owner,
            title,
            message,
            {"kind": kind, "job_id": str(job.pk), "url": _job_url(job), **(data or {})},
        )
    return alert


def _publish(alert_id: int) -> None:
    alert = Alert.objects.select_related("job").filter(pk=alert_id).first()
    if alert is not None:
        events.send_sync(events.routing(alert.job), [events.alert_event(alert, alert.job.seq)])


def _job_url(job: BatchJob) -> str:
    return f"{settings.BATCHSITE_BASE_URL}/jobs/{job.pk}"


def _name(job: BatchJob) -> str:
    return f"“{job.name}”" if job.name else f"Job {str(job.pk)[:8]}"


def job_finished(job: BatchJob) -> Alert | None:
    """The batch ended: called in the transaction that ends it."""
    what = {
        JobStatus.COMPLETED: "completed",
        JobStatus.COMPLETED_WITH_ERRORS: "finished with errors",
        JobStatus.FAILED: "failed",
    }.get(job.status)
    if what is None:
        return None
    return raise_alert(
        job,
        AlertKind.FINISHED,
        f"{_name(job)} {what}",
        f"{job.total_items:,} URLs: {job.count_succeeded:,} succeeded, "
        f"{job.count_failed:,} failed, {job.count_cancelled:,} cancelled.",
        {"status": job.status},
    )


# --- failure rate (the runner) --------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    percent: int
    min_items: int


def limits_for(job_id: Any) -> Limits:
    """The job owner's failure-rate threshold (their preferences, else the site's)."""
    row = (
        Preferences.objects.filter(user__batch_jobs__pk=job_id)
        .values("alert_failure_percent", "alert_min_items")
        .first()
        or {}
    )
    percent = row.get("alert_failure_percent") or settings.BATCHSITE_ALERT_FAILURE_PERCENT
    min_items = row.get("alert_min_items") or settings.BATCHSITE_ALERT_MIN_ITEMS
    return Limits(percent, max(1, min_items))


def over_limit(failed: int, done: int, limits: Limits) -> bool:
    return done >= limits.min_items and failed * 100 > limits.percent * done


def failure_rate_exceeded(job_id: Any, limits: Limits) -> Alert | None:
    """The runner saw the rate pass the threshold: check it on the row, raise the alert."""
    job = BatchJob.objects.select_related("owner").filter(pk=job_id).first()
    if job is None:
        return None
    done = job.count_succeeded + job.count_failed
    if not over_limit(job.count_failed, done, limits):
        return None
    rate = 100 * job.count_failed / done
    return raise_alert(
        job,
        AlertKind.FAILURE_RATE,
        f"{_name(job)}: {rate:.0f} % of items failed",
        f"{job.count_failed:,} of the first {done:,} finished items failed "
        f"(the threshold is {limits.percent} % after {limits.min_items:,} items).",
        {"failed": job.count_failed, "done": done, "threshold_percent": limits.percent},
    )


class FailureWatch:
    """One per chunk runner: after each flush, `check(job, db)` compares the job's counts with
    the threshold (read once) and asks the database only when they pass it."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.limits: Limits | None = None
        self.settled = False

    async def check(self, job: BatchJob | None, db) -> None:
        if self.settled or job is None:
            return
        try:
            if self.limits is None:
                self.limits = await db.call(limits_for, self.job_id)
            done = job.count_succeeded + job.count_failed
            if over_limit(job.count_failed, done, self.limits):
                self.settled = True  # raised now, or by another runner of the job before
                await db.call(failure_rate_exceeded, self.job_id, self.limits)
        except Exception:  # an alert is not worth a batch: the next flush tries again
            self.settled = False
            log.exception("Failure-rate check of job %s failed", self.job_id)


# --- stuck items (the scheduler) ------------------------------------------------------------


def p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def stuck_after(processor: str) -> float:
    """Seconds an item of `processor` may process before it counts as stuck: 3x the p95 of up
    to P95_SAMPLE items that finished lately in its latest batches (each batch read through its
    (job, finished_at) index, newest first: no scan of the whole items table), at least the floor."""
    latest = BatchJob.objects.filter(processor=processor).order_by("-created_at")
    recent: list[float] = []
    for job_id in latest.values_list("pk", flat=True)[:P95_JOBS]:
        recent += (
            JobItem.objects.filter(
                job_id=job_id,
                finished_at__isnull=False,
                duration__isnull=False,
                status__in=(ItemStatus.SUCCEEDED, ItemStatus.FAILED),
            )
            .order_by("-finished_at")
            .values_list("duration", flat=True)[: P95_SAMPLE - len(recent)]
        )
        if len(recent) >= P95_SAMPLE:
            break
    floor = settings.BATCHSITE_ALERT_STUCK_FLOOR_SECONDS
    return max(floor, 3 * (p95(recent) or 0.0))


def check_stuck() -> int:
    """Periodic (jobs.cron): raise `stuck_items` on every job with an item processing longer than
    its processor's limit. Returns how many alerts were raised."""
    now = timezone.now()
    floor = now - timedelta(seconds=settings.BATCHSITE_ALERT_STUCK_FLOOR_SECONDS)
    candidates = (
        JobItem.objects.filter(status=ItemStatus.PROCESSING, started_at__lt=floor)
        .exclude(job__alerts__kind=AlertKind.STUCK_ITEMS)
        .values_list("job__processor", "job_id", "started_at")
    )
    oldest: dict[tuple[str, Any], Any] = {}
    for processor, job_id, started in candidates.iterator():
        key = (processor, job_id)
        oldest[key] = min(started, oldest.get(key, started))
    limits: dict[str, float] = {}
    raised = 0
    for (processor, job_id), started in oldest.items():
        if processor not in limits:
            limits[processor] = stuck_after(processor)
        limit = limits[processor]
        age = (now - started).total_seconds()
        if age <= limit:
            continue
        job = BatchJob.objects.select_related("owner").filter(pk=job_id).first()
        if job is None or job.status not in JobStatus.ACTIVE:
            continue
        stuck = job.items.filter(
            status=ItemStatus.PROCESSING, started_at__lt=now - timedelta(seconds=limit)
        ).count()
        if raise_alert(
            job,
            AlertKind.STUCK_ITEMS,
            f"{_name(job)}: {stuck:,} item{'s' if stuck != 1 else ''} stuck",
            f"{stuck:,} item{'s have' if stuck != 1 else ' has'} been processing for over "
            f"{limit:.0f} s (3x the p95 item time of {processor}); the oldest for {age:.0f} s.",
            {"stuck": stuck, "limit_seconds": round(limit, 1), "oldest_seconds": round(age)},
        ):
            raised += 1
    return raised


# --- reading (the bell and the list page) ----------------------------------------------------


def unread_count(user) -> int:
    """The bell's count, from the shared cache; the database on a miss."""
    key = UNREAD_KEY.format(user.pk)
    try:
        cached = cache.get(key)
    except Exception:  # the cache is Redis: down means "ask the database"
        cached = None
    if cached is not None:
        return int(cached)
    count = Alert.objects.filter(user=user, read_at__isnull=True).count()
    try:
        cache.set(key, count, UNREAD_SECONDS)
    except Exception:
        log.warning("alert cache unavailable", exc_info=True)
    return count


def forget_unread(user_id: Any) -> None:
    def forget() -> None:
        try:
            cache.delete(UNREAD_KEY.format(user_id))
        except Exception:
            log.warning("alert cache unavailable", exc_info=True)

    transaction.on_commit(forget, robust=True)


def mark_read(user, alert_id: int | None = None) -> int:
    """Mark the user's alert (or all of them) read; how many changed."""
    unread = Alert.objects.filter(user=user, read_at__isnull=True)
    if alert_id is not None:
        unread = unread.filter(pk=alert_id)
    changed = unread.update(read_at=timezone.now())
    forget_unread(user.pk)
    return changed
