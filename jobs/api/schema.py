"""What the OpenAPI document says beyond the views' own `extend_schema`: the Bearer key scheme,
the bodies the views build by hand, and the error responses every endpoint shares.

The shared ones (401, 403, 404, 429, and 400/415 for bodies) are added by `add_error_responses`, a
drf-spectacular postprocessing hook, from what each view really does: its authenticators,
permissions, throttles and path. So an endpoint added later is described without anyone having to
remember to. Errors only one endpoint has (409 when finished, 413 past a limit, the list's
parameter 400s) are declared on the view, with the serializers of jobs.api.errors.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.settings import spectacular_settings
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS, AllowAny, IsAuthenticated
from rest_framework.throttling import ScopedRateThrottle

from jobs.api.errors import ErrorSerializer, IntakeSerializer
from jobs.api.permissions import ScopedKeyPermission
from jobs.api.serializers import JobSerializer
from jobs.processors.options import options_schemas


class BearerKeyScheme(OpenApiAuthenticationExtension):
    """`Authorization: Bearer <key>`, so Swagger UI's "Authorize" takes an API key."""

    target_class = "jobs.api.auth.BearerKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "API key",
            "description": (
                "An API key from the settings page or `manage.py create_api_key USERNAME` "
                "(starts with `bs_`). A read-only key may only read."
            ),
        }


# --- success bodies the views build by hand ---------------------------------------------------


class SubmittedJobSerializer(JobSerializer, IntakeSerializer):
    """201 of POST /api/jobs: the job plus what the intake made of the input."""

    class Meta(JobSerializer.Meta):
        fields = (*JobSerializer.Meta.fields, *IntakeSerializer._declared_fields)
        read_only_fields = fields


class JobDetailSerializer(JobSerializer):
    options = serializers.DictField(help_text="The processor's options.")
    concurrency = serializers.IntegerField()
    item_timeout = serializers.FloatField(help_text="Seconds per attempt.")
    max_attempts = serializers.IntegerField()
    per_host_limit = serializers.IntegerField()
    host_delay = serializers.FloatField()
    error = serializers.CharField(help_text="Why the job failed, if it did.")
    steps = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField()),
        help_text=(
            "Step each item reached (or `not started`) → item status → items. While the job "
            "runs, recounted at most every 5 s."
        ),
    )
    throughput = serializers.FloatField(allow_null=True, help_text="Items done per second.")
    sequential_seconds = serializers.FloatField(help_text="Σ item processing time.")
    wall_seconds = serializers.FloatField(allow_null=True, help_text="Started → finished (or now).")
    speedup = serializers.FloatField(allow_null=True, help_text="sequential ÷ wall.")
    seq = serializers.IntegerField(help_text="Event sequence number.")
    links = serializers.DictField(
        child=serializers.URLField(),
        help_text="The job's items, logs, results and events (server-sent) URLs.",
    )

    class Meta(JobSerializer.Meta):
        fields = (
            *JobSerializer.Meta.fields,
            "options",
            "concurrency",
            "item_timeout",
            "max_attempts",
            "per_host_limit",
            "host_delay",
            "error",
            "steps",
            "throughput",
            "sequential_seconds",
            "wall_seconds",
            "speedup",
            "seq",
            "links",
        )
        read_only_fields = fields


class DeletedJobSerializer(serializers.Serializer):
    deleted = serializers.UUIDField(help_text="The job's id.")
    attempts = serializers.IntegerField()
    logs = serializers.IntegerField()
    items = serializers.IntegerField()


class HealthPartSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    detail = serializers.JSONField(help_text="What answered, or why it did not.")
    ms = serializers.FloatField()


class HealthSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    down = serializers.ListField(child=serializers.CharField(), help_text="Parts that are down.")
    database = HealthPartSerializer()
    redis = HealthPartSerializer()
    workers = HealthPartSerializer()
    scheduler = HealthPartSerializer(required=False, help_text="Absent while Redis is down.")


