"""REST API for operators: RQ queue depths (GET /api/queues) and retention (POST /api/cleanup)."""

from __future__ import annotations

from typing import Any

import django_rq
from django.conf import settings
from django.db.models import Q, Sum
from drf_spectacular.utils import extend_schema, inline_serializer
from redis.exceptions import RedisError
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rq.worker_registration import WORKERS_BY_QUEUE_KEY

from jobs import retention
from jobs.api.errors import ErrorSerializer, RequestErrorSerializer, refused
from jobs.api.filters import whole_number_or_none
from jobs.api.permissions import ScopedKeyPermission
from jobs.models import BatchJob, JobStatus, Priority
from jobs.services import ServiceError

REGISTRIES = ("started", "failed", "scheduled", "deferred", "finished")


def priority_band(queue: str) -> list[int]:
    return [p for p in range(1, 11) if Priority.queue_for(p) == queue]


def pending_items() -> dict[str, int]:
    """Items waiting in the DB per queue: one aggregate over the active jobs."""
    totals = BatchJob.objects.filter(status__in=JobStatus.ACTIVE).aggregate(
        **{
            name: Sum("count_queued", filter=Q(priority__in=priority_band(name)), default=0)
            for name in settings.JOB_QUEUES
        }
    )
    return {name: int(n) for name, n in totals.items()}


def queue_counts(name: str) -> dict[str, int]:
    """RQ's counts for one queue in two round trips, without RQ's registry clean-ups (a GET
    changes nothing). Workers count only when their key still lives (their heartbeat TTL)."""
    queue = django_rq.get_queue(name)
    conn = queue.connection
    with conn.pipeline(transaction=False) as pipe:
        pipe.llen(queue.key)
        for registry in REGISTRIES:
            pipe.zcard(getattr(queue, f"{registry}_job_registry").key)
        pipe.smembers(WORKERS_BY_QUEUE_KEY % name)
        queued, *registered, worker_keys = pipe.execute()
    with conn.pipeline(transaction=False) as pipe:
        for key in worker_keys:
            pipe.exists(key)
        workers = sum(pipe.execute()) if worker_keys else 0
    return {"queued": queued, **dict(zip(REGISTRIES, registered, strict=True)), "workers": workers}


class QueueSerializer(serializers.Serializer):
    name = serializers.CharField()
    queued = serializers.IntegerField(help_text="RQ jobs (chunks) waiting.")
    started = serializers.IntegerField()
    failed = serializers.IntegerField()
    scheduled = serializers.IntegerField()
    deferred = serializers.IntegerField()
    finished = serializers.IntegerField()
    workers = serializers.IntegerField(help_text="Live RQ workers listening on it.")
    pending_items = serializers.IntegerField(help_text="Queued items of active jobs.")


@extend_schema(
    responses={
        200: inline_serializer("Queues", {"queues": QueueSerializer(many=True)}),
        503: ErrorSerializer,
    }
)
@api_view(["GET"])
@permission_classes([ScopedKeyPermission])
def queues_view(request: Request) -> Response:
    """Per RQ queue (urgent, high, default, low): RQ jobs queued, started, failed, scheduled,
    deferred and finished, live workers listening, and the items waiting in the database."""
    waiting = pending_items()
    try:
        queues = [
            {"name": name, **queue_counts(name), "pending_items": waiting[name]}
            for name in settings.JOB_QUEUES
        ]
    except RedisError as exc:
        return Response({"detail": f"Redis is unavailable: {exc}"}, status=503)
    return Response({"queues": queues})


def parse_days(data: Any) -> int:
    if not hasattr(data, "get"):
        raise ServiceError({"detail": ['The body is an object: {"older_than_days": N}.']})
    raw = data.get("older_than_days")
    if raw is None or raw == "":
        return settings.BATCHSITE_RETENTION_DAYS
    days = None if isinstance(raw, bool) else whole_number_or_none(str(raw))
    if days is None or days > 36500:
        raise ServiceError({"older_than_days": ["A whole number of days from 0 to 36500."]})
    return days


@extend_schema(
    request=inline_serializer(
        "Cleanup",
        {
            "older_than_days": serializers.IntegerField(
                required=False,
                min_value=0,
                max_value=36500,
                help_text="Default: the BATCHSITE_RETENTION_DAYS setting.",
            )
        },
    ),
    responses={
        400: RequestErrorSerializer,
        200: inline_serializer(
            "CleanedUp",
            {
                "deleted_jobs": serializers.IntegerField(),
                "deleted_items": serializers.IntegerField(),
            },
        ),
    },
)
@api_view(["POST"])
@permission_classes([ScopedKeyPermission, IsAdminUser])
def cleanup_view(request: Request) -> Response:
    """Staff: delete finished jobs (items, attempts, logs) that finished over N days ago, a
    few rows per transaction; each schedule's last two runs are kept (jobs.retention)."""
    try:
        days = parse_days(request.data)
    except ServiceError as exc:
        return refused(exc)
    return Response(retention.purge(days))
