"""Structured logs: the job and item a log line is about, and a JSON-lines formatter.

`bound(job_id=...)` sets the job for everything logged in its block (the chunk runner's RQ task
binds its job; each item's task on the runner's loop binds its item), and `ContextFilter` puts
`job_id` / `item_id` on every record (an explicit ``extra={"job_id": ...}`` wins). With
``BATCHSITE_LOG_FORMAT=json`` (batchsite/settings.py) each line is one JSON object::

    {"time": "2026-11-30T17:20:00.123Z", "level": "INFO", "logger": "jobs.alerts",
     "message": "...", "job_id": "…", "item_id": 42, "process": 1234}
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

job_id: ContextVar[str | None] = ContextVar("batchsite_log_job_id", default=None)
item_id: ContextVar[int | None] = ContextVar("batchsite_log_item_id", default=None)


@contextlib.contextmanager
def bound(*, job: Any = None, item: int | None = None) -> Iterator[None]:
    tokens = [(job_id, job_id.set(str(job)))] if job is not None else []
    if item is not None:
        tokens.append((item_id, item_id.set(item)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextFilter(logging.Filter):
    """Adds `job_id` and `item_id` (None when unknown) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "job_id", None) is None:
            record.job_id = job_id.get()
        if getattr(record, "item_id", None) is None:
            record.item_id = item_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, job/item ids
    where known, the process id, and the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        data: dict[str, Any] = {
            "time": stamp.replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("job_id", "item_id"):
            value = getattr(record, key, None)
            if value is not None:
                data[key] = value
        data["process"] = record.process
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps(data, ensure_ascii=False, default=str)
