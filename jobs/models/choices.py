"""The pipeline's vocabulary: job and item statuses with their named groups and colours,
priorities and their queues, attempt outcomes and log levels."""

from __future__ import annotations

from django.db import models


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    CANCELLING = "cancelling", "Cancelling"
    CANCELLED = "cancelled", "Cancelled"
    COMPLETED = "completed", "Completed"
    COMPLETED_WITH_ERRORS = "completed_with_errors", "Completed with errors"
    FAILED = "failed", "Failed"


JobStatus.ACTIVE = frozenset(
    {JobStatus.PENDING, JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.CANCELLING}
)
JobStatus.TERMINAL = frozenset(
    {
        JobStatus.CANCELLED,
        JobStatus.COMPLETED,
        JobStatus.COMPLETED_WITH_ERRORS,
        JobStatus.FAILED,
    }
)
# Next to the choices, as NetBox does: one colour per status for badges and charts.
JobStatus.colors = {
    JobStatus.PENDING: "gray",
    JobStatus.QUEUED: "slate",
    JobStatus.RUNNING: "blue",
    JobStatus.CANCELLING: "amber",
    JobStatus.CANCELLED: "zinc",
    JobStatus.COMPLETED: "green",
    JobStatus.COMPLETED_WITH_ERRORS: "orange",
    JobStatus.FAILED: "red",
}


class ItemStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # created, not yet handed to a queue (e.g. a scheduled job)
    QUEUED = "queued", "Queued"  # waiting for a runner to claim it
    PROCESSING = "processing", "Processing"  # claimed by a runner
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    SKIPPED = "skipped", "Skipped"


ItemStatus.ACTIVE = frozenset({ItemStatus.PENDING, ItemStatus.QUEUED, ItemStatus.PROCESSING})
ItemStatus.TERMINAL = frozenset(
    {ItemStatus.SUCCEEDED, ItemStatus.FAILED, ItemStatus.CANCELLED, ItemStatus.SKIPPED}
)
ItemStatus.colors = {
    ItemStatus.PENDING: "gray",
    ItemStatus.QUEUED: "slate",
    ItemStatus.PROCESSING: "blue",
    ItemStatus.SUCCEEDED: "green",
    ItemStatus.FAILED: "red",
    ItemStatus.CANCELLED: "zinc",
    ItemStatus.SKIPPED: "gray",
}


class Priority:
    """Priority 1–10, its names, and the RQ queue that serves it."""

    NAMES = {"low": 2, "normal": 5, "high": 8, "urgent": 10}
    DEFAULT = 5

    @staticmethod
    def queue_for(priority: int) -> str:
        if priority >= 9:
            return "urgent"
        if priority >= 7:
            return "high"
        if priority >= 4:
            return "default"
        return "low"

    @staticmethod
    def label(priority: int) -> str:
        return {"urgent": "Urgent", "high": "High", "default": "Normal", "low": "Low"}[
            Priority.queue_for(priority)
        ]


# Item status -> the denormalised counter on BatchJob that counts it.
COUNT_FIELDS = {status: f"count_{status}" for status in ItemStatus.values}


class AttemptOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    RETRY = "retry", "Failed, retried"
    CANCELLED = "cancelled", "Cancelled"
    INTERRUPTED = "interrupted", "Interrupted (worker lost)"


class LogLevel(models.IntegerChoices):
    DEBUG = 10, "debug"
    INFO = 20, "info"
    WARNING = 30, "warning"
    ERROR = 40, "error"
