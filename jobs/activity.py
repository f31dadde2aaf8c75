"""The dashboard's activity timeline: recent submissions, starts, completions and failures, read
from the timestamps of the most recently changed jobs (one bounded query)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from jobs.models import BatchJob, JobStatus

JOBS_READ = 20
EVENTS_SHOWN = 9

# What a finished job's last moment is called, and the status colour its dot takes.
FINISHED = {
    JobStatus.COMPLETED: "completed",
    JobStatus.COMPLETED_WITH_ERRORS: "completed with errors",
    JobStatus.CANCELLED: "was cancelled",
    JobStatus.FAILED: "failed",
}


@dataclass(frozen=True)
class Activity:
    at: datetime
    job: BatchJob
    verb: str
    color: str


def _moments(job: BatchJob) -> list[Activity]:
    moments = [Activity(job.created_at, job, "submitted", JobStatus.colors[JobStatus.QUEUED])]
    if job.started_at:
        moments.append(
            Activity(job.started_at, job, "started", JobStatus.colors[JobStatus.RUNNING])
        )
    if job.finished_at and job.status in FINISHED:
        color = JobStatus.colors[JobStatus(job.status)]
        moments.append(Activity(job.finished_at, job, FINISHED[job.status], color))
    return moments


def timeline(jobs: QuerySet[BatchJob], limit: int = EVENTS_SHOWN) -> list[Activity]:
    """The latest moments of the jobs that changed last, newest first."""
    recent = jobs.order_by("-updated_at").only(
        "id",
        "name",
        "status",
        "total_items",
        "count_failed",
        "created_at",
        "started_at",
        "finished_at",
        "updated_at",
    )[:JOBS_READ]
    moments = [moment for job in recent for moment in _moments(job)]
    moments.sort(key=lambda m: m.at, reverse=True)
    return moments[:limit]
