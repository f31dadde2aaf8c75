"""GET /api/analytics/overview (the KPI row and every chart: what the page draws) and
GET /api/analytics/charts/{name} (one chart, JSON or `?format=csv`). Users get their own
figures, staff everyone's; bad parameters answer 400 in the jobs API's shape."""

from __future__ import annotations

import csv
import io

from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, content_negotiation_class, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response

from analytics.charts import CHARTS, Build
from analytics.window import RANGE_CHOICES, Window, parse_window
from jobs.access import can_see_all
from jobs.api.errors import ErrorSerializer, InvalidParametersSerializer, invalid_parameters
from jobs.api.export import ExportNegotiation
from jobs.api.permissions import ScopedKeyPermission
from jobs.processors.registry import processors

FORMATS = ("json", "csv")

WINDOW_PARAMETERS = [
    OpenApiParameter("range", str, enum=RANGE_CHOICES, description="Default 24h."),
    OpenApiParameter(
        "start",
        OpenApiTypes.DATETIME,
        description="With range=custom (required): a date or date-time (UTC unless it says).",
    ),
    OpenApiParameter(
        "end",
        OpenApiTypes.DATETIME,
        description="With range=custom: default now; a date means the end of that day.",
    ),
    OpenApiParameter("processor", str, description="Only this processor's items (default all)."),
]


class WindowSerializer(serializers.Serializer):
    range = serializers.ChoiceField(choices=RANGE_CHOICES)
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    processor = serializers.CharField(help_text="Empty for all processors.")
    point = serializers.ChoiceField(
        choices=["minute", "hour", "day"], help_text="One chart point's width."
    )


class KpiSerializer(serializers.Serializer):
    items = serializers.IntegerField(help_text="Items that reached a final state.")
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    success_rate = serializers.FloatField(
        allow_null=True, help_text="Percent of succeeded + failed."
    )
    p50_ms = serializers.FloatField(allow_null=True)
    p95_ms = serializers.FloatField(allow_null=True)
    p99_ms = serializers.FloatField(allow_null=True)
    items_per_minute = serializers.FloatField()
    jobs = serializers.IntegerField(help_text="Jobs submitted.")
    api_requests = serializers.IntegerField()
    api_p95_ms = serializers.FloatField(allow_null=True)
    webhook_attempts = serializers.IntegerField()
    webhook_success_rate = serializers.FloatField(allow_null=True)


def _row() -> serializers.DictField:
    return serializers.DictField(help_text="One row: the chart's columns.")


def _window(request: Request) -> tuple[Window | None, dict]:
    owner = None if can_see_all(request.user) else request.user.pk
    return parse_window(request.query_params, owner, tuple(processors()))


@extend_schema(
    parameters=WINDOW_PARAMETERS,
    responses={
        200: inline_serializer(
            "AnalyticsOverview",
            {
                "window": WindowSerializer(),
                "kpis": KpiSerializer(),
                "charts": serializers.DictField(
                    child=serializers.ListField(child=_row()),
                    help_text="Chart name → rows: " + ", ".join(CHARTS),
                ),
            },
        ),
        400: InvalidParametersSerializer,
    },
)
@api_view(["GET"])
@permission_classes([ScopedKeyPermission])
def overview_view(request: Request) -> Response:
    """The KPI row and every chart's rows for a time range (what the analytics page draws)."""
    window, errors = _window(request)
    if errors:
        return invalid_parameters(errors)
    return Response(Build(window, request.user).overview())


@extend_schema(
    parameters=[
        OpenApiParameter(
            "name", str, OpenApiParameter.PATH, enum=tuple(CHARTS), description="The chart."
        ),
        *WINDOW_PARAMETERS,
        OpenApiParameter("format", str, enum=FORMATS, description="Default json."),
    ],
    responses={
        (200, "application/json"): inline_serializer(
            "AnalyticsChart",
            {
                "chart": serializers.CharField(),
                "title": serializers.CharField(),
                "columns": serializers.ListField(child=serializers.CharField()),
                "window": WindowSerializer(),
                "rows": serializers.ListField(child=_row()),
            },
        ),
        (200, "text/csv"): OpenApiTypes.STR,
        400: InvalidParametersSerializer,
        404: ErrorSerializer,
    },
)
@api_view(["GET"])
@permission_classes([ScopedKeyPermission])
@content_negotiation_class(ExportNegotiation)
def chart_view(request: Request, name: str):
    """One chart's rows: success_rate, durations, throughput, queue_depth, error_codes,
    failing_hosts, jobs_per_day, api_times, webhooks."""
    if name not in CHARTS:
        raise Http404("No such chart.")
    window, errors = _window(request)
    fmt = request.query_params.get("format") or "json"
    if fmt not in FORMATS:
        errors["format"] = {"message": f"Invalid value {fmt!r}.", "accepts": ", ".join(FORMATS)}
    if errors:
        return invalid_parameters(errors)
    rows = Build(window, request.user).chart(name)
    columns = CHARTS[name].columns
    if fmt == "csv":
        return _csv(name, window, columns, rows)
    return Response(
        {
            "chart": name,
            "title": CHARTS[name].title,
            "columns": columns,
            "window": window.as_dict(),
            "rows": rows,
        }
    )


def _csv(name: str, window: Window, columns, rows) -> HttpResponse:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    filename = f"analytics-{name}-{window.range}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
