"""The jobs app's models, one module per concern; everything is importable from here."""

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
from jobs.models.tally import JobTally

__all__ = [
    "COUNT_FIELDS",
    "ApiKey",
    "ApiKeyScope",
    "AttemptOutcome",
    "BatchJob",
    "ItemAttempt",
    "ItemStatus",
    "JobItem",
    "JobLogEntry",
    "JobStatus",
    "JobTally",
    "LogLevel",
    "Priority",
    "Runner",
]
