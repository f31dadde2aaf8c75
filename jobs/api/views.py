"""REST API views."""

from __future__ import annotations

from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from jobs import health


@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def health_view(request: Request) -> Response:
    """200 when the database, Redis and at least one worker answer; 503 naming what is down."""
    report = health.check()
    return Response(report, status=200 if report["ok"] else 503)
