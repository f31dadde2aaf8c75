"""Analytics tests reuse the settings tests' receiver and logged-in clients."""

import time

import pytest

from analytics.middleware import TIMINGS
from tests.settings.conftest import alice_client, bob_client, receiver  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def fresh_api_timings():
    """API timings other tests left in this process's buffer are not this test's."""
    with TIMINGS.lock:
        TIMINGS.pending.clear()
        TIMINGS.last_flush = time.monotonic()
