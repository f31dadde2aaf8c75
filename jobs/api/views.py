"""REST API: jobs (list, submit, detail, cancel, retry, delete) and health.

Views are thin: the permission helper first, then a service, then the response. Items, logs and
results live in item_views.py; queues and cleanup in ops_views.py.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs import health
from jobs.access import get_job_for_user, jobs_for, tallies_for
from jobs.api.errors import (
    InvalidParametersSerializer,
    RequestErrorSerializer,
    ServiceErrorSerializer,
    SubmitErrorSerializer,
    bad_body,
    invalid_parameters,
    refused,
)
from jobs.api.filters import (
    DATE_RANGES,
    PRIORITY_ACCEPTS,
    SORT_FIELDS,
    STATUS_ACCEPTS,
    JobFilter,
    filter_errors,
    parse_paging,
)
from jobs.api.paging import job_page
from jobs.api.parsers import SafeJSONParser
from jobs.api.permissions import ScopedKeyPermission
from jobs.api.schema import (
    DeletedJobSerializer,
    HealthSerializer,
    JobDetailSerializer,
    ProcessorOptionsField,
    SubmittedJobSerializer,
)
from jobs.api.serializers import JobListSerializer, JobSerializer, job_dict
from jobs.errors import ErrorCode
from jobs.job_facts import step_breakdown
from jobs.models import ItemStatus
from jobs.services import (
    SETTINGS_FIELDS,
    ServiceError,
    cancel_job,
    delete_job,
    retry_items,
    submit_batch,
)

RETRYABLE = (ItemStatus.FAILED, ItemStatus.CANCELLED)


LIST_PARAMETERS = [
    OpenApiParameter("status", str, description=f"Job status: {STATUS_ACCEPTS}."),
    OpenApiParameter(
        "date_range",
        str,
        enum=DATE_RANGES,
        description="Created since local midnight (today), in the last 7 days (week) or 30 days (month), in the user's time zone.",
    ),
    OpenApiParameter(
        "priority",
        str,
        description=f"Priority: {PRIORITY_ACCEPTS} (low 1–3, normal 4–6, high 7–8, urgent 9–10).",
    ),
    OpenApiParameter("processor", str, description="A processor name."),
    OpenApiParameter(
        "search",
        str,
        description="Part of the name (any case), or the start of the job id (4+ characters).",
    ),
    OpenApiParameter("limit", int, description="Page size, default 50; above 100 counts as 100."),
    OpenApiParameter("offset", int, description="Jobs to skip, default 0."),
    OpenApiParameter(
        "sort_by",
        str,
        enum=tuple(SORT_FIELDS),
        description="Default created_at; ties in id order. duration: wall-clock time from start "
        "to finish (a running job's as of its last progress update; 0 before it starts).",
    ),
    OpenApiParameter("sort_order", str, enum=("asc", "desc"), description="Default desc."),
]


class JobListView(APIView):
    """List your jobs (staff: every job) with filters, sorting, paging and a per-status summary;
    or submit a new batch.

    For example ?status=failed,cancelled&date_range=week&sort_by=progress&sort_order=asc; every
    parameter is in the API reference. A bad value is a 400 naming it and what it accepts."""

    permission_classes = [ScopedKeyPermission]
    parser_classes = [SafeJSONParser, MultiPartParser, FormParser]
    throttle_scope = "submit"

    def get_throttles(self):
        return super().get_throttles() if self.request.method == "POST" else []

    @extend_schema(
        operation_id="jobs_list",
        parameters=LIST_PARAMETERS,
        responses={
            200: JobListSerializer,
            400: OpenApiResponse(
                InvalidParametersSerializer,
                description="Every bad parameter, each with what it accepts.",
            ),
        },
    )
    def get(self, request: Request) -> Response:
        filterset = JobFilter(request.query_params, queryset=jobs_for(request.user))
        paging, errors = parse_paging(request.query_params)
        if not filterset.is_valid():
            errors = {**filter_errors(filterset.form), **errors}
        if errors:
            return invalid_parameters(errors)
        return Response(job_page(filterset, tally=tallies_for(request.user), **paging))

    @extend_schema(
        request=inline_serializer(
            "SubmitBatch",
            {
                "urls": serializers.ListField(child=serializers.CharField(), required=False),
                "text": serializers.CharField(required=False, help_text="Pasted lines."),
                "file": serializers.FileField(required=False, help_text="CSV or TXT (multipart)."),
                "processor": serializers.CharField(required=False, default="http_check"),
                "options": ProcessorOptionsField(required=False),
                "priority": serializers.CharField(required=False, help_text=PRIORITY_ACCEPTS),
                "concurrency": serializers.IntegerField(required=False, min_value=1, max_value=500),
                "item_timeout": serializers.FloatField(required=False, min_value=1, max_value=1800),
                "max_attempts": serializers.IntegerField(required=False, min_value=1, max_value=10),
                "per_host_limit": serializers.IntegerField(
                    required=False, min_value=0, max_value=500
                ),
                "host_delay": serializers.FloatField(required=False, min_value=0, max_value=60),
                "name": serializers.CharField(required=False, max_length=200),
            },
        ),
        responses={
            201: SubmittedJobSerializer,
            400: OpenApiResponse(
                SubmitErrorSerializer,
                description="Nothing valid, an unknown processor, bad options or a bad field.",
            ),
            413: OpenApiResponse(
                SubmitErrorSerializer, description="Past the URL-count or upload-size limit."
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = request.data
        if not hasattr(data, "get"):
            return bad_body("detail", "The body must be a JSON object (or a form).")
        upload = request.FILES.get("file")
        fields = {name: data.get(name) for name in SETTINGS_FIELDS if name in data}
        try:
            if upload is not None:
                submission = submit_batch(
                    request.user,
                    file=_read_upload(upload),
                    filename=upload.name or "",
                    **fields,
                )
            else:
                urls = data.get("urls")
                if hasattr(data, "getlist") and "urls" in data:  # a form: urls=a&urls=b
                    urls = data.getlist("urls")
                if urls is not None and not isinstance(urls, list):
                    raise ServiceError({"urls": ["A list of URLs (or use `text`)."]})
                submission = submit_batch(request.user, urls=urls, text=data.get("text"), **fields)
        except ServiceError as exc:
            return refused(exc)
        body = {**job_dict(submission.job), **submission.intake.as_dict()}
        return Response(body, status=status.HTTP_201_CREATED)


def _read_upload(upload) -> bytes:
    from django.conf import settings

    limit = settings.BATCHSITE_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise ServiceError(
            {"file": [f"The file is {upload.size:,} bytes; the limit is {limit:,}."]},
            status=413,
            code="upload_too_large",
        )
    return upload.read()


class JobDetailView(APIView):
    """One job: its state, counts per status and per step, throughput, ETA, and the
    sequential-vs-wall-clock comparison. DELETE removes a finished job with everything it has."""

    permission_classes = [ScopedKeyPermission]

    @extend_schema(responses={200: JobDetailSerializer})
    def get(self, request: Request, job_id) -> Response:
        job = get_job_for_user(request.user, job_id)
        return Response(job_detail(job, request))

    @extend_schema(
        responses={
            200: DeletedJobSerializer,
            409: OpenApiResponse(ServiceErrorSerializer, description="The job is still active."),
        }
    )
    def delete(self, request: Request, job_id) -> Response:
        job = get_job_for_user(request.user, job_id, act=True)
        try:
            deleted = delete_job(job, actor=request.user)
        except ServiceError as exc:
            return refused(exc)
        return Response({"deleted": str(job_id), **deleted})


# What a job has under its URL, linked from its detail (the browsable API makes links clickable;
# events is the SSE stream, routed ahead of Django in batchsite/asgi.py).
JOB_LINKS = ("items", "logs", "results", "events")


def job_detail(job, request: Request) -> dict[str, Any]:
    wall = job.wall_seconds
    done = job.done_items
    return {
        **job_dict(job),
        "options": job.options,
        "concurrency": job.concurrency,
        "item_timeout": job.item_timeout,
        "max_attempts": job.max_attempts,
        "per_host_limit": job.per_host_limit,
        "host_delay": job.host_delay,
        "error": job.error,
        "steps": step_breakdown(job),
        "throughput": round(done / wall, 3) if wall else None,
        "sequential_seconds": round(job.item_seconds, 3),
        "wall_seconds": None if wall is None else round(wall, 3),
        "speedup": None if job.speedup is None else round(job.speedup, 2),
        "seq": job.seq,
        "links": {
            name: request.build_absolute_uri(f"{reverse('api-job', args=[job.pk])}/{name}")
            for name in JOB_LINKS
        },
    }


@extend_schema(
    request=None,
    responses={
        200: JobSerializer,
        409: OpenApiResponse(ServiceErrorSerializer, description="The job has already finished."),
    },
)
@api_view(["POST"])
@permission_classes([ScopedKeyPermission])
def cancel_view(request: Request, job_id) -> Response:
    """Cancel a queued or running job; 409 when it has already finished."""
    job = get_job_for_user(request.user, job_id, act=True)
    try:
        job = cancel_job(job, actor=request.user)
    except ServiceError as exc:
        return refused(exc)
    return Response(job_dict(job))


@extend_schema(
    request=inline_serializer(
        "RetryItems",
        {
            "status": serializers.ListField(
                child=serializers.CharField(),
                required=False,
                help_text=f"Item statuses: {', '.join(RETRYABLE)}. Default: failed.",
            ),
            "error_code": serializers.CharField(
                required=False,
                help_text=f"Only the items that failed so: {', '.join(ErrorCode.values)}.",
            ),
        },
    ),
    responses={
        200: inline_serializer("Requeued", {"requeued": serializers.IntegerField()}),
        400: OpenApiResponse(RequestErrorSerializer, description="A bad status or error_code."),
        409: OpenApiResponse(ServiceErrorSerializer, description="The job is still active."),
    },
)
@api_view(["POST"])
@permission_classes([ScopedKeyPermission])
def retry_view(request: Request, job_id) -> Response:
    """Queue a finished job's failed (or cancelled) items again; 409 while it runs."""
    job = get_job_for_user(request.user, job_id, act=True)
    if not hasattr(request.data, "get"):
        return bad_body("detail", 'The body is an object: {"status": [...], "error_code": ...}.')
    statuses = request.data.get("status") or None
    if isinstance(statuses, str):
        statuses = [s.strip() for s in statuses.split(",") if s.strip()]
    if statuses is not None and not isinstance(statuses, list):
        return bad_body("status", f"A list of item statuses: {', '.join(RETRYABLE)}.")
    error_code = request.data.get("error_code") or None
    if error_code is not None and error_code not in ErrorCode.values:
        return bad_body("error_code", f"One of {', '.join(ErrorCode.values)}.")
    try:
        requeued = retry_items(job, statuses, error_code, actor=request.user)
    except ServiceError as exc:
        return refused(exc)
    return Response({"requeued": requeued})


@extend_schema(
    responses={
        200: HealthSerializer,
        503: OpenApiResponse(HealthSerializer, description="`down` names what is down."),
    }
)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def health_view(request: Request) -> Response:
    """200 when the database, Redis, a worker and the scheduler answer; 503 naming what is down."""
    report = health.check()
    return Response(report, status=200 if report["ok"] else 503)
