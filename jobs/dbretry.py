"""Ride out a database that is briefly unavailable: a dropped PostgreSQL connection (restart,
failover, an operator's pg_terminate_backend) or SQLite's "database is locked" past the busy timeout.

Only whole units of work are retried — a function that opens and commits its own transaction, never
a statement inside someone else's — and only units that are safe to run again (the runner's cycle
checks its flush number, see jobstate.cycle). Past BATCHSITE_DB_RETRY_SECONDS the error is raised:
the runner then dies like a killed one, and reconcile puts its items back.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection

log = logging.getLogger(__name__)

TRANSIENT = (OperationalError, InterfaceError)


def retrying[T](fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)`, run again with a backoff while the database is unavailable."""
    deadline = time.monotonic() + settings.BATCHSITE_DB_RETRY_SECONDS
    delay = 0.05
    while True:
        try:
            return fn(*args, **kwargs)
        except TRANSIENT as exc:
            if connection.in_atomic_block or time.monotonic() + delay > deadline:
                raise
            log.warning("Database unavailable in %s (%s); retrying", fn.__name__, exc)
            # A broken connection stays broken: drop it so that the next query opens a new one.
            with contextlib.suppress(DatabaseError):
                connection.close()
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
