"""A WebSocket client that behaves as the product's live-update module does when its server goes
away: it reconnects (every 0.2 s) and subscribes again with the last seq and log id it saw, until
the job's final event. It runs on an event loop in a thread of its own and records what each connection got."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

FINAL = ("job_completed", "job_failed")


class ReconnectingClient:
    """`path` is /ws/jobs/ (subscribes with subscribe_job) or /ws/job/<id>/ (with ?last_seq=)."""

    def __init__(self, server: str, path: str, key: str, job_id: str, timeout: float = 180) -> None:
        self.server, self.path, self.key, self.job_id = server, path, key, job_id
        self.deadline = time.monotonic() + timeout
        self.last_seq: int | None = None
        self.last_log_id: int | None = None  # the cursor of log lines: exact where seq is not
        self.connections: list[list[dict[str, Any]]] = []  # messages, per connection
        self.connected_at: list[float] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._thread, daemon=True)

    def start(self) -> ReconnectingClient:
        self.thread.start()
        return self

    def _thread(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # shown by join()
            self.error = exc

    def _cursor(self) -> dict[str, int]:
        cursor = {"last_seq": self.last_seq, "last_log_id": self.last_log_id}
        return {name: value for name, value in cursor.items() if value is not None}

    def _url(self) -> str:
        url = f"ws://{self.server}{self.path}?api_key={self.key}"
        if self.path != "/ws/jobs/":
            url += "".join(f"&{name}={value}" for name, value in self._cursor().items())
        return url

    async def _main(self) -> None:
        while time.monotonic() < self.deadline:
            try:
                if await self._connection():
                    return
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError):
                pass  # the server is away: try again shortly, as the browser does
            await asyncio.sleep(0.2)
        raise TimeoutError("no final event before the deadline")

    async def _connection(self) -> bool:
        """One connection; True once the job's final event arrived."""
        async with connect(self._url(), open_timeout=5, max_size=None) as ws:
            received: list[dict[str, Any]] = []
            self.connections.append(received)
            self.connected_at.append(time.monotonic())
            if self.path == "/ws/jobs/":
                subscribe = {"event": "subscribe_job", "job_id": self.job_id, **self._cursor()}
                await ws.send(json.dumps(subscribe))
            async for text in ws:
                message = json.loads(text)
                received.append(message)
                if message.get("job_id") == self.job_id and message.get("seq") is not None:
                    self.last_seq = max(self.last_seq or 0, message["seq"])
                if message["event"] == "job_log_entry":
                    self.last_log_id = max(self.last_log_id or 0, message["id"])
                if message["event"] in FINAL:
                    return True
        return False

    def join(self, timeout: float = 60) -> ReconnectingClient:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "client still running"
        if self.error is not None:
            raise self.error
        return self

    def messages(self, *names: str) -> list[dict[str, Any]]:
        return [m for conn in self.connections for m in conn if not names or m["event"] in names]
