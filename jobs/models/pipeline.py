"""The pipeline's data: jobs, their items, every attempt and log line, and live runners. The
database is the source of truth; Redis only carries queues and events."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Count, ExpressionWrapper, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from jobs.errors import ErrorCode
from jobs.models.choices import (
    COUNT_FIELDS,
    AttemptOutcome,
    ItemStatus,
    JobStatus,
    LogLevel,
    Priority,
)

# GET /api/jobs (and the pages built on it) filter one user's jobs by these columns and sort
# them by one of LIST_SORT_KEYS. Each key gets an index (owner, key, id, *these): a page is a
# walk of it in sort order, and neither the walk nor the per-status summary reads a table row
# (the summary groups by status: its index is the one led by (owner, status)).
LIST_FILTER_COLUMNS = ("status", "created_at", "priority", "processor", "name")
LIST_SORT_KEYS = ("created_at", "updated_at", "progress", "priority", "total_items", "duration")


def _list_index(key: str) -> models.Index:
    covered = [column for column in LIST_FILTER_COLUMNS if column != key]
    return models.Index(fields=["owner", key, "id", *covered], name=f"job_list_{key}"[:30])


class BatchJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="batch_jobs"
    )
    name = models.CharField(max_length=200, blank=True)
    processor = models.CharField(max_length=100, default="http_check")
    options = models.JSONField(default=dict, blank=True)
    priority = models.PositiveSmallIntegerField(default=Priority.DEFAULT)
    concurrency = models.PositiveIntegerField(default=50)
    per_host_limit = models.PositiveIntegerField(
        default=0, help_text="Most requests in flight to one host (0: only the job's concurrency)."
    )
    host_delay = models.FloatField(
        default=0.0, help_text="Least seconds between two requests to one host (politeness)."
    )
    item_timeout = models.FloatField(default=30.0, help_text="Seconds per attempt.")
    max_attempts = models.PositiveSmallIntegerField(default=3)
    # The schedule that started this run (jobs.schedules), if any.
    schedule = models.ForeignKey(
        "jobs.Schedule", on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs"
    )
    status = models.CharField(
        max_length=32, choices=JobStatus.choices, default=JobStatus.PENDING, db_index=True
    )
    error = models.TextField(blank=True)

    total_items = models.PositiveIntegerField(default=0)
    count_pending = models.IntegerField(default=0)
    count_queued = models.IntegerField(default=0)
    count_processing = models.IntegerField(default=0)
    count_succeeded = models.IntegerField(default=0)
    count_failed = models.IntegerField(default=0)
    count_cancelled = models.IntegerField(default=0)
    count_skipped = models.IntegerField(default=0)
    progress = models.FloatField(default=0.0, help_text="Percent of items in a terminal state.")
    current_step = models.CharField(max_length=50, blank=True)
    # Σ item processing time, for the "sequential vs wall clock" comparison.
    item_seconds = models.FloatField(default=0.0)
    # Stored so that sorting by duration reads an index instead of computing it for every row.
    duration = models.DurationField(
        default=timedelta(0),
        help_text="Wall-clock time from start to finish; while running, up to the last progress "
        "write; zero before it starts.",
    )

    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    # Bumped on every change a client can see; events carry it so clients never go backwards.
    seq = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            *(_list_index(key) for key in (*LIST_SORT_KEYS, "status")),
            models.Index(fields=["-created_at"], name="job_created"),
            models.Index(fields=["-updated_at"], name="job_updated"),
            models.Index(fields=["processor", "-created_at"], name="job_processor_created"),
            models.Index(fields=["priority", "-created_at"], name="job_priority_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(priority__gte=1, priority__lte=10), name="job_priority_1_10"
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"Job {str(self.id)[:8]}"

    @property
    def is_active(self) -> bool:
        return self.status in JobStatus.ACTIVE

    @property
    def is_finished(self) -> bool:
        return self.status in JobStatus.TERMINAL

    @property
    def queue_name(self) -> str:
        return Priority.queue_for(self.priority)

    @property
    def counts(self) -> dict[str, int]:
        return {status: getattr(self, field) for status, field in COUNT_FIELDS.items()}

    @property
    def done_items(self) -> int:
        return sum(getattr(self, COUNT_FIELDS[s]) for s in ItemStatus.TERMINAL)

    @property
    def wall_seconds(self) -> float | None:
        if not self.started_at:
            return None
        end = self.finished_at or timezone.now()
        return max((end - self.started_at).total_seconds(), 0.0)

    @property
    def speedup(self) -> float | None:
        wall = self.wall_seconds
        if not wall:
            return None
        return self.item_seconds / wall

    @property
    def estimated_time_remaining(self) -> float | None:
        """Seconds left at the rate seen so far, or None before there is a rate."""
        wall = self.wall_seconds
        done = self.done_items
        if self.is_finished:
            return 0.0
        if not wall or not done:
            return None
        return (self.total_items - done) * wall / done

    @staticmethod
    def duration_until(end: datetime) -> ExpressionWrapper:
        """For an UPDATE: the stored `duration` of a job seen at (or ending at) `end`."""
        return ExpressionWrapper(
            Value(end) - Coalesce(F("started_at"), Value(end)),
            output_field=models.DurationField(),
        )

    # --- state changes: every one bumps seq ------------------------------------------------

    def recount(self, *, save: bool = True) -> None:
        """Recompute the per-status counters from the items (exact, used off the hot path)."""
        rows = self.items.values("status").annotate(n=Count("id")).order_by()
        counts = dict.fromkeys(ItemStatus.values, 0)
        for row in rows:
            counts[row["status"]] = row["n"]
        for status, n in counts.items():
            setattr(self, COUNT_FIELDS[status], n)
        self.total_items = sum(counts.values())
        done = sum(counts[s] for s in ItemStatus.TERMINAL)
        self.progress = 100.0 * done / self.total_items if self.total_items else 100.0
        if save:
            self.seq = F("seq") + 1
            self.updated_at = timezone.now()
            fields = [*COUNT_FIELDS.values(), "total_items", "progress", "seq", "updated_at"]
            self.save(update_fields=fields)
            self.refresh_from_db(fields=["seq"])

    def final_status(self) -> str:
        """The terminal status the job takes once no item is active (counters must be exact)."""
        if self.status == JobStatus.CANCELLING or (
            self.count_cancelled and not (self.count_succeeded or self.count_failed)
        ):
            return JobStatus.CANCELLED
        if self.count_failed and not self.count_succeeded:
            return JobStatus.FAILED
        if self.count_failed:
            return JobStatus.COMPLETED_WITH_ERRORS
        return JobStatus.COMPLETED

    def transition(self, status: str, **fields) -> bool:
        """Move to `status` only from an active state, atomically; True if this call did it.

        Workers race to finish a job: the conditional update makes exactly one of them win.
        """
        now = timezone.now()
        values = {"status": status, "seq": F("seq") + 1, "updated_at": now, **fields}
        if status in JobStatus.TERMINAL:
            values.setdefault("finished_at", now)
            values.setdefault("current_step", "")
            values.setdefault("duration", self.duration_until(values["finished_at"]))
        changed = BatchJob.objects.filter(pk=self.pk, status__in=JobStatus.ACTIVE).update(**values)
        if changed:
            self.refresh_from_db()
        return bool(changed)


class JobItem(models.Model):
    job = models.ForeignKey(BatchJob, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    url = models.CharField(max_length=2048)
    input = models.CharField(max_length=2048, blank=True)
    status = models.CharField(max_length=16, choices=ItemStatus.choices, default=ItemStatus.QUEUED)
    current_step = models.CharField(max_length=50, blank=True)
    progress = models.FloatField(default=0.0)
    attempts = models.PositiveSmallIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=32, choices=ErrorCode.choices, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The runner that holds the claim ("host:pid:token"); reconcile frees claims of dead runners.
    worker = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds, last attempt.")

    class Meta:
        ordering = ["job", "position"]
        constraints = [
            models.UniqueConstraint(fields=["job", "position"], name="item_job_position"),
        ]
        indexes = [
            models.Index(fields=["job", "status", "position"], name="item_job_status_pos"),
            models.Index(fields=["job", "error_code"], name="item_job_error"),
            models.Index(fields=["job", "http_status"], name="item_job_http"),
            # Keyset pages of the items API ordered by duration or finished_at: (job, value,
            # position) ranges, so page 20,000 of a 1M-item job costs what page 1 does. Partial:
            # an item enters them when it finishes, so inserting a batch does not touch them.
            models.Index(
                fields=["job", "duration", "position"],
                name="item_job_duration_pos",
                condition=Q(duration__isnull=False),
            ),
            models.Index(
                fields=["job", "finished_at", "position"],
                name="item_job_finished_pos",
                condition=Q(finished_at__isnull=False),
            ),
            models.Index(
                fields=["worker"],
                name="item_processing_worker",
                condition=Q(status="processing"),
            ),
        ]

    def __str__(self) -> str:
        return self.url


class ItemAttempt(models.Model):
    item = models.ForeignKey(JobItem, on_delete=models.CASCADE, related_name="attempt_history")
    number = models.PositiveSmallIntegerField()
    worker = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    step = models.CharField(max_length=50, blank=True, help_text="The last step reached.")
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices)
    error_code = models.CharField(max_length=32, blank=True)
    error = models.TextField(blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["item", "number", "id"]
        indexes = [models.Index(fields=["item", "number"], name="attempt_item_number")]

    def __str__(self) -> str:
        return f"attempt {self.number} of item {self.item_id}: {self.outcome}"


class JobLogEntry(models.Model):
    """A job's log; the id is the catch-up cursor for clients that reconnect."""

    job = models.ForeignKey(BatchJob, on_delete=models.CASCADE, related_name="log_entries")
    item = models.ForeignKey(
        JobItem, on_delete=models.CASCADE, null=True, blank=True, related_name="log_entries"
    )
    level = models.PositiveSmallIntegerField(choices=LogLevel.choices, default=LogLevel.INFO)
    message = models.TextField()
    timestamp = models.DateTimeField(default=timezone.now)
    # The job's seq when the line was written: a client that reconnects with its last seq gets
    # the lines it missed.
    seq = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["job", "id"]
        verbose_name_plural = "job log entries"
        indexes = [
            models.Index(fields=["job", "id"], name="log_job_id"),
            models.Index(fields=["job", "level", "id"], name="log_job_level_id"),
            models.Index(fields=["job", "seq"], name="log_job_seq"),
        ]

    def __str__(self) -> str:
        return self.message[:80]


class Runner(models.Model):
    """A live chunk runner: one RQ job working on one batch job. Rows of dead runners are found
    by their stale heartbeat, and their claimed items are put back by reconcile."""

    id = models.CharField(primary_key=True, max_length=200)
    job = models.ForeignKey(BatchJob, on_delete=models.CASCADE, related_name="runners")
    worker_name = models.CharField(max_length=200, blank=True)
    rq_job_id = models.CharField(max_length=200, blank=True)
    hostname = models.CharField(max_length=200, blank=True)
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now, db_index=True)
    items_done = models.PositiveIntegerField(default=0)
    in_flight = models.PositiveIntegerField(default=0)
    current_urls = models.JSONField(default=list, blank=True)
    # Flushes this runner has committed: a flush retried after its commit's answer was lost (a
    # dropped connection) finds its own number here and writes nothing twice (jobstate.cycle).
    flushes = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.id

    def is_stale(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        age = (now - self.heartbeat_at).total_seconds()
        return age > settings.BATCHSITE_RUNNER_STALE_SECONDS
