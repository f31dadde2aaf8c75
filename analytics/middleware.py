"""API response times into the rollups: a small timing middleware.

Every `/api/` request (the schema and docs pages aside) is timed from here to its response's
headers; a streamed body (SSE, exports) counts up to its first byte. Timings gather in the process
and are written in one upsert at most every BATCHSITE_ANALYTICS_API_FLUSH_SECONDS (0: every
request), so a busy API does not write to the database on every request.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.utils import timezone

from analytics.record import record_api

SKIPPED = ("/api/schema/", "/api/docs/")


class Timings:
    """The process's timings not yet written."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: list[tuple[int, int, float, datetime]] = []
        self.last_flush = time.monotonic()

    def add(self, row: tuple[int, int, float, datetime]) -> list | None:
        """Keep a timing; returns the batch to write when it is time to write one."""
        with self.lock:
            self.pending.append(row)
            now = time.monotonic()
            if now - self.last_flush < settings.BATCHSITE_ANALYTICS_API_FLUSH_SECONDS:
                return None
            batch, self.pending, self.last_flush = self.pending, [], now
            return batch


TIMINGS = Timings()


def _timed(request) -> bool:
    return request.path.startswith("/api/") and not request.path.startswith(SKIPPED)


def _row(request, response, started: float) -> tuple[int, int, float, datetime]:
    user = getattr(request, "user", None)
    owner = user.pk if user is not None and user.is_authenticated else 0
    return (owner or 0, response.status_code, time.perf_counter() - started, timezone.now())


class ApiTimingMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        if not _timed(request):
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        batch = TIMINGS.add(_row(request, response, started))
        if batch:
            record_api(batch)
        return response

    async def __acall__(self, request):
        if not _timed(request):
            return await self.get_response(request)
        started = time.perf_counter()
        response = await self.get_response(request)
        batch = TIMINGS.add(_row(request, response, started))
        if batch:
            await sync_to_async(record_api)(batch)
        return response
