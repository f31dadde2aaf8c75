"""The timing middleware: API requests (session or API key) land in the API rollups under their
user, anonymous ones under 0, pages and the schema are not timed, and timings wait in the process
until the flush interval has passed."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db.models import Sum

from analytics import bins
from analytics.models import ApiRollup, Period

pytestmark = pytest.mark.django_db


def totals(**filters):
    return ApiRollup.objects.filter(period=Period.MINUTE, **filters).aggregate(
        n=Sum("requests"), c=Sum("client_errors"), s=Sum("server_errors")
    )


def test_api_requests_are_timed_under_their_user(alice, alice_client, client, settings):
    settings.BATCHSITE_ANALYTICS_API_FLUSH_SECONDS = 0
    alice_client.get("/api/jobs")
    alice_client.get("/api/jobs?status=nope")
    client.get("/api/jobs")  # signed out: 401/403
    assert totals(owner=alice.pk) == {"n": 2, "c": 1, "s": 0}
    assert totals(owner=0)["n"] == 1
    hour = ApiRollup.objects.get(period=Period.HOUR, owner=alice.pk)
    assert sum(getattr(hour, f) for f in bins.FIELDS) == 2
    assert hour.duration_sum > 0


def test_an_api_key_request_counts_for_the_keys_owner(alice, client, settings, capsys):
    settings.BATCHSITE_ANALYTICS_API_FLUSH_SECONDS = 0
    call_command("create_api_key", "alice")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert client.get("/api/jobs", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    assert totals(owner=alice.pk)["n"] == 1


def test_pages_and_the_schema_are_not_timed(alice_client, settings):
    settings.BATCHSITE_ANALYTICS_API_FLUSH_SECONDS = 0
    alice_client.get("/jobs")
    alice_client.get("/api/schema/")
    assert not ApiRollup.objects.exists()


def test_timings_wait_for_the_flush_interval(alice, alice_client, settings):
    settings.BATCHSITE_ANALYTICS_API_FLUSH_SECONDS = 3600
    for _ in range(3):
        alice_client.get("/api/jobs")
    assert not ApiRollup.objects.exists()
    settings.BATCHSITE_ANALYTICS_API_FLUSH_SECONDS = 0
    alice_client.get("/api/jobs")
    assert totals(owner=alice.pk)["n"] == 4
