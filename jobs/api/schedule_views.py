"""REST API for scheduled and recurring batches: /api/schedules (list, create),
/api/schedules/{id} (detail with its recent runs and what changed since the last run; PATCH;
DELETE), /api/schedules/{id}/pause and /resume. Owners see their own, staff see all; others'
are 404. Refusals have the shape of jobs.api.errors."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs import schedule_diff, schedule_timing, schedules
from jobs.api.errors import ErrorSerializer, SubmitErrorSerializer, bad_body, refused
from jobs.api.permissions import ScopedKeyPermission
from jobs.api.schema import ProcessorOptionsField
from jobs.api.serializers import job_dict
from jobs.models import BatchJob, Schedule, ScheduleKind
from jobs.services import SETTINGS_FIELDS, ServiceError

WRITE_FIELDS = (*SETTINGS_FIELDS, *schedules.TIMING_FIELDS)
RECENT_RUNS = 10
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such schedule, or not yours.")


def get_schedule_for_user(user, pk) -> Schedule:
    try:
        return schedules.schedules_for(user).get(pk=pk)
    except (Schedule.DoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404("No such schedule.") from None


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def schedule_dict(schedule: Schedule) -> dict[str, Any]:
    """A schedule as the API shows it; `last_run_*` come from schedules.with_last_run."""
    return {
        "schedule_id": str(schedule.pk),
        "name": schedule.name,
        "kind": schedule.kind,
        "timing": schedule.timing,
        "run_at": _iso(schedule.run_at) if schedule.kind != ScheduleKind.CRON else None,
        "cron": schedule.cron or None,
        "every_minutes": schedule.interval_minutes,
        "time_zone": schedule.time_zone,
        "paused": schedule.paused,
        "next_run_at": _iso(None if schedule.paused else schedule.next_run_at),
        "last_run_at": _iso(schedule.last_run_at),
        "last_run_job": str(schedule.last_job_id)
        if getattr(schedule, "last_job_id", None)
        else None,
        "last_run_status": getattr(schedule, "last_job_status", None),
        "last_error": schedule.last_error,
        "runs": schedule.runs,
        "url_count": schedule.url_count,
        "processor": schedule.processor,
        "options": schedule.options,
        "priority": schedule.priority,
        "concurrency": schedule.concurrency,
        "item_timeout": schedule.item_timeout,
        "max_attempts": schedule.max_attempts,
        "per_host_limit": schedule.per_host_limit,
        "host_delay": schedule.host_delay,
        "created_at": _iso(schedule.created_at),
        "updated_at": _iso(schedule.updated_at),
    }


def schedule_detail(schedule: Schedule) -> dict[str, Any]:
    runs = BatchJob.objects.filter(schedule=schedule).order_by("-created_at")[:RECENT_RUNS]
    upcoming = [] if schedule.paused else schedule_timing.upcoming(schedule)
    return {
        **schedule_dict(schedule),
        "urls": schedule.urls,
        "upcoming": [_iso(moment) for moment in upcoming],
        "recent_runs": [job_dict(job) for job in runs],
        "changes_since_last_run": schedule_diff.since_last_run(schedule).as_dict(),
    }


TIMING_HELP = {
    "run_at": "ISO 8601; without an offset, in your time zone. Alone: run once then. "
    "With `every`: the first run (default now).",
    "cron": "Five fields (minute hour day month weekday), read in `time_zone`.",
    "every": "Minutes, or e.g. 15m, 2h, 1d.",
    "time_zone": "IANA name; default: your preferences' time zone.",
}
SCHEDULE_REQUEST = inline_serializer(
    "ScheduleRequest",
    {
        "urls": serializers.ListField(child=serializers.CharField(), required=False),
        "text": serializers.CharField(required=False, help_text="Pasted lines."),
        "file": serializers.FileField(required=False, help_text="CSV or TXT (multipart)."),
        **{
            name: serializers.CharField(required=False, help_text=text)
            for name, text in TIMING_HELP.items()
        },
        "name": serializers.CharField(required=False, max_length=200),
        "processor": serializers.CharField(required=False, default="http_check"),
        "options": ProcessorOptionsField(required=False),
        "priority": serializers.CharField(required=False),
        "concurrency": serializers.IntegerField(required=False, min_value=1, max_value=500),
        "item_timeout": serializers.FloatField(required=False, min_value=1, max_value=1800),
        "max_attempts": serializers.IntegerField(required=False, min_value=1, max_value=10),
        "per_host_limit": serializers.IntegerField(required=False, min_value=0, max_value=500),
        "host_delay": serializers.FloatField(required=False, min_value=0, max_value=60),
    },
)


class ScheduleSerializer(serializers.Serializer):
    schedule_id = serializers.UUIDField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=ScheduleKind.choices)
    timing = serializers.CharField(help_text='How it reads: "every 2 hours", "cron … (zone)".')
    run_at = serializers.DateTimeField(allow_null=True)
    cron = serializers.CharField(allow_null=True)
    every_minutes = serializers.IntegerField(allow_null=True)
    time_zone = serializers.CharField()
    paused = serializers.BooleanField()
    next_run_at = serializers.DateTimeField(allow_null=True, help_text="Null: paused or done.")
    last_run_at = serializers.DateTimeField(allow_null=True)
    last_run_job = serializers.UUIDField(allow_null=True)
    last_run_status = serializers.CharField(allow_null=True)
    last_error = serializers.CharField(help_text="Why the last run was refused (e.g. a quota).")
    runs = serializers.IntegerField()
    url_count = serializers.IntegerField()
    processor = serializers.CharField()
    options = serializers.DictField()
    priority = serializers.IntegerField()
    concurrency = serializers.IntegerField()
    item_timeout = serializers.FloatField()
    max_attempts = serializers.IntegerField()
    per_host_limit = serializers.IntegerField()
    host_delay = serializers.FloatField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ScheduleDetailSerializer(ScheduleSerializer):
    urls = serializers.ListField(child=serializers.CharField())
    upcoming = serializers.ListField(child=serializers.DateTimeField())
    recent_runs = serializers.ListField(
        child=serializers.DictField(), help_text="Jobs, newest first."
    )
    changes_since_last_run = serializers.DictField(
        help_text="previous_job, current_job, counts (newly_failing, recovered, changed, "
        "added, removed, same) and the first 100 URLs of each change with before/after "
        "status, http_status and error_code."
    )


SCHEDULE_DETAIL = ScheduleDetailSerializer


def _fields(data) -> dict[str, Any]:
    return {name: data.get(name) for name in WRITE_FIELDS if name in data}


class ScheduleListView(APIView):
    """Your schedules (staff: all), newest first, with their next run and last run's status;
    or make one: the URLs and batch settings of POST /api/jobs, plus when to run — `run_at`
    (once), `cron`, or `every` (with an optional first `run_at`)."""

    permission_classes = [ScopedKeyPermission]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        operation_id="schedules_list",
        responses={
            200: inline_serializer("Schedules", {"schedules": ScheduleSerializer(many=True)})
        },
    )
    def get(self, request: Request) -> Response:
        rows = schedules.with_last_run(schedules.schedules_for(request.user))
        return Response({"schedules": [schedule_dict(s) for s in rows]})

    @extend_schema(
        request=SCHEDULE_REQUEST,
        responses={
            201: SCHEDULE_DETAIL,
            400: OpenApiResponse(SubmitErrorSerializer, description="A bad field or timing."),
            413: OpenApiResponse(SubmitErrorSerializer, description="Past the size limits."),
        },
    )
    def post(self, request: Request) -> Response:
        data = request.data
        if not hasattr(data, "get"):
            return bad_body("detail", "The body must be a JSON object (or a form).")
        upload = request.FILES.get("file")
        try:
            if upload is not None:
                schedule, intake = schedules.create_schedule(
                    request.user, file=upload.read(), filename=upload.name or "", **_fields(data)
                )
            else:
                urls = data.get("urls")
                if hasattr(data, "getlist") and "urls" in data:
                    urls = data.getlist("urls")
                if urls is not None and not isinstance(urls, list):
                    raise ServiceError({"urls": ["A list of URLs (or use `text`)."]})
                schedule, intake = schedules.create_schedule(
                    request.user, urls=urls, text=data.get("text"), **_fields(data)
                )
        except ServiceError as exc:
            return refused(exc)
        body = {**schedule_detail(schedule), **intake.as_dict()}
        return Response(body, status=status.HTTP_201_CREATED)


class ScheduleDetailView(APIView):
    """One schedule: its settings, URLs, next runs, recent runs and what changed between its
    last two finished runs (newly failing, recovered, changed). PATCH changes any field given
    (a new timing is read as a whole); DELETE removes it and keeps its runs as ordinary jobs."""

    permission_classes = [ScopedKeyPermission]

    @extend_schema(responses={200: SCHEDULE_DETAIL, 404: NOT_FOUND})
    def get(self, request: Request, schedule_id) -> Response:
        schedule = get_schedule_for_user(request.user, schedule_id)
        return Response(schedule_detail(_annotated(schedule)))

    @extend_schema(
        request=SCHEDULE_REQUEST,
        responses={
            200: SCHEDULE_DETAIL,
            400: OpenApiResponse(SubmitErrorSerializer, description="A bad field or timing."),
            404: NOT_FOUND,
        },
    )
    def patch(self, request: Request, schedule_id) -> Response:
        schedule = get_schedule_for_user(request.user, schedule_id)
        data = request.data
        if not hasattr(data, "get"):
            return bad_body("detail", "The body must be a JSON object.")
        changes = _fields(data)
        for name in ("urls", "text"):
            if name in data:
                changes[name] = data.get(name)
        try:
            schedule = schedules.update_schedule(schedule, changes)
        except ServiceError as exc:
            return refused(exc)
        return Response(schedule_detail(_annotated(schedule)))

    @extend_schema(
        responses={
            200: inline_serializer("DeletedSchedule", {"deleted": serializers.UUIDField()}),
            404: NOT_FOUND,
        }
    )
    def delete(self, request: Request, schedule_id) -> Response:
        schedule = get_schedule_for_user(request.user, schedule_id)
        schedule.delete()
        return Response({"deleted": str(schedule_id)})


def _annotated(schedule: Schedule) -> Schedule:
    return schedules.with_last_run(Schedule.objects.filter(pk=schedule.pk)).get()


@extend_schema(request=None, responses={200: SCHEDULE_DETAIL, 404: NOT_FOUND})
@api_view(["POST"])
@permission_classes([ScopedKeyPermission])
def pause_view(request: Request, schedule_id) -> Response:
    """Stop running it until resumed."""
    schedule = schedules.pause(get_schedule_for_user(request.user, schedule_id))
    return Response(schedule_detail(_annotated(schedule)))


@extend_schema(request=None, responses={200: SCHEDULE_DETAIL, 404: NOT_FOUND})
@api_view(["POST"])
@permission_classes([ScopedKeyPermission])
def resume_view(request: Request, schedule_id) -> Response:
    """Run again from now on; runs missed while paused are skipped."""
    schedule = schedules.resume(get_schedule_for_user(request.user, schedule_id))
    return Response(schedule_detail(_annotated(schedule)))
