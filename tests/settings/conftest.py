"""Fixtures of the settings tests: a webhook receiver and signed-in clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

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
