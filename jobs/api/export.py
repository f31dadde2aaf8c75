"""GET /api/jobs/{id}/results: every item of a job, streamed in constant memory (CSV, JSON,
JSON lines)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from jobs.access import get_job_for_user
from jobs.api.errors import InvalidParametersSerializer, invalid_parameters
from jobs.api.item_views import ItemStatusField, one_of, parse_params
from jobs.api.permissions import ScopedKeyPermission
from jobs.api.serializers import _iso
from jobs.models import BatchJob, JobItem

EXPORT_CHUNK = 2000
COLUMN_SAMPLE = 200
BASE_COLUMNS = (
    "position",
    "url",
    "input",
    "status",
    "error_code",
    "error",
    "http_status",
    "duration",
    "finished_at",
)
HTTP_CHECK_COLUMNS = (
    "ok",
    "status_code",
    "final_url",
    "redirect_count",
    "content_type",
    "bytes",
    "timings.total",
)
FORMATS = {
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def result_columns(job: BatchJob) -> list[tuple[str, tuple[str, ...]]]:
    """CSV result columns as (header, path): http_check's key fields; for other processors the
    top-level scalar fields of the job's first results, sorted (jsonb keeps no key order)."""
    if job.processor == "http_check":
        return [(name, tuple(name.split("."))) for name in HTTP_CHECK_COLUMNS]
    results = job.items.filter(result__isnull=False).order_by("position")
    keys: set[str] = set()
    for result in results.values_list("result", flat=True)[:COLUMN_SAMPLE]:
        if isinstance(result, dict):
            keys.update(k for k, v in result.items() if _scalar(v))
    return [(f"result.{k}" if k in BASE_COLUMNS else k, (k,)) for k in sorted(keys)]


def _dig(result: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(result, dict):
            return None
        result = result.get(part)
    return result


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value  # a spreadsheet would run "=…" from a fetched page as a formula
    return value


class Export:
    """One job's results as bytes, chunk by chunk: each chunk is one keyset query on
    (job, position), so no statement stays open while a slow client downloads."""

    def __init__(self, job: BatchJob, fmt: str) -> None:
        self.job_id, self.fmt, self.first = job.pk, fmt, True
        self.columns = result_columns(job) if fmt == "csv" else []

    def head(self) -> bytes:
        if self.fmt == "csv":
            return self._csv([[*BASE_COLUMNS, *(name for name, _ in self.columns)]])
        return b"[" if self.fmt == "json" else b""

    def tail(self) -> bytes:
        if self.fmt != "json":
            return b""
        return b"]\n" if self.first else b"\n]\n"

    def chunk(self, after: int) -> tuple[bytes, int | None]:
        """The rows past position `after`, and the position to go on from (None: done)."""
        rows = list(
            JobItem.objects.filter(job_id=self.job_id, position__gt=after)
            .order_by("position")
            .values_list(*BASE_COLUMNS, "result")[:EXPORT_CHUNK]
        )
        if not rows:
            return b"", None
        last = rows[-1][0] if len(rows) == EXPORT_CHUNK else None
        if self.fmt == "csv":
            return self._csv(self._csv_row(row) for row in rows), last
        objects = (
            json.dumps(
                {**dict(zip(BASE_COLUMNS, row[:-1], strict=True)), "result": row[-1]},
                ensure_ascii=False,
                default=_iso,
            )
            for row in rows
        )
        if self.fmt == "jsonl":
            body = "".join(f"{obj}\n" for obj in objects)
        else:
            body = ("\n" if self.first else ",\n") + ",\n".join(objects)
            self.first = False
        # A lone surrogate (from a "\\ud800" escape in stored JSON) becomes that escape again.
        return body.encode("utf-8", "backslashreplace"), last

    def _csv_row(self, row: tuple) -> list[Any]:
        *base, result = row
        base[-1] = _iso(base[-1])  # finished_at
        return [_cell(v) for v in base] + [_cell(_dig(result, path)) for _, path in self.columns]

    @staticmethod
    def _csv(rows) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        return buffer.getvalue().encode("utf-8", "replace")

    def __iter__(self) -> Iterator[bytes]:
        yield self.head()
        after: int | None = -1
        while after is not None:
            data, after = self.chunk(after)
            yield data
        yield self.tail()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        # Under ASGI Django would drain a sync iterator into a list first; this one awaits each
        # chunk (query and formatting) in the request's thread instead.
        yield self.head()
        after: int | None = -1
        while after is not None:
            data, after = await sync_to_async(self.chunk)(after)
            yield data
        yield self.tail()


class ExportRowSerializer(serializers.ModelSerializer):
    """For the schema: one item of a JSON export (a JSON lines export has one a line)."""

    status = ItemStatusField()

    class Meta:
        model = JobItem
        fields = (*BASE_COLUMNS, "result")


class ExportNegotiation(DefaultContentNegotiation):
    """Here `?format=` names the export format; DRF would read it as a renderer name and answer
    404 for csv. Error bodies (400/401/404) are JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ResultsView(APIView):
    """The job's results, one row per item, streamed: `format` csv, json (an array) or jsonl."""

    permission_classes = [ScopedKeyPermission]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = ExportNegotiation

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=tuple(FORMATS), description="Default json.")
        ],
        responses={
            (200, "application/json"): ExportRowSerializer(many=True),
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            (200, "text/csv"): OpenApiTypes.STR,
            400: InvalidParametersSerializer,
        },
    )
    def get(self, request: Request, job_id):
        job = get_job_for_user(request.user, job_id)
        params, errors = parse_params(
            request.query_params, {"format": one_of(tuple(FORMATS))}, {"format": "json"}
        )
        if errors:
            return invalid_parameters(errors)
        fmt = params["format"]
        export = Export(job, fmt)
        is_asgi = isinstance(request._request, ASGIRequest)
        stream = export.__aiter__() if is_asgi else iter(export)
        response = StreamingHttpResponse(stream, content_type=FORMATS[fmt])
        filename = f"job-{str(job.pk)[:8]}.{fmt}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "private, no-store"
        return response
