"""Run an asyncio loop in a thread while the calling thread serves its database calls.

The chunk runner's items run concurrently on an event loop; Django's ORM is synchronous and
thread-bound. Rather than blocking the loop on every flush, the loop runs in a helper thread and
sends database work back to the thread that called `run()` — the RQ work horse's main thread, whose
Django connection django-rq already manages (and whose queries tests can count).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
_STOP = object()


def _resolve(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.done():  # the awaiting coroutine was cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class DbBridge:
    def __init__(self) -> None:
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the database thread and await its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        self._requests.put((fn, args, future, loop))
        return await future

    def run(self, main: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run `main()` on a new event loop in a thread; serve database calls until it ends."""
        outcome: dict[str, Any] = {}

        def loop_thread() -> None:
            try:
                outcome["result"] = asyncio.run(main())
            except BaseException as exc:  # handed to the calling thread below
                outcome["error"] = exc
            finally:
                self._requests.put(_STOP)

        context = contextvars.copy_context()  # what the caller binds (the job a log line is of)
        thread = threading.Thread(
            target=context.run, args=(loop_thread,), name="batchsite-runner-loop", daemon=True
        )
        thread.start()
        try:
            self._serve()
        finally:
            thread.join(timeout=5)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    def _serve(self) -> None:
        while True:
            request = self._requests.get()
            if request is _STOP:
                return
            fn, args, future, loop = request
            result, error = None, None
            try:
                result = fn(*args)
            except Exception as exc:
                error = exc
            with contextlib.suppress(RuntimeError):  # loop closed: nobody is waiting
                loop.call_soon_threadsafe(_resolve, future, result, error)
