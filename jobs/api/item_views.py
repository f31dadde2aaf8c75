"""REST API: a job's items (keyset-paginated), its log, and its results (streamed exports).

Items are paged with a keyset cursor, never an offset, so page 20,000 of a 1,000,000-item job costs
what page 1 costs: `WHERE job_id = ? AND position > ? ORDER BY position LIMIT n` on the unique
(job, position) index (the duration and finished_at orderings want (job, field, position) indexes
the same way). Exports stream in constant memory, in both the WSGI and the ASGI handler.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Prefetch, Q, QuerySet, prefetch_related_objects
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from jobs.access import get_job_for_user
from jobs.api.errors import InvalidParametersSerializer, invalid_parameters
from jobs.api.filters import whole_number_or_none
from jobs.api.permissions import ScopedKeyPermission
from jobs.api.serializers import _iso
from jobs.errors import ErrorCode
from jobs.models import BatchJob, ItemAttempt, ItemStatus, JobItem, JobLogEntry, LogLevel

MAX_INT = 2**62  # past this nothing exists, and the value still fits a database integer


class BadParam(ValueError):
    def __init__(self, message: str, accepts: str) -> None:
        super().__init__(message)
        self.accepts = accepts


def parse_params(params, parsers: dict[str, Callable[[str], Any]], defaults: dict[str, Any]):
    """(values, errors): every bad parameter is named, with what it accepts, all at once."""
    values, errors = dict(defaults), {}
    for name, parse in parsers.items():
        raw = params.get(name)
        if raw is None or raw == "":
            continue
        try:
            values[name] = parse(raw)
        except BadParam as exc:
            errors[name] = {"message": str(exc), "accepts": exc.accepts}
    return values, errors


def choice_list(choices: list[str]) -> Callable[[str], list[str]]:
    accepts = ", ".join(choices) + " (one, or several separated by commas)"

    def parse(raw: str) -> list[str]:
        picked = [part.strip() for part in raw.split(",") if part.strip()]
        unknown = [part for part in picked if part not in choices]
        if unknown or not picked:
            raise BadParam(f"Unknown value {', '.join(unknown) or raw!r}.", accepts)
        return picked

    return parse


def one_of(choices) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in choices:
            raise BadParam(f"Invalid value {raw!r}.", ", ".join(choices))
        return raw

    return parse


def whole_number(low: int, high: int, clamp: int | None = None) -> Callable[[str], int]:
    accepts = f"a whole number from {low} to {high}"
    if clamp is not None:
        accepts = f"a whole number ≥ {low} (above {clamp} counts as {clamp})"

    def parse(raw: str) -> int:
        number = whole_number_or_none(raw)
        if number is None:
            raise BadParam(f"Invalid number {raw!r}.", accepts)
        if clamp is not None and number >= low:
            return min(number, clamp)
        if not low <= number <= high:
            raise BadParam(f"{number} is out of range.", accepts)
        return number

    return parse


def text(raw: str) -> str:
    if len(raw) > 200 or "\x00" in raw:
        raise BadParam("Too long, or not text.", "text of at most 200 characters")
    return raw


# --- items -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ordering:
    field: str
    descending: bool

    @property
    def nullable(self) -> bool:
        return self.field != "position"


ORDERINGS = {
    name: Ordering(name.lstrip("-"), name.startswith("-"))
    for name in ("position", "-position", "duration", "-duration", "finished_at", "-finished_at")
}
CURSOR_ACCEPTS = "the cursor of a previous response's next or previous link"
INCLUDES = ("attempts",)
ITEM_PARAMS = {
    "status": choice_list(ItemStatus.values),
    "error_code": choice_list(ErrorCode.values),
    "http_status": whole_number(100, 599),
    "search": text,
    "ordering": one_of(tuple(ORDERINGS)),
    "limit": whole_number(1, 200, clamp=200),
    "include": choice_list(list(INCLUDES)),
    "cursor": str,
}

# A keyset position: (zone, value, position). Zone 0 holds rows whose ordering value is set, in
# (value, position) order; zone 1 the rows where it is null (not finished yet), by position,
# after zone 0 whichever the direction. Each zone is one index-friendly range query.
Key = tuple[int, Any, int]


def encode_cursor(ordering: str, direction: str, key: Key) -> str:
    zone, value, position = key
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([ordering, direction, zone, value, position], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, ordering: str) -> tuple[str, Key]:
    """(direction, key); BadParam for anything this API did not hand out for this ordering."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, direction, zone, value, position = json.loads(raw)
        field = ORDERINGS[ordering].field
        valid = (
            name == ordering
            and direction in ("n", "p")
            and zone in ((0,) if field == "position" else (0, 1))
            and type(position) is int
            and 0 <= position <= MAX_INT
        )
        if field == "position":
            value = position
        elif zone == 1:
            value = None
        elif field == "duration":
            valid = valid and type(value) in (int, float) and math.isfinite(value)
        else:
            value = datetime.fromisoformat(value)
            valid = valid and value.tzinfo is not None
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
        valid = False
    if not valid:
        raise BadParam("Invalid cursor.", CURSOR_ACCEPTS)
    return direction, (zone, value, position)


