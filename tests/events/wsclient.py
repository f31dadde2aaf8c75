"""Small helpers for driving the ASGI application in-process with Channels' communicators.

Tests are plain functions that run an async scenario with `async_to_sync`: the consumers' database
calls then run on the test's own thread, inside its transaction, like any other test code.
"""

from __future__ import annotations

import uuid
from typing import Any

from channels.testing import ApplicationCommunicator, WebsocketCommunicator

from batchsite.asgi import application
from jobs import events
from jobs.models import BatchJob, JobStatus


async def connect(path: str, key: str | None = None, headers=None) -> WebsocketCommunicator:
    if key:
        path += ("&" if "?" in path else "?") + f"api_key={key}"
    comm = WebsocketCommunicator(application, path, headers=headers or [])
    connected, _ = await comm.connect(timeout=5)
    assert connected
    return comm


async def receive(comm: WebsocketCommunicator, timeout: float = 3) -> dict[str, Any]:
    return await comm.receive_json_from(timeout)


async def close_code(comm: WebsocketCommunicator, timeout: float = 3) -> int:
    message = await comm.receive_output(timeout)
    assert message["type"] == "websocket.close", message
    return message.get("code", 1000)


async def quiet(comm: WebsocketCommunicator, timeout: float = 0.3) -> None:
    assert await comm.receive_nothing(timeout), await comm.receive_output()


async def settle(comm: WebsocketCommunicator) -> None:
    """Until the consumer has handled everything sent before: it answers messages in order."""
    await comm.send_json_to({"event": "settle"})
    reply = await receive(comm)
    assert (reply["event"], reply["code"]) == ("error", "bad_request"), reply


async def subscribe(comm, job, **extra) -> list[dict[str, Any]]:
    """subscribe_job; returns the snapshot (up to and including its job_status_update)."""
    await comm.send_json_to({"event": "subscribe_job", "job_id": str(job.pk), **extra})
    received = []
    while not received or received[-1]["event"] != "job_status_update":
        received.append(await receive(comm))
    return received


async def publish(job: BatchJob, *payloads: dict[str, Any], **facts) -> None:
    await events.send({**events.routing(job), **facts}, payloads)


def status(job: BatchJob, seq: int, **fields) -> dict[str, Any]:
    for name, value in fields.items():
        setattr(job, name, value)
    job.seq = seq
    return events.status_event(job)


def final(job: BatchJob, seq: int) -> dict[str, Any]:
    job.seq, job.status = seq, JobStatus.COMPLETED
    return events.status_event(job, event="job_completed")


def make_job(owner, **fields) -> BatchJob:
    values = {"status": JobStatus.RUNNING, "total_items": 10, "count_queued": 10, "seq": 10}
    return BatchJob.objects.create(owner=owner, **(values | fields))


def unknown_id() -> str:
    return str(uuid.uuid4())


# --- SSE -----------------------------------------------------------------------------------


class Stream:
    """One SSE request to the application: status, headers, and body chunks as they come."""

    def __init__(self, path: str, headers=None, method: str = "GET") -> None:
        path, _, query = path.partition("?")
        self.scope = {
            "type": "http",
            "http_version": "1.1",
            "method": method,
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": [(k.lower(), v) for k, v in (headers or [])],
        }
        self.comm = ApplicationCommunicator(application, self.scope)
        self.body = b""
        self.ended = False

    async def start(self, timeout: float = 5) -> Stream:
        await self.comm.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await self.comm.receive_output(timeout)
        assert start["type"] == "http.response.start", start
        self.status = start["status"]
        self.headers = dict(start["headers"])
        return self

    async def read(self, timeout: float = 3) -> bytes:
        message = await self.comm.receive_output(timeout)
        assert message["type"] == "http.response.body", message
        self.body += message["body"]
        self.ended = not message.get("more_body", False)
        return message["body"]

    async def read_until(self, marker: bytes, timeout: float = 3) -> bytes:
        while marker not in self.body and not self.ended:
            await self.read(timeout)
        return self.body

    async def read_to_end(self, timeout: float = 3) -> bytes:
        while not self.ended:
            await self.read(timeout)
        return self.body

    async def close(self) -> None:
        await self.comm.send_input({"type": "http.disconnect"})
        await self.comm.wait(timeout=3)


def parse_frames(body: bytes) -> list[dict[str, str]]:
    """SSE frames as {"id", "event", "data"} (comments and retry lines skipped)."""
    frames = []
    for block in body.decode().split("\n\n"):
        fields = {}
        for line in block.splitlines():
            if line.startswith(":") or ": " not in line:
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "event" in fields:
            frames.append(fields)
    return frames
