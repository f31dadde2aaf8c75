"""Real network clients for the end-to-end tests: a `websockets` client and an aiohttp SSE reader,
each on an event loop in a thread of its own while the test's thread runs a burst worker."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

FINAL = ("job_completed", "job_failed")
Message = dict[str, Any]


class Recorder:
    """Connects to `url`, sends `first`, records every message until `until(message, self)` is
    true or the server closes; `close_code` is the server's close code (None if the client ended)."""

    def __init__(
        self,
        url: str,
        first: list[Message] = (),
        until: Callable[[Message, Recorder], bool] | None = None,
        **connect_options: Any,
    ) -> None:
        self.url, self.first, self.until = url, list(first), until
        self.connect_options = {"max_size": None, "open_timeout": 10, **connect_options}
        self.messages: list[Message] = []
        self.arrived: list[float] = []
        self.close_code: int | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._thread, daemon=True)

    def start(self) -> Recorder:
        self.thread.start()
        return self

    def _thread(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # shown by join()
            self.error = exc

    async def _main(self) -> None:
        async with connect(self.url, **self.connect_options) as ws:
            for message in self.first:
                await ws.send(json.dumps(message))
            try:
                async for text in ws:
                    message = json.loads(text)
                    self.messages.append(message)
                    self.arrived.append(time.monotonic())
                    if self.until is not None and self.until(message, self):
                        return
            except ConnectionClosed:
                pass
            self.close_code = ws.close_code

    def wait_for(self, predicate: Callable[[Message], bool], timeout: float = 10) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in list(self.messages):
                if predicate(message):
                    return message
            if self.error is not None:
                raise self.error
            time.sleep(0.01)
        raise AssertionError(f"nothing matched within {timeout} s; got {self.messages[-5:]}")

    def join(self, timeout: float = 30) -> Recorder:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"client still running; last: {self.messages[-3:]}"
        if self.error is not None:
            raise self.error
        return self

    def of(self, *names: str) -> list[Message]:
        return [m for m in self.messages if m["event"] in names]


def ends_job(message: Message, _recorder=None) -> bool:
    return message["event"] in FINAL


class SseReader:
    """``curl -N`` in aiohttp: reads `url`'s event stream frame by frame, in a thread."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, until=None) -> None:
        self.url, self.headers, self.until = url, headers or {}, until
        self.frames: list[dict[str, Any]] = []
        self.comments: list[str] = []
        self.status: int | None = None
        self.ended_by_server = False
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._thread, daemon=True)

    def start(self) -> SseReader:
        self.thread.start()
        return self

    def _thread(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self.error = exc

    async def _main(self) -> None:
        timeout = aiohttp.ClientTimeout(total=60, sock_read=10)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(self.url, headers=self.headers) as response,
        ):
            self.status = response.status
            fields: dict[str, str] = {}
            async for raw in response.content:
                line = raw.decode().rstrip("\n")
                if line.startswith(":"):
                    self.comments.append(line)
                elif line:
                    name, _, value = line.partition(": ")
                    fields[name] = value
                elif "event" in fields:
                    frame = {**fields, "payload": json.loads(fields["data"])}
                    self.frames.append(frame)
                    fields = {}
                    if self.until is not None and self.until(frame, self):
                        return
                else:
                    fields = {}
            self.ended_by_server = True

    def join(self, timeout: float = 30) -> SseReader:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"stream still open; last: {self.frames[-3:]}"
        if self.error is not None:
            raise self.error
        return self

    def payloads(self, *names: str) -> list[Message]:
        return [f["payload"] for f in self.frames if not names or f["event"] in names]