def _zone_rows(base: QuerySet, o: Ordering, zone: int, forward: bool, key: Key | None):
    """The rows of one zone strictly past `key` (None: from the zone's start), in walking order."""
    if zone == 1:
        qs = base.filter(**{f"{o.field}__isnull": True})
        if key is not None:
            qs = qs.filter(**{"position__gt" if forward else "position__lt": key[2]})
        return qs.order_by("position" if forward else "-position")
    qs = base.filter(**{f"{o.field}__isnull": False}) if o.nullable else base
    descending = o.descending == forward
    strict, loose = ("lt", "lte") if descending else ("gt", "gte")
    if key is not None and o.field == "position":
        qs = qs.filter(**{f"position__{strict}": key[2]})
    elif key is not None:
        # `value >= v AND (value > v OR position > p)`: a range the (job, value, position) index
        # can start from, unlike the plain OR.
        _, value, position = key
        qs = qs.filter(**{f"{o.field}__{loose}": value}).filter(
            Q(**{f"{o.field}__{strict}": value}) | Q(**{f"position__{strict}": position})
        )
    fields = ("position",) if o.field == "position" else (o.field, "position")
    return qs.order_by(*(f"-{name}" if descending else name for name in fields))


def walk(base: QuerySet, o: Ordering, key: Key | None, forward: bool, n: int) -> list[JobItem]:
    """Up to n rows past `key` in walking order: one query per zone, two at most."""
    zones = [0, 1] if o.nullable else [0]
    if not forward:
        zones.reverse()
    if key is not None:
        zones = zones[zones.index(key[0]) :]
    rows: list[JobItem] = []
    for zone in zones:
        zone_key = key if key is not None and key[0] == zone else None
        rows += _zone_rows(base, o, zone, forward, zone_key)[: n - len(rows)]
        if len(rows) >= n:
            break
    return rows


def item_key(item: JobItem, o: Ordering) -> Key:
    value = getattr(item, o.field)
    return (1, None, item.position) if value is None else (0, value, item.position)


ITEM_FIELDS = (
    "id",
    "position",
    "url",
    "input",
    "status",
    "current_step",
    "progress",
    "attempts",
    "http_status",
    "error_code",
    "error",
    "duration",
    "started_at",
    "finished_at",
    "result",
)
ATTEMPT_FIELDS = (
    "number",
    "outcome",
    "step",
    "worker",
    "error_code",
    "error",
    "http_status",
    "duration",
    "started_at",
    "finished_at",
)


def _plain(value: Any) -> Any:
    return _iso(value) if isinstance(value, datetime) else value


