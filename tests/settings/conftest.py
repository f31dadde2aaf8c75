"""Fixtures of the settings tests: a webhook receiver, signed-in clients, a worker that also
moves due scheduled jobs (webhook retries are scheduled with RQ's enqueue_in)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import django_rq
import pytest
from django.conf import settings
from django.test import Client
from rq import SimpleWorker

from tests.settings.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def alice_client(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(bob) -> Client:
    client = Client()
    client.force_login(bob)
    return client


def work_scheduled() -> None:
    """A burst worker that first enqueues the scheduled jobs that are due, as RQ's scheduler does."""
    queues = [django_rq.get_queue(name) for name in settings.JOB_QUEUES]
    worker = SimpleWorker(queues, connection=queues[0].connection)
    worker.work(burst=True, with_scheduler=True)


@pytest.fixture
def work_until() -> Callable:
    """`work_until(condition, timeout=15)`: run burst workers (with due scheduled jobs) until
    `condition()` holds; fails the test when it never does."""

    def run(condition: Callable[[], bool], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            work_scheduled()
            if condition():
                return
            if time.monotonic() > deadline:
                pytest.fail("the workers never got there")
            time.sleep(0.2)

    return run
