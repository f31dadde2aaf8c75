"""The jobs app's models, one module per concern; everything is importable from here."""

from jobs.models.accounts import PAGE_SIZES, Preferences, Quota, Theme
from jobs.models.choices import (
    COUNT_FIELDS,
    AttemptOutcome,
    ItemStatus,
    JobStatus,
    LogLevel,
    Priority,
)
from jobs.models.keys import ApiKey, ApiKeyScope
from jobs.models.pipeline import BatchJob, ItemAttempt, JobItem, JobLogEntry, Runner
from jobs.models.schedules import Schedule, ScheduleKind
from jobs.models.tally import JobTally
from jobs.models.webhooks import (
    DeliveryAttempt,
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)

__all__ = [
    "COUNT_FIELDS",
    "PAGE_SIZES",
    "ApiKey",
    "ApiKeyScope",
    "AttemptOutcome",
    "BatchJob",
    "DeliveryAttempt",
    "DeliveryStatus",
    "ItemAttempt",
    "ItemStatus",
    "JobItem",
    "JobLogEntry",
    "JobStatus",
    "JobTally",
    "LogLevel",
    "Preferences",
    "Priority",
    "Quota",
    "Runner",
    "Schedule",
    "ScheduleKind",
    "Theme",
    "Webhook",
    "WebhookDelivery",
    "WebhookEvent",
]