# --- the shared error responses ---------------------------------------------------------------

JOB_ID_DESCRIPTION = "The job's id. Another user's job answers 404, like a missing one."
RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer"},
        "description": "Seconds until the next request is allowed.",
    }
}
WWW_AUTHENTICATE = {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Bearer`."}}


def _error_responses(view, method: str, path: str, operation: dict) -> dict[int, tuple[str, dict]]:
    """Status → (description, extra response fields) of what DRF itself answers on this view."""
    found: dict[int, tuple[str, dict]] = {}
    authenticators = view.get_authenticators()
    permissions = view.get_permissions()
    open_to_all = all(isinstance(p, AllowAny) for p in permissions)
    if authenticators:
        found[401] = (
            "Not signed in, or an invalid or revoked API key."
            if not open_to_all
            else "An invalid or revoked API key.",
            {"headers": WWW_AUTHENTICATE},
        )
    reasons = []
    if any(
        not isinstance(p, (AllowAny, IsAuthenticated, ScopedKeyPermission)) for p in permissions
    ):
        reasons.append("not allowed to you (e.g. staff only)")
    if method not in SAFE_METHODS:
        if any(isinstance(p, ScopedKeyPermission) for p in permissions):
            reasons.append("a read-only API key on a write")
        if any(isinstance(a, SessionAuthentication) for a in authenticators):
            reasons.append("session auth without a CSRF token")
    if reasons:
        found[403] = ("Forbidden: " + "; ".join(reasons) + ".", {})
    if "{job_id}" in path:
        found[404] = ("No such job, or not yours.", {})
    if "requestBody" in operation:
        found[400] = ("Malformed request body.", {})
        found[415] = ("Unsupported body media type.", {})
    throttled = any(
        not isinstance(t, ScopedRateThrottle) or getattr(view, "throttle_scope", None)
        for t in view.get_throttles()
    )
    if throttled:
        found[429] = ("Too many requests for this key or user.", {"headers": RETRY_AFTER})
    return found


def _component_ref(result: dict, generator, view, serializer) -> dict:
    """A $ref to `serializer`'s component, adding the component if no view used it yet."""
    auto = view.schema  # resolved the way the view's own responses are
    auto.registry = generator.registry
    auto.method, auto.path = view.request.method, view.request.path
    component = auto.resolve_serializer(serializer, "response")
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault(
        component.name, component.schema
    )
    return component.ref


def add_error_responses(result: dict, generator, request, public: bool) -> dict:
    """Postprocessing hook: every operation gets the error responses its view can give, unless
    the view already described that status; `{job_id}` is documented as a UUID."""
    error_ref = None
    paths = result.get("paths", {})
    for path, _regex, method, view in generator._get_paths_and_endpoints():
        operation = paths.get(path, {}).get(method.lower())
        if operation is None:
            continue
        view.request = spectacular_settings.GET_MOCK_REQUEST(method, path, view, request)
        responses = operation.setdefault("responses", {})
        for code, (description, extra) in _error_responses(view, method, path, operation).items():
            if str(code) in responses:
                response = responses[str(code)]
                for key, value in extra.items():
                    response.setdefault(key, {}).update(value)
                continue
            if error_ref is None:
                error_ref = _component_ref(result, generator, view, ErrorSerializer)
            responses[str(code)] = {
                "description": description,
                "content": {"application/json": {"schema": error_ref}},
                **extra,
            }
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "path" and parameter.get("name") == "job_id":
                parameter["schema"] = {"type": "string", "format": "uuid"}
                parameter.setdefault("description", JOB_ID_DESCRIPTION)
        operation["responses"] = dict(sorted(responses.items()))
    return result


# --- the event streams --------------------------------------------------------------------------
# GET /api/jobs/{job_id}/events and GET /api/events are Channels consumers routed in
# batchsite/asgi.py ahead of Django (jobs/routing.py), so no DRF view describes them.

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_SECURITY = [{"bearerAuth": []}, {"cookieAuth": []}]
_STREAM = {
    "description": (
        "`text/event-stream`: `retry: 2000`, then one frame per event — `id: <seq>`, "
        "`event: <name>` (job_status_update, job_log_entry, item_update, job_completed, "
        "job_failed, queue_updated), `data: <json>` — and a `: ping` comment every 15 s."
    ),
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


def _query(name: str, description: str, schema: dict | None = None) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _refusals(*extra: int) -> dict[str, dict]:
    described = {
        "400": "A bad cursor or filter.",
        "401": "Not signed in, or an invalid or revoked API key.",
        "404": "No such job, or not yours.",
        "405": "Only GET.",
        "429": "Too many open sockets and event streams for this user.",
    }
    codes = ("400", "401", "405", "429", *map(str, extra))
    return {code: {"description": described[code], "content": _ERROR} for code in sorted(codes)}


EVENT_STREAM_PATHS = {
    "/api/jobs/{job_id}/events": {
        "get": {
            "operationId": "jobs_events",
            "summary": "One job's live events (server-sent events)",
            "description": (
                "The job's snapshot — after the log lines missed since `Last-Event-ID` (or "
                "`?last_event_id=`, a seq) — then its live events; the stream ends after the "
                "job's final event."
            ),
            "tags": ["jobs"],
            "security": _SECURITY,
            "parameters": [
                {
                    "name": "job_id",
                    "in": "path",
                    "required": True,
                    "description": JOB_ID_DESCRIPTION,
                    "schema": {"type": "string", "format": "uuid"},
                },
                {
                    "name": "Last-Event-ID",
                    "in": "header",
                    "required": False,
                    "description": "The last seq the client saw (browsers send it on reconnect).",
                    "schema": {"type": "integer", "minimum": 0},
                },
                _query("last_event_id", "As Last-Event-ID.", {"type": "integer", "minimum": 0}),
                _query(
                    "last_log_id", "Log lines after this id.", {"type": "integer", "minimum": 0}
                ),
            ],
            "responses": {"200": _STREAM, **_refusals(404)},
        }
    },
    "/api/events": {
        "get": {
            "operationId": "events",
            "summary": "Live events of every job you may see (server-sent events)",
            "description": (
                "Live only, no catch-up (its ids are seqs of different jobs): a client that "
                "reconnects reads GET /api/jobs again. Filters as GET /api/jobs has them."
            ),
            "tags": ["events"],
            "security": _SECURITY,
            "parameters": [
                _query("status", "Job status, or several separated by commas."),
                _query("priority", "1–10 or low, normal, high, urgent; several by commas."),
                _query("processor", "A processor name, or several separated by commas."),
            ],
            "responses": {"200": _STREAM, **_refusals()},
        }
    },
}


def add_event_streams(result: dict, generator, request, public: bool) -> dict:
    """Postprocessing hook (after add_error_responses, whose Error component it uses)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    if "Error" not in schemas:
        return result  # no DRF endpoint at all: nothing defines the error body
    for path, operations in EVENT_STREAM_PATHS.items():
        result.setdefault("paths", {}).setdefault(path, {}).update(operations)
    return result


# --- processor options -----------------------------------------------------------------------


class ProcessorOptionsField(serializers.DictField):
    """A submission's `options`: what the chosen processor's options form takes."""


class ProcessorOptionsFieldExtension(OpenApiSerializerFieldExtension):
    """Describes `options` with every registered processor's options (their forms, as JSON
    Schema), built when the document is: processors registered in settings are in it too."""

    target_class = ProcessorOptionsField

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        return {
            "type": "object",
            "description": (
                "The chosen processor's options, checked by its options form (unknown options "
                "are refused). One schema per processor, titled with its name."
            ),
            "anyOf": options_schemas(),
        }
