"""Live events over WebSockets (DESIGN.md Contracts): authenticate, join groups, forward.

``/ws/jobs/`` takes ``subscribe_job`` (``job_id``, optional ``last_seq``), ``subscribe_all_jobs``
(optional ``filters``: ``status``, ``priority``, ``processor``) and ``unsubscribe_job``, and sends
``queue_updated`` from the start (the user's own jobs' queue figures; staff: everyone's);
``/ws/job/<id>/`` follows one job from the start (``?last_seq=``) and closes (1000) after its final
event. A subscription starts with a snapshot: the job's ``job_status_update`` (after the log lines
the client missed when it gives ``last_seq``, or with ``"resync": true`` when it missed too many;
without a cursor, after the lines that share the state's ``seq``), then live events. So a client
that was sent ``seq`` N was sent every line up to N, and may resume with ``last_seq`` N. Per job, a
connection never sends a ``job_status_update`` whose ``seq`` is not newer than one it sent, so a
client never goes backwards.

Close codes: 4401 not authenticated, 4429 over the per-user socket cap, 4408 too slow to read what
it is sent, 4404 (``/ws/job/``) no such job. Idle sockets are daphne's business: it pings a socket
that sent nothing for ``--ping-interval`` seconds (default 20) and drops it when no pong comes
within ``--ping-timeout`` (default 30).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer

from jobs.following import FINAL_NAMES, BadRequest, Filters, Follower, dumps, parse_cursor

FINAL_CLOSE_SECONDS = 10.0  # how long a client has to answer the close after a final event


class JobsConsumer(Follower, AsyncWebsocketConsumer):
    """/ws/jobs/"""

    shares_fanout = True

    actions = {
        "subscribe_job": "on_subscribe_job",
        "subscribe_all_jobs": "on_subscribe_all_jobs",
        "unsubscribe_job": "on_unsubscribe_job",
    }

    async def connect(self) -> None:
        await self.accept()  # then closed with a code that says why, when refused
        refusal = await self.open()
        if refusal:
            return await self.close(code=refusal)
        await self.follow_queues()

    async def disconnect(self, code) -> None:
        await self.release()

    async def send_event(self, payload: dict[str, Any], text: str | None = None) -> None:
        await self.send(text_data=text or dumps(payload))

    async def error(self, code: str, detail: str) -> None:
        await self.emit({"event": "error", "code": code, "detail": detail})

    async def finish(self) -> None:
        self.live = False
        if self.buffer is not None:  # a slow reader still gets the final event before the close
            self.buffer.linger(FINAL_CLOSE_SECONDS)
        await self.close(code=1000)

    async def drop(self) -> None:
        self.live = False
        await self.close(code=4408)  # autobahn aborts the TCP connection if no close reply in 1 s

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if not self.live:
            return
        try:
            message = json.loads(text_data if text_data is not None else bytes_data)
        except (ValueError, TypeError, RecursionError):
            return await self.error("bad_request", "Messages are JSON objects.")
        if not isinstance(message, dict):
            return await self.error("bad_request", "Messages are JSON objects.")
        event = message.get("event")
        action = self.actions.get(event) if isinstance(event, str) else None
        if action is None:
            known = ", ".join(self.actions)
            return await self.error("bad_request", f"Unknown event; send one of {known}.")
        try:
            await getattr(self, action)(message)
        except BadRequest as exc:
            await self.error("bad_request", str(exc))

    async def on_subscribe_job(self, message: dict[str, Any]) -> None:
        if not message.get("job_id"):
            raise BadRequest("subscribe_job needs a job_id.")
        last_seq = parse_cursor(message.get("last_seq"), "last_seq")
        last_log_id = parse_cursor(message.get("last_log_id"), "last_log_id")
        async with self.held():
            payloads = await self.follow_job(message["job_id"], last_seq, last_log_id)
            if payloads is None:
                return await self.error("not_found", "No such job.")
            for payload in payloads:
                await self.emit(payload)

    async def on_subscribe_all_jobs(self, message: dict[str, Any]) -> None:
        await self.follow_all(Filters(message.get("filters")))

    async def on_unsubscribe_job(self, message: dict[str, Any]) -> None:
        if not message.get("job_id"):
            raise BadRequest("unsubscribe_job needs a job_id.")
        await self.unfollow_job(message["job_id"])


class JobConsumer(JobsConsumer):
    """/ws/job/<id>/: follows one job from the start; closes after its final event."""

    single_job = True

    async def connect(self) -> None:
        await self.accept()
        refusal = await self.open()
        if refusal:
            return await self.close(code=refusal)
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        try:
            last_seq = parse_cursor((query.get("last_seq") or [None])[0], "last_seq")
            last_log_id = parse_cursor((query.get("last_log_id") or [None])[0], "last_log_id")
        except BadRequest as exc:
            await self.error("bad_request", str(exc))
            return await self.close(code=4400)
        job_id = self.scope["url_route"]["kwargs"]["job_id"]
        async with self.held():
            payloads = await self.follow_job(job_id, last_seq, last_log_id)
            if payloads is None:
                await self.error("not_found", "No such job.")
                return await self.close(code=4404)
            for payload in payloads:
                await self.emit(payload)
            if self.live and any(p["event"] in FINAL_NAMES for p in payloads):
                await self.finish()  # finished already: the snapshot is all there is

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.live:
            await self.error("bad_request", "This socket follows one job; use /ws/jobs/.")
