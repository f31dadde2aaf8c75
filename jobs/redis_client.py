"""The product's own Redis client: one per process (its pool reconnects after a fork or a Redis
restart). django_rq.get_connection builds a new client, pool and TCP connection on every call,
which costs more than the one command most callers send (a counter, a subscriber count).
jobs.health asks django_rq for a fresh one on purpose: it checks that a connection can be made.
"""

from __future__ import annotations

import functools

import django_rq
from redis import Redis


@functools.cache
def shared() -> Redis:
    return django_rq.get_connection("default")
