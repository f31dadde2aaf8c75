"""The settings page and a webhook's page cost the same queries whatever the number of keys,
webhooks and logged attempts (no N+1)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs.models import ApiKey, DeliveryAttempt, Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db


def queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def add(user, n: int) -> Webhook:
    hook = None
    for i in range(n):
        ApiKey.issue(user, f"key {i}")
        hook = Webhook.objects.create(
            user=user, url=f"https://example.com/{i}", events=["alert"], secret="whsec_x"
        )
        delivery = WebhookDelivery.objects.create(webhook=hook, event="alert", payload={})
        DeliveryAttempt.objects.create(delivery=delivery, webhook=hook, number=1, http_status=200)
    return hook


def test_the_settings_pages_cost_the_same_queries_whatever_their_length(alice, alice_client):
    hook = add(alice, 2)
    alice_client.get("/settings")  # the first visit makes the user's quota row
    few = queries(alice_client, "/settings"), queries(alice_client, f"/settings/webhooks/{hook.pk}")
    add(alice, 20)
    hook_many = Webhook.objects.filter(user=alice).latest("id")
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(
            delivery=hook_many.deliveries.get(), webhook=hook_many, number=n, http_status=500
        )
        for n in range(2, 24)
    )
    many = (
        queries(alice_client, "/settings"),
        queries(alice_client, f"/settings/webhooks/{hook_many.pk}"),
    )
    assert many == few
    assert few[0] <= 10
