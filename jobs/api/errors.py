"""Every error body the API answers: built here, and described here for the OpenAPI document, so
the two cannot drift apart.

- DRF's own refusals (401, 403, 404, 405, 415, 429, a body that does not parse): `{"detail"}`.
- Bad query parameters (400): `{"detail", "errors": {name: {"message", "accepts"}}}`, naming
  every bad parameter at once.
- A request the service refused (400 bad input, 409 wrong state, 413 too large, 503):
  `{"detail", "code", "errors": {field: [messages]}}`; a refused submission adds what the intake
  made of its URLs once it got that far (`accepted`, `duplicates`, `rejected`, `rejected_count`).
"""

from __future__ import annotations

import copy
from typing import Any

from rest_framework import serializers
from rest_framework.response import Response

from jobs.services import ServiceError


def invalid_parameters(errors: dict[str, dict[str, str]]) -> Response:
    """400 naming each bad query parameter with what it accepts."""
    return Response({"detail": "Invalid query parameters.", "errors": errors}, status=400)


def refused(exc: ServiceError) -> Response:
    """The service's refusal, with its status (400, 409, 413…)."""
    body: dict[str, Any] = {"detail": str(exc), "code": exc.code, "errors": exc.errors}
    intake = getattr(exc, "intake", None)
    if intake is not None:
        body.update(intake.as_dict())
    return Response(body, status=exc.status)


def bad_body(field: str, message: str) -> Response:
    """400 for a body field the view checks itself, shaped as the service's refusals."""
    return refused(ServiceError({field: [message]}))


# --- what OpenAPI says about them ------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """DRF's own errors (401, 403, 404, 405, 415, 429 and bodies that do not parse)."""

    detail = serializers.CharField()


class ParameterErrorSerializer(serializers.Serializer):
    message = serializers.CharField()
    accepts = serializers.CharField()


class InvalidParametersSerializer(ErrorSerializer):
    errors = serializers.DictField(child=ParameterErrorSerializer())


class ServiceErrorSerializer(ErrorSerializer):
    """A request the service refused: 409 (wrong state) and the like."""

    code = serializers.CharField(help_text="Machine-readable reason, e.g. `not_active`, `active`.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field name (or `detail`) → messages.",
    )


class RejectedLineSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    input = serializers.CharField()
    reason = serializers.CharField()


class IntakeSerializer(serializers.Serializer):
    """What the URL intake made of a submission."""

    accepted = serializers.IntegerField(help_text="URLs that became items.")
    duplicates = serializers.IntegerField(help_text="Inputs dropped as repeats of an earlier URL.")
    rejected = RejectedLineSerializer(many=True, help_text="The first 100 rejected lines.")
    rejected_count = serializers.IntegerField()


def optional(serializer: type[serializers.Serializer], name: str) -> serializers.Field:
    """A copy of `serializer`'s field `name` that may be absent."""
    field = copy.deepcopy(serializer._declared_fields[name])  # a fresh, unbound field
    # Serializers copy their fields again from these arguments, each time they are used.
    field._kwargs = {**field._kwargs, "required": False}
    field.required = False
    return field


class RequestErrorSerializer(ErrorSerializer):
    """400 for a body: the service's refusal, or DRF's (`detail` alone) when it does not parse."""

    code = optional(ServiceErrorSerializer, "code")
    errors = optional(ServiceErrorSerializer, "errors")


class SubmitErrorSerializer(RequestErrorSerializer):
    """400 (nothing valid, unknown processor, bad options, a bad field) or 413 (too many URLs,
    file too large); the intake's figures once the URLs were read."""

    accepted = optional(IntakeSerializer, "accepted")
    duplicates = optional(IntakeSerializer, "duplicates")
    rejected = optional(IntakeSerializer, "rejected")
    rejected_count = optional(IntakeSerializer, "rejected_count")
