"""Server-sent events for clients without WebSockets (``curl -N``), per DESIGN.md Contracts.

``GET /api/jobs/<id>/events``: one job — its snapshot (after the log lines missed since
``Last-Event-ID`` or ``?last_event_id=``, which work as ``last_seq`` does on the WebSocket), then
its live events; the response ends after the job's final event.
``GET /api/events``: every job the user may see (staff: all), live, optionally filtered with
``?status=&priority=&processor=`` like ``subscribe_all_jobs``, and ``queue_updated``. Its ids are seqs of different jobs,
so it has no catch-up: a client that reconnects reads the job list (REST) again.

Each event is ``id: <seq>\\nevent: <name>\\ndata: <json>\\n\\n``, and a ``: ping`` comment every
``BATCHSITE_SSE_HEARTBEAT`` seconds (15) keeps proxies from closing a quiet stream. Channels'
AsyncHttpConsumer serves them, so a stream holds no thread; refusals are JSON (401, 404, 429).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import parse_qs

from channels.exceptions import StopConsumer
from channels.generic.http import AsyncHttpConsumer
from django.conf import settings

from jobs.following import FINAL_NAMES, BadRequest, Filters, Follower, dumps, parse_cursor

PING = {"event": None}
STREAM_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # nginx: pass events on as they come
]
REFUSALS = {
    4401: (401, "Authentication credentials were not provided or are not valid."),
    4429: (429, "Too many open sockets and event streams for this user."),
}


def heartbeat_seconds() -> float:
    return getattr(settings, "BATCHSITE_SSE_HEARTBEAT", 15.0)


def frame(payload: dict[str, Any], text: str | None = None) -> bytes:
    head = f"id: {payload['seq']}\n" if payload.get("seq") is not None else ""
    return f"{head}event: {payload['event']}\ndata: {text or dumps(payload)}\n\n".encode()


class HttpError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class EventStream(Follower, AsyncHttpConsumer):
    heartbeat: asyncio.Task | None = None

    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.scope.get("query_string", b"").decode("latin-1"))

    async def start(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def http_request(self, message) -> None:
        # AsyncHttpConsumer would end the response after handle(); a stream stays open.
        if message.get("more_body"):
            return
        try:
            if self.scope["method"] != "GET":
                raise HttpError(405, "Only GET.")
            refusal = await self.open()
            if refusal:
                raise HttpError(*REFUSALS[refusal])
            payloads = await self.start()
        except HttpError as exc:
            await self.refuse(exc)
            raise StopConsumer from None
        await self.send_headers(headers=STREAM_HEADERS)
        await self.send_body(b"retry: 2000\n\n", more_body=True)
        for payload in payloads:
            await self.emit(payload)
        if self.live and self.single_job and any(p["event"] in FINAL_NAMES for p in payloads):
            await self.finish()
        self.heartbeat = asyncio.create_task(self.beat())

    async def refuse(self, exc: HttpError) -> None:
        headers = [(b"content-type", b"application/json")]
        if exc.status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        body = json.dumps({"detail": exc.detail}).encode()
        await self.send_response(exc.status, body, headers=headers)

    async def beat(self) -> None:
        # Through the channel layer, so the ping is sent by the consumer's own dispatch loop,
        # like every other event (and a slow client is dropped there too).
        interval = heartbeat_seconds()
        while True:
            await asyncio.sleep(interval)
            await self.channel_layer.send(self.channel_name, {"type": "sse.ping"})

    async def sse_ping(self, message) -> None:
        await self.emit(PING)

    async def send_event(self, payload: dict[str, Any], text: str | None = None) -> None:
        body = b": ping\n\n" if payload is PING else frame(payload, text)
        await self.send_body(body, more_body=True)

    async def finish(self) -> None:
        self.live = False
        await self.send_body(b"", more_body=False)
        raise StopConsumer

    async def drop(self) -> None:
        self.live = False
        if self.buffer is not None:
            self.buffer.abort()  # ending the response would wait for the buffer to drain
        raise StopConsumer

    async def disconnect(self) -> None:
        await self.release()

    async def release(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.heartbeat
        await super().release()


class JobEventStream(EventStream):
    """GET /api/jobs/<id>/events"""

    single_job = True

    async def start(self) -> list[dict[str, Any]]:
        headers = dict(self.scope.get("headers", ()))
        raw = headers.get(b"last-event-id", b"").decode("latin-1").strip()
        query = self.query()
        try:
            last_seq = parse_cursor(
                raw or (query.get("last_event_id") or [None])[0], "Last-Event-ID"
            )
            last_log_id = parse_cursor((query.get("last_log_id") or [None])[0], "last_log_id")
        except BadRequest as exc:
            raise HttpError(400, str(exc)) from None
        job_id = self.scope["url_route"]["kwargs"]["job_id"]
        payloads = await self.follow_job(job_id, last_seq, last_log_id)
        if payloads is None:
            raise HttpError(404, "No such job.")
        return payloads


class AllEventStream(EventStream):
    """GET /api/events"""

    async def start(self) -> list[dict[str, Any]]:
        query = self.query()
        raw = {k: ",".join(query[k]) for k in ("status", "priority", "processor") if k in query}
        try:
            filters = Filters(raw)
        except BadRequest as exc:
            raise HttpError(400, str(exc)) from None
        await self.follow_all(filters)
        await self.follow_queues()
        return []
