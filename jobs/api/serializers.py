"""What the API says about jobs (names and shapes are a public contract, see DESIGN.md)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from jobs.models import BatchJob, ItemStatus, JobStatus

# A job as the API lists it: the Contracts' keys, in their order (job_dict writes exactly these).
JOB_FIELDS = (
    "job_id",
    "name",
    "processor",
    "status",
    "overall_progress",
    "priority",
    "total_items",
    "counts",
    "current_step",
    "estimated_time_remaining",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
)
# The columns a job list needs, so list queries load nothing else.
LIST_FIELDS = (
    "id",
    "name",
    "processor",
    "status",
    "progress",
    "priority",
    "total_items",
    *(f"count_{s}" for s in ItemStatus.values),
    "current_step",
    "item_seconds",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
)


class CountsSerializer(serializers.Serializer):
    pending = serializers.IntegerField()
    queued = serializers.IntegerField()
    processing = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    skipped = serializers.IntegerField()


class JobSerializer(serializers.ModelSerializer):
    job_id = serializers.UUIDField(source="id", read_only=True)
    status = serializers.ChoiceField(choices=JobStatus.choices, read_only=True)
    overall_progress = serializers.FloatField(source="progress", read_only=True)
    counts = CountsSerializer(read_only=True)
    estimated_time_remaining = serializers.FloatField(
        read_only=True, allow_null=True, help_text="Seconds, at the rate so far; null before one."
    )

    class Meta:
        model = BatchJob
        fields = JOB_FIELDS
        read_only_fields = fields

    def to_representation(self, job: BatchJob) -> dict[str, Any]:
        # Hand-rolled: a page of 100 jobs is on the hot path, DRF's field machinery is not needed.
        return job_dict(job)


def _iso(value) -> str | None:
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def job_dict(job: BatchJob) -> dict[str, Any]:
    eta = job.estimated_time_remaining
    return {
        "job_id": str(job.id),
        "name": job.name,
        "processor": job.processor,
        "status": job.status,
        "overall_progress": round(job.progress, 2),
        "priority": job.priority,
        "total_items": job.total_items,
        "counts": job.counts,
        "current_step": job.current_step,
        "estimated_time_remaining": None if eta is None else round(eta, 1),
        "created_at": _iso(job.created_at),
        "updated_at": _iso(job.updated_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
    }


class PaginationSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()


class SummarySerializer(serializers.Serializer):
    total_jobs = serializers.IntegerField()
    completed = serializers.IntegerField(help_text="completed and completed_with_errors")
    failed = serializers.IntegerField()
    in_progress = serializers.IntegerField(help_text="running and cancelling")
    pending = serializers.IntegerField(help_text="pending and queued")
    cancelled = serializers.IntegerField()


class JobListSerializer(serializers.Serializer):
    jobs = JobSerializer(many=True)
    pagination = PaginationSerializer()
    summary = SummarySerializer()
