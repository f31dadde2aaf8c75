"""Scheduled and recurring batches — create, change, pause, resume, and fire the due ones — for
pages, API and CLI alike. Runs go through services.submit_batch (validation and quotas apply)
and are ordinary jobs whose `schedule` is set.

Exactly once: `fire` claims a run by moving `next_run_at` on with a conditional UPDATE (WHERE
next_run_at is still what it read); of two scheduler processes that read the same due schedule,
one updates a row and submits, the other updates none and does nothing. The claim and the
submission share one transaction, so a crash between them loses neither.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.utils import timezone

from jobs import schedule_timing as timing
from jobs.access import can_see_all
from jobs.account.preferences import preferences_for
from jobs.models import BatchJob, Schedule, ScheduleKind
from jobs.services import (
    SETTINGS_FIELDS,
    ServiceError,
    read_urls,
    submit_batch,
    validate_settings,
)

log = logging.getLogger(__name__)

TIMING_FIELDS = ("run_at", "cron", "every", "time_zone")


def schedules_for(user) -> QuerySet[Schedule]:
    """The schedules `user` may see: their own; staff see all."""
    if not (user and user.is_authenticated):
        return Schedule.objects.none()
    rows = Schedule.objects.all()
    return rows if can_see_all(user) else rows.filter(owner=user)


def with_last_run(rows: QuerySet[Schedule]) -> QuerySet[Schedule]:
    """`rows` with `last_job_id` and `last_job_status`: their latest run's, in the same query
    (and without their URLs, loaded only when read)."""
    latest = BatchJob.objects.filter(schedule=OuterRef("pk")).order_by("-created_at", "-pk")
    return rows.defer("urls").annotate(
        last_job_id=Subquery(latest.values("pk")[:1]),
        last_job_status=Subquery(latest.values("status")[:1]),
    )


def user_time_zone(user) -> str:
    from django.conf import settings

    return preferences_for(user).time_zone or settings.TIME_ZONE


def _timing(data: dict[str, Any], zone: str, now: datetime) -> timing.Timing:
    try:
        return timing.parse_timing(
            run_at=data.get("run_at"),
            cron=data.get("cron"),
            every=data.get("every"),
            time_zone=data.get("time_zone") or zone,
            now=now,
        )
    except timing.TimingError as exc:
        raise ServiceError({exc.field: [exc.message]}) from None


def create_schedule(
    owner,
    *,
    urls: list | None = None,
    text: str | None = None,
    file: bytes | None = None,
    filename: str = "",
    **fields: Any,
) -> tuple[Schedule, Any]:
    """Validate the batch (as submit_batch would) and its timing, and store both: the URLs the
    intake accepted, once. Returns the schedule and the intake (for what was dropped)."""
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    try:
        clean = validate_settings(**{k: v for k, v in fields.items() if k in SETTINGS_FIELDS})
    except ServiceError as exc:
        errors.update(exc.errors)
        clean = {}
    try:
        when = _timing(fields, user_time_zone(owner), now)
    except ServiceError as exc:
        errors.update(exc.errors)
    if errors:
        raise ServiceError(errors)
    intake = read_urls(urls=urls, text=text, file=file, filename=filename)
    schedule = Schedule.objects.create(
        owner=owner,
        urls=[accepted.url for accepted in intake.accepted],
        url_count=len(intake.accepted),
        next_run_at=timing.first_run(when, now),
        **when.as_fields(),
        **clean,
    )
    log.info(
        "Schedule %s created: %s, next run %s", schedule.pk, schedule.timing, schedule.next_run_at
    )
    return schedule, intake


def update_schedule(schedule: Schedule, data: dict[str, Any]) -> Schedule:
    """Change a schedule's batch settings, its URLs (`urls` or `text`) and its timing (any of
    run_at, cron, every, time_zone: the timing is then read again as a whole)."""
    now = timezone.now()
    current = {name: getattr(schedule, name) for name in SETTINGS_FIELDS}
    merged = {**current, **{k: v for k, v in data.items() if k in SETTINGS_FIELDS}}
    errors: dict[str, list[str]] = {}
    try:
        clean = validate_settings(**merged)
    except ServiceError as exc:
        errors.update(exc.errors)
        clean = {}
    when = None
    if any(name in data for name in TIMING_FIELDS):
        timing_data = {name: data.get(name) for name in TIMING_FIELDS}
        if not any(timing_data[n] not in (None, "") for n in ("run_at", "cron", "every")):
            timing_data.update(_current_timing(schedule))
        timing_data["time_zone"] = data.get("time_zone") or schedule.time_zone
        try:
            when = _timing(timing_data, schedule.time_zone, now)
        except ServiceError as exc:
            errors.update(exc.errors)
    new_urls = None
    if "urls" in data or "text" in data:
        urls = data.get("urls")
        if urls is not None and not isinstance(urls, list):
            errors["urls"] = ["A list of URLs (or use `text`)."]
        else:
            try:
                intake = read_urls(urls=urls, text=data.get("text"))
                new_urls = [accepted.url for accepted in intake.accepted]
            except ServiceError as exc:
                errors.update(exc.errors)
    if errors:
        raise ServiceError(errors)
    for name, value in clean.items():
        setattr(schedule, name, value)
    if new_urls is not None:
        schedule.urls, schedule.url_count = new_urls, len(new_urls)
    if when is not None:
        for name, value in when.as_fields().items():
            setattr(schedule, name, value)
        schedule.next_run_at = timing.first_run(when, now)
    schedule.updated_at = now
    schedule.save()
    return schedule


def _current_timing(schedule: Schedule) -> dict[str, Any]:
    if schedule.kind == ScheduleKind.CRON:
        return {"cron": schedule.cron}
    if schedule.kind == ScheduleKind.INTERVAL:
        return {"every": schedule.interval_minutes}
    return {"run_at": schedule.run_at}


def pause(schedule: Schedule) -> Schedule:
    Schedule.objects.filter(pk=schedule.pk).update(paused=True, updated_at=timezone.now())
    schedule.refresh_from_db()
    return schedule


def resume(schedule: Schedule) -> Schedule:
    """Run again from now on: runs missed while paused are skipped, not caught up (a `once` whose
    time passed while paused runs at once)."""
    now = timezone.now()
    due = schedule.next_run_at
    if due is not None and due < now:
        due = (
            now if schedule.kind == ScheduleKind.ONCE else timing.following_run(schedule, due, now)
        )
    Schedule.objects.filter(pk=schedule.pk).update(paused=False, next_run_at=due, updated_at=now)
    schedule.refresh_from_db()
    return schedule


def due_schedules(now: datetime | None = None) -> QuerySet[Schedule]:
    now = now or timezone.now()
    return Schedule.objects.filter(paused=False, next_run_at__lte=now).order_by("next_run_at")


def fire_due(now: datetime | None = None, limit: int = 200) -> list[BatchJob | None]:
    """Fire every due schedule (at most `limit`): the scheduler's periodic task. Returns what
    each claimed run submitted (None where the service refused it, e.g. a quota)."""
    now = now or timezone.now()
    fired = []
    for schedule in list(due_schedules(now)[:limit]):
        claimed, job = fire(schedule, now)
        if claimed:
            fired.append(job)
    return fired


def fire(schedule: Schedule, now: datetime | None = None) -> tuple[bool, BatchJob | None]:
    """Claim the run due at `schedule.next_run_at` (as read) and submit it. Returns (claimed,
    job): (False, None) when another process claimed it first or it is paused or not due."""
    now = now or timezone.now()
    due = schedule.next_run_at
    if due is None or due > now:
        return False, None
    following = timing.following_run(schedule, due, now)
    with transaction.atomic():
        claimed = Schedule.objects.filter(pk=schedule.pk, paused=False, next_run_at=due).update(
            next_run_at=following, last_run_at=now, runs=F("runs") + 1, updated_at=now
        )
        if not claimed:
            return False, None
        job, error = _submit(schedule)
        Schedule.objects.filter(pk=schedule.pk).update(last_error=error)
    log.info("Schedule %s fired: %s", schedule.pk, job.pk if job else error)
    return True, job


def _submit(schedule: Schedule) -> tuple[BatchJob | None, str]:
    fields = {name: getattr(schedule, name) for name in SETTINGS_FIELDS}
    try:
        with transaction.atomic():
            submission = submit_batch(
                schedule.owner, urls=list(schedule.urls), schedule=schedule, **fields
            )
    except ServiceError as exc:
        return None, " ".join(m for messages in exc.errors.values() for m in messages)
    return submission.job, ""
