"""What people do to jobs — submit, cancel, retry — for pages, API, admin and CLI alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from analytics.record import record_job
from jobs import audit, events, item_groups, store, tasks
from jobs.account import quotas
from jobs.intake import IntakeError, IntakeResult, parse_submission
from jobs.jobstate import add_log, finalize_if_done
from jobs.models import (
    COUNT_FIELDS,
    AuditAction,
    BatchJob,
    ItemStatus,
    JobStatus,
    LogLevel,
    Priority,
)
from jobs.processors.registry import UnknownProcessor, get_processor

LIMITS = {
    "concurrency": (1, 500, 50),
    "item_timeout": (1, 1800, 30),
    "max_attempts": (1, 10, 3),
    "per_host_limit": (0, 500, 0),
    "host_delay": (0, 60, 0),
}
FLOATS = frozenset({"item_timeout", "host_delay"})


class ServiceError(Exception):
    """A request the service refuses. `errors` maps field names to messages; `status` is the
    HTTP status an API answers with (400 bad input, 409 wrong state, 413 too large, 429 past a
    quota)."""

    def __init__(
        self, errors: dict[str, list[str]] | str, status: int = 400, code: str = "invalid"
    ) -> None:
        if isinstance(errors, str):
            errors = {"detail": [errors]}
        self.errors = errors
        self.status = status
        self.code = code
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))


@dataclass
class Submission:
    job: BatchJob
    intake: IntakeResult


def parse_priority(value: Any) -> int:
    """1–10, or one of low/normal/high/urgent."""
    if value is None or value == "":
        return Priority.DEFAULT
    if isinstance(value, str) and value.strip().lower() in Priority.NAMES:
        return Priority.NAMES[value.strip().lower()]
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if isinstance(value, bool) or not 1 <= number <= 10 or str(number) != str(value).strip():
        raise ValueError("Priority is 1–10 or one of low, normal, high, urgent.")
    return number


def _bounded(name: str, value: Any) -> int | float:
    low, high, default = LIMITS[name]
    if value is None or value == "":
        return default
    try:
        number = float(value) if name in FLOATS else int(value)
    except (TypeError, ValueError):
        raise ValueError(f"A number from {low} to {high}.") from None
    if isinstance(value, bool) or not low <= number <= high:
        raise ValueError(f"A number from {low} to {high}.")
    return number


# The job settings a submission may carry, as validate_settings cleans them (the API's POST body
# and a schedule's stored batch take the same ones).
SETTINGS_FIELDS = (
    "name",
    "processor",
    "options",
    "priority",
    "concurrency",
    "item_timeout",
    "max_attempts",
    "per_host_limit",
    "host_delay",
)


def validate_settings(**fields: Any) -> dict[str, Any]:
    """Check a submission's job settings; ServiceError names every bad field."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    try:
        clean["priority"] = parse_priority(fields.get("priority"))
    except ValueError as exc:
        errors["priority"] = [str(exc)]
    for name in LIMITS:
        try:
            clean[name] = _bounded(name, fields.get(name))
        except ValueError as exc:
            errors[name] = [str(exc)]
    name = fields.get("name") or ""
    if not isinstance(name, str) or len(name) > 200:
        errors["name"] = ["At most 200 characters."]
    elif "\x00" in name:  # PostgreSQL text cannot hold NUL
        errors["name"] = ["No NUL characters."]
    clean["name"] = name.strip() if isinstance(name, str) else ""
    processor_name = fields.get("processor") or "http_check"
    try:
        processor = get_processor(str(processor_name))
        clean["processor"] = processor.name
        try:
            clean["options"] = processor.clean_options(fields.get("options"))
        except ValidationError as exc:
            errors["options"] = [
                f"{field}: {' '.join(str(m) for m in msgs)}"
                for field, msgs in exc.message_dict.items()
            ]
    except UnknownProcessor as exc:
        errors["processor"] = [str(exc)]
    if errors:
        raise ServiceError(errors)
    return clean