def item_dict(item: JobItem, attempts: bool = False) -> dict[str, Any]:
    # Hand-rolled like job_dict: 200 items a page, DRF's field machinery is not needed.
    data = {name: _plain(getattr(item, name)) for name in ITEM_FIELDS}
    if attempts:
        data["attempt_history"] = [
            {name: _plain(getattr(a, name)) for name in ATTEMPT_FIELDS}
            for a in item.attempt_history.all()
        ]
    return data


class ItemStatusField(serializers.CharField):
    pass


class ItemStatusSchema(OpenApiSerializerFieldExtension):
    """`ItemStatusEnum`, named here: drf-spectacular's enum hook would name it after the field,
    `status`, which the job status enum already is (a collision warning)."""

    target_class = ItemStatusField

    def map_serializer_field(self, auto_schema, direction):
        schema = {"type": "string", "enum": ItemStatus.values}
        component = ResolvedComponent(
            "ItemStatusEnum", ResolvedComponent.SCHEMA, object="ItemStatusEnum", schema=schema
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


class AttemptSerializer(serializers.ModelSerializer):
    """For the schema: what item_dict() writes per attempt."""

    class Meta:
        model = ItemAttempt
        fields = ATTEMPT_FIELDS


class ItemSerializer(serializers.ModelSerializer):
    """For the schema: what item_dict() writes."""

    status = ItemStatusField()
    attempt_history = AttemptSerializer(many=True, required=False, help_text="include=attempts")

    class Meta:
        model = JobItem
        fields = (*ITEM_FIELDS, "attempt_history")


class ItemPageSerializer(serializers.Serializer):
    items = ItemSerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page, null on the last.")
    previous = serializers.URLField(allow_null=True, help_text="The page before, if any.")


def filtered_items(job: BatchJob, params: dict[str, Any]) -> QuerySet[JobItem]:
    items = JobItem.objects.filter(job=job).defer("worker")
    if params.get("status"):
        items = items.filter(status__in=params["status"])
    if params.get("error_code"):
        items = items.filter(error_code__in=params["error_code"])
    if params.get("http_status") is not None:
        items = items.filter(http_status=params["http_status"])
    if params.get("search"):
        items = items.filter(url__icontains=params["search"])
    return items


def item_page(request: Request, job: BatchJob, params: dict[str, Any]) -> dict[str, Any]:
    name, limit = params["ordering"], params["limit"]
    o = ORDERINGS[name]
    direction, key = params.get("cursor") or ("n", None)
    forward = direction == "n"
    rows = walk(filtered_items(job, params), o, key, forward, limit + 1)
    more, rows = len(rows) > limit, rows[:limit]
    if not forward:
        rows.reverse()
    url = request.build_absolute_uri()

    def link(direction: str, row: JobItem) -> str:
        return replace_query_param(url, "cursor", encode_cursor(name, direction, item_key(row, o)))

    if forward:
        after = link("n", rows[-1]) if more else None
        before = link("p", rows[0]) if key is not None and rows else None
    else:
        before = link("p", rows[0]) if more else None
        # Nothing before the cursor's row: it starts the first page.
        after = link("n", rows[-1]) if rows else remove_query_param(url, "cursor")
    with_attempts = "attempts" in (params.get("include") or ())
    if with_attempts:
        history = ItemAttempt.objects.order_by("number", "id")
        prefetch_related_objects(rows, Prefetch("attempt_history", queryset=history))
    return {
        "items": [item_dict(item, with_attempts) for item in rows],
        "next": after,
        "previous": before,
    }


ITEM_PARAMETERS = [
    OpenApiParameter("status", str, description=f"Item status: {', '.join(ItemStatus.values)}."),
    OpenApiParameter("error_code", str, description=f"Error code: {', '.join(ErrorCode.values)}."),
    OpenApiParameter("http_status", int, description="HTTP status of the final response."),
    OpenApiParameter("search", str, description="Substring of the URL."),
    OpenApiParameter("ordering", str, enum=tuple(ORDERINGS), description="Default position."),
    OpenApiParameter("cursor", str, description="From a previous response's next/previous."),
    OpenApiParameter("limit", int, description="Page size, default 50; above 200 counts as 200."),
    OpenApiParameter("include", str, enum=INCLUDES, description="attempts: the attempt history."),
]


class ItemListView(APIView):
    """A job's items, filtered and ordered, one keyset page at a time."""

    permission_classes = [ScopedKeyPermission]

    @extend_schema(
        parameters=ITEM_PARAMETERS,
        responses={200: ItemPageSerializer, 400: InvalidParametersSerializer},
    )
    def get(self, request: Request, job_id) -> Response:
        job = get_job_for_user(request.user, job_id)
        params, errors = parse_params(
            request.query_params, ITEM_PARAMS, {"ordering": "position", "limit": 50}
        )
        if "cursor" in params and "ordering" not in errors:
            try:
                params["cursor"] = decode_cursor(params["cursor"], params["ordering"])
            except BadParam as exc:
                errors["cursor"] = {"message": str(exc), "accepts": exc.accepts}
        if errors:
            return invalid_parameters(errors)
        return Response(item_page(request, job, params))


# --- logs --------------------------------------------------------------------------------------

LEVELS = {level.label: level.value for level in LogLevel}
LOG_PARAMS = {
    "level": one_of(tuple(LEVELS)),
    "search": text,
    "after_id": whole_number(0, MAX_INT),
    "limit": whole_number(1, 1000, clamp=1000),
}


def log_dict(entry: JobLogEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "timestamp": _iso(entry.timestamp),
        "level": LogLevel(entry.level).label,
        "message": entry.message,
        "item": entry.item_id,
        "url": entry.item.url if entry.item_id else None,
    }


class LogEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    timestamp = serializers.DateTimeField()
    level = serializers.ChoiceField(choices=tuple(LEVELS))
    message = serializers.CharField()
    item = serializers.IntegerField(allow_null=True, help_text="The item's id, if about one.")
    url = serializers.CharField(allow_null=True, help_text="The item's URL, if about one.")


class LogPageSerializer(serializers.Serializer):
    logs = LogEntrySerializer(many=True)
    last_id = serializers.IntegerField(
        allow_null=True, help_text="Pass as after_id next time (the given after_id if none new)."
    )


class LogListView(APIView):
    """A job's log, oldest first; `after_id` is the catch-up cursor (entries with a larger id)."""

    permission_classes = [ScopedKeyPermission]

    @extend_schema(
        parameters=[
            OpenApiParameter("level", str, enum=tuple(LEVELS), description="This level and above."),
            OpenApiParameter("search", str, description="Substring of the message."),
            OpenApiParameter("after_id", int, description="Entries with a larger id only."),
            OpenApiParameter("limit", int, description="Default 100; above 1000 counts as 1000."),
        ],
        responses={200: LogPageSerializer, 400: InvalidParametersSerializer},
    )
    def get(self, request: Request, job_id) -> Response:
        job = get_job_for_user(request.user, job_id)
        params, errors = parse_params(request.query_params, LOG_PARAMS, {"limit": 100})
        if errors:
            return invalid_parameters(errors)
        entries = JobLogEntry.objects.filter(job=job).select_related("item")
        entries = entries.only("id", "timestamp", "level", "message", "item__url")
        if "level" in params:
            entries = entries.filter(level__gte=LEVELS[params["level"]])
        if params.get("search"):
            entries = entries.filter(message__icontains=params["search"])
        if "after_id" in params:
            entries = entries.filter(id__gt=params["after_id"])
        logs = [log_dict(entry) for entry in entries.order_by("id")[: params["limit"]]]
        # With nothing new, last_id repeats the caller's cursor so it can be passed on as is.
        last_id = logs[-1]["id"] if logs else params.get("after_id")
        return Response({"logs": logs, "last_id": last_id})
