"""A webhook receiver for the tests: a small aiohttp app on 127.0.0.1 in a daemon thread that
keeps every request it gets and answers as the test tells it to.

    with Receiver() as receiver:
        receiver.fail("/hook", times=2)          # two 500s, then 200
        ... receiver.requests("/hook") ...       # [Received(headers, body), ...]

``/redirect?to=URL`` answers 307 to URL (any method), for the redirect-to-private test.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

from aiohttp import web
from multidict import CIMultiDict


@dataclass(frozen=True)
class Received:
    path: str
    headers: CIMultiDict
    body: bytes


class Receiver:
    def __init__(self) -> None:
        self._received: list[Received] = []
        self._failures: dict[str, int] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def fail(self, path: str, times: int) -> None:
        """The next `times` requests to `path` answer 500."""
        with self._lock:
            self._failures[path] = times

    def requests(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self._received if path is None or r.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/redirect":
            raise web.HTTPTemporaryRedirect(request.query["to"])
        body = await request.read()
        with self._lock:
            self._received.append(Received(request.path, CIMultiDict(request.headers), body))
            failing = self._failures.get(request.path, 0)
            if failing:
                self._failures[request.path] = failing - 1
        if failing:
            return web.Response(status=500, text="receiver says: try again later")
        return web.json_response({"received": True})

    def start(self) -> Receiver:
        started = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="webhook-receiver", daemon=True)
        self._thread.start()
        started.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