def submit_batch(
    owner,
    *,
    urls: list | None = None,
    text: str | None = None,
    file: bytes | None = None,
    filename: str = "",
    schedule=None,
    **fields: Any,
) -> Submission:
    """Validate, create the job and its items, and enqueue runners once the transaction commits.
    `schedule`: the jobs.schedules Schedule this job is a run of."""
    clean = validate_settings(**fields)
    intake = read_urls(urls=urls, text=text, file=file, filename=filename)
    with transaction.atomic():
        try:
            quotas.check_submission(owner, len(intake.accepted))
        except quotas.QuotaExceeded as exc:
            raise ServiceError(
                {exc.field: [exc.message]}, status=429, code="quota_exceeded"
            ) from exc
        job = BatchJob.objects.create(
            owner=owner,
            status=JobStatus.QUEUED,
            total_items=len(intake.accepted),
            count_queued=len(intake.accepted),
            schedule=schedule,
            **clean,
        )
        rows = [(i, a.url, a.input[:2048]) for i, a in enumerate(intake.accepted)]
        store.insert_items(job.pk, rows, ItemStatus.QUEUED)
        add_log(job.pk, _intake_summary(intake))
        record_job(owner.pk, job.processor, job.created_at)
        transaction.on_commit(lambda: tasks.enqueue_runners(job, items=len(rows)), robust=True)
        events.publish_job(job)
        events.publish_queues_on_commit(owner.pk)
    return Submission(job=job, intake=intake)


def read_urls(
    *, urls: list | None = None, text: str | None = None, file: bytes | None = None, filename=""
) -> IntakeResult:
    """The intake of a submission's URLs; ServiceError when it refuses them or none is valid."""
    try:
        intake = parse_submission(
            text=text,
            urls=urls,
            file=file,
            filename=filename,
            max_urls=settings.BATCHSITE_MAX_URLS_PER_BATCH,
            max_bytes=settings.BATCHSITE_MAX_UPLOAD_BYTES,
        )
    except IntakeError as exc:
        raise ServiceError({"urls": [exc.message]}, status=exc.status, code=exc.code) from exc
    if not intake.accepted:
        error = ServiceError({"urls": ["No valid URL in this batch."]}, code="no_valid_urls")
        error.intake = intake
        raise error
    return intake


def _intake_summary(intake: IntakeResult) -> str:
    parts = [f"Submitted {len(intake.accepted):,} URLs"]
    if intake.duplicates:
        parts.append(f"{intake.duplicates:,} duplicates dropped")
    if intake.rejected:
        parts.append(f"{len(intake.rejected):,} lines rejected")
    return ", ".join(parts)


def cancel_job(job: BatchJob, *, actor=None) -> BatchJob:
    """Cancel a queued or running job: waiting items are cancelled now, running runners stop
    claiming and their in-flight items stop at their next step; the job ends `cancelled`.
    With `actor` (who asked), the audit log records it."""
    with transaction.atomic():
        # Items before the job's row, the order a runner's flush takes them in (it claims and
        # finishes items, then adds to the job's counters): the other order deadlocked against
        # a flush on PostgreSQL. A job that is no longer active has no waiting items.
        now = timezone.now()
        cancelled = job.items.filter(status__in=(ItemStatus.PENDING, ItemStatus.QUEUED)).update(
            status=ItemStatus.CANCELLED,
            error_code="CANCELLED",
            error="Cancelled before it ran",
            finished_at=now,
        )
        job = BatchJob.objects.select_for_update().get(pk=job.pk)
        if job.status not in JobStatus.ACTIVE:
            raise ServiceError(
                f"This job is {job.get_status_display().lower()}; only active jobs can be cancelled.",
                status=409,
                code="not_active",
            )
        job.recount(save=False)
        counts = {field: getattr(job, field) for field in COUNT_FIELDS.values()}
        job.transition(JobStatus.CANCELLING, progress=job.progress, **counts)
        add_log(
            job.pk, f"Cancel requested: {cancelled:,} waiting items cancelled", LogLevel.WARNING
        )
        if actor is not None:
            audit.record(actor, AuditAction.JOB_CANCEL, job, cancelled_items=cancelled)
    finalize_if_done(job.pk)  # nothing in flight: cancelled at once
    job.refresh_from_db()
    return job


