"""POST /api/jobs is rate-limited per user (whichever key or session they use), in Redis, so the
limit holds across daphne processes; reads are not limited."""

from __future__ import annotations

import os
import time

import django_rq
import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from jobs.models import ApiKey

pytestmark = pytest.mark.django_db


def key_client(user, name: str = "key") -> APIClient:
    client = APIClient()
    _, raw = ApiKey.issue(user, name)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def budget() -> tuple[int, int]:
    """(requests, seconds) of the `submit` rate throttles use."""
    return ScopedRateThrottle().parse_rate(ScopedRateThrottle.THROTTLE_RATES["submit"])


@pytest.fixture(autouse=True)
def affordable_rate(monkeypatch):
    """The configured rate (BATCHSITE_SUBMIT_RATE, 120/minute by default), unless an environment
    made it too large to spend in a test."""
    if budget()[0] > 200:
        rates = {**ScopedRateThrottle.THROTTLE_RATES, "submit": "120/minute"}
        monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", rates)


def spend(client: APIClient, n: int) -> None:
    # An empty body is refused (400) after the throttle has counted it: the cheapest POST.
    for _ in range(n):
        assert client.post("/api/jobs", {}, format="json").status_code == 400


def test_the_configured_rate_is_what_throttles_use(monkeypatch):
    monkeypatch.undo()  # the configured rate, as the server has it
    configured = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["submit"]
    assert configured == (os.environ.get("BATCHSITE_SUBMIT_RATE") or "120/minute")
    assert ScopedRateThrottle.THROTTLE_RATES["submit"] == configured


def test_the_post_past_the_budget_is_429_with_retry_after_and_a_json_body(alice):
    client = key_client(alice)
    allowed, window = budget()
    spend(client, allowed)
    response = client.post("/api/jobs", {"urls": ["https://example.com/"]}, format="json")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= window
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"].startswith("Request was throttled.")


def test_a_throttled_user_can_still_read(alice):
    client = key_client(alice)
    spend(client, budget()[0])
    assert client.post("/api/jobs", {}, format="json").status_code == 429
    assert client.get("/api/jobs").status_code == 200


def test_two_users_do_not_share_a_budget(alice, bob):
    alices, bobs = key_client(alice), key_client(bob)
    spend(alices, budget()[0])
    assert alices.post("/api/jobs", {}, format="json").status_code == 429
    response = bobs.post("/api/jobs", {"urls": ["https://example.com/"]}, format="json")
    assert response.status_code == 201


def test_one_users_keys_and_session_share_one_budget(alice):
    first, second = key_client(alice, "first"), key_client(alice, "second")
    session = APIClient()
    session.force_login(alice)
    allowed = budget()[0]
    spend(first, allowed // 2)
    spend(second, allowed - allowed // 2)
    assert second.post("/api/jobs", {}, format="json").status_code == 429
    assert session.post("/api/jobs", {}, format="json").status_code == 429


def test_the_budget_comes_back_after_the_window(alice, monkeypatch):
    client = key_client(alice)
    allowed, window = budget()
    spend(client, allowed)
    assert client.post("/api/jobs", {}, format="json").status_code == 429
    later = time.time() + window + 1
    monkeypatch.setattr(ScopedRateThrottle, "timer", lambda self: later)
    assert client.post("/api/jobs", {}, format="json").status_code == 400


def test_throttles_live_in_the_test_runs_redis_database_which_is_flushed_per_test(alice):
    """The cache is Redis at REDIS_URL, the database tests/conftest.py flushes around every test,
    so no test inherits another's spent budget; and every daphne process sees the same counts."""
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    rq = django_rq.get_connection("default")
    cache_db = cache._cache.get_client(write=True).connection_pool.connection_kwargs.get("db", 0)
    assert cache_db == rq.connection_pool.connection_kwargs["db"] != 0
    spend(key_client(alice), 1)
    keys = rq.keys("batchsite:*throttle_submit_*")
    assert len(keys) == 1
    assert keys[0].decode().endswith(f"throttle_submit_{alice.pk}")