def retry_items(
    job: BatchJob,
    statuses: list[str] | None = None,
    error_code: str | None = None,
    *,
    http_status: int | None = None,
    host: str | None = None,
    actor=None,
) -> int:
    """Put a finished job's failed (or cancelled) items back in the queue as new attempts; an
    error code, HTTP status or host narrows it to one group of jobs.item_groups. With `actor`
    (who asked), the audit log records it."""
    statuses = statuses or [ItemStatus.FAILED]
    bad = [s for s in statuses if s not in (ItemStatus.FAILED, ItemStatus.CANCELLED)]
    if bad:
        raise ServiceError({"status": ["Only failed and cancelled items can be retried."]})
    with transaction.atomic():
        job = BatchJob.objects.select_for_update().get(pk=job.pk)
        if job.status in JobStatus.ACTIVE:
            raise ServiceError(
                "This job is still running; retry once it has finished.", status=409, code="active"
            )
        items = job.items.filter(status__in=statuses)
        if error_code:
            items = items.filter(error_code=error_code)
        if http_status is not None or host is not None:
            # By id: an UPDATE cannot filter on the host annotation itself.
            group = item_groups.in_group(items, http_status=http_status, host=host)
            items = job.items.filter(pk__in=group.values("pk"))
        requeued = items.update(
            status=ItemStatus.QUEUED,
            current_step="",
            progress=0.0,
            result=None,
            error="",
            error_code="",
            http_status=None,
            worker="",
            started_at=None,
            finished_at=None,
            duration=None,
        )
        if not requeued:
            return 0
        job.recount(save=False)
        counts = {field: getattr(job, field) for field in COUNT_FIELDS.values()}
        BatchJob.objects.filter(pk=job.pk).update(
            status=JobStatus.QUEUED,
            finished_at=None,
            error="",
            progress=job.progress,
            seq=F("seq") + 1,
            updated_at=timezone.now(),
            **counts,
        )
        job.refresh_from_db()
        add_log(job.pk, f"Retry: {requeued:,} items queued again")
        if actor is not None:
            group = {"error_code": error_code, "http_status": http_status, "host": host}
            audit.record(
                actor,
                AuditAction.JOB_RETRY,
                job,
                requeued=requeued,
                statuses=list(statuses),
                **{k: v for k, v in group.items() if v is not None},
            )
        events.publish_job(job, with_logs_after_seq=job.seq)
        events.publish_queues_on_commit(job.owner_id)
        transaction.on_commit(lambda: tasks.enqueue_runners(job, items=requeued), robust=True)
    return requeued


def delete_job(job: BatchJob, batch: int = 5000, *, actor=None) -> dict[str, int]:
    """Delete a finished job with its items, attempts and log lines, in batches so no statement
    holds the tables for long. With `actor` (who asked), the audit log records it."""
    from jobs.models import ItemAttempt, JobItem, JobLogEntry

    if BatchJob.objects.filter(pk=job.pk, status__in=JobStatus.ACTIVE).exists():
        raise ServiceError("This job is still active; cancel it first.", status=409, code="active")
    deleted = {"attempts": 0, "logs": 0, "items": 0}
    for key, model, lookup in (
        ("attempts", ItemAttempt, "item__job"),
        ("logs", JobLogEntry, "job"),
        ("items", JobItem, "job"),
    ):
        while True:
            ids = list(model.objects.filter(**{lookup: job}).values_list("pk", flat=True)[:batch])
            if not ids:
                break
            with transaction.atomic():
                deleted[key] += (
                    model.objects.filter(pk__in=ids).delete()[1].get(model._meta.label, 0)
                )
    with transaction.atomic():
        if actor is not None:
            audit.record(actor, AuditAction.JOB_DELETE, job, **deleted)
        job.delete()
    return deleted


@dataclass
class BulkResult:
    """What a bulk action did: jobs it was asked about, jobs it changed, items it requeued."""

    matched: int
    changed: int
    items: int = 0

    @property
    def skipped(self) -> int:
        return self.matched - self.changed


def cancel_jobs(jobs: QuerySet[BatchJob], *, actor=None) -> BulkResult:
    """Cancel every active job among `jobs`, one transaction each (as `cancel_job`); jobs that
    have finished — before or while this runs — are left as they are. With `actor`, one audit
    entry lists the jobs it cancelled."""
    matched = jobs.count()
    done = []
    for pk in list(jobs.filter(status__in=JobStatus.ACTIVE).values_list("pk", flat=True)):
        try:
            cancel_job(BatchJob(pk=pk))
        except ServiceError:  # it finished meanwhile
            continue
        done.append(pk)
    if actor is not None and matched:
        audit.record(actor, AuditAction.BULK_CANCEL, matched=matched, **audit.id_list(done))
    return BulkResult(matched, len(done))


def retry_failed_jobs(jobs: QuerySet[BatchJob], *, actor=None) -> BulkResult:
    """Queue the failed items of every finished job among `jobs` again (as `retry_items`).
    With `actor`, one audit entry lists the jobs it retried."""
    matched = jobs.count()
    done, items = [], 0
    candidates = jobs.filter(status__in=JobStatus.TERMINAL, count_failed__gt=0)
    for pk in list(candidates.values_list("pk", flat=True)):
        try:
            requeued = retry_items(BatchJob(pk=pk))
        except ServiceError:  # running again meanwhile
            continue
        if requeued:
            done.append(pk)
            items += requeued
    if actor is not None and matched:
        audit.record(
            actor, AuditAction.BULK_RETRY, matched=matched, requeued=items, **audit.id_list(done)
        )
    return BulkResult(matched, len(done), items)
