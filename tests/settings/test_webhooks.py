"""Settings → webhooks: job events reach a local receiver signed, a failing receiver is retried
with backoff until it answers, every attempt is in the delivery log, a delivery can be sent
again, private addresses are refused when saved and when delivered (redirects too), and nobody
sees or changes another user's webhooks."""

from __future__ import annotations

import itertools
import json
import re

import pytest

from jobs.account import notify, webhooks
from jobs.account.destination import destination_problem
from jobs.account.signing import HEADER, verify
from jobs.models import (
    DeliveryAttempt,
    DeliveryStatus,
    Preferences,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from jobs.services import submit_batch
from tests.settings.workers import work_until

pytestmark = pytest.mark.django_db(transaction=True)

FORM = {
    "description": "",
    "events": ["job_completed", "job_failed", "alert"],
    "is_active": "on",
    "max_attempts": "5",
    "backoff_base": "1",
    "backoff_max": "60",
}


def add_webhook(client, url: str, **fields) -> tuple[Webhook, str]:
    """Add a webhook through the page; returns it and the secret the page showed once."""
    response = client.post("/settings/webhooks/new", {**FORM, "url": url, **fields})
    assert response.status_code == 200, response.content.decode()[-2000:]
    secret = re.search(r"<code data-new-secret>(whsec_[^<]+)</code>", response.content.decode())
    return Webhook.objects.latest("id"), secret.group(1)


def finished():
    """Every delivery so far is done (delivered or given up)."""

    def check() -> bool:
        rows = WebhookDelivery.objects.all()
        return rows.exists() and not rows.filter(status__in=DeliveryStatus.ACTIVE).exists()

    return check


def test_a_finished_job_posts_a_signed_event_to_the_webhook(alice, alice_client, site, receiver):
    hook, secret = add_webhook(alice_client, receiver.url("/hook"))
    assert secret not in alice_client.get(f"/settings/webhooks/{hook.pk}").content.decode()
    job = submit_batch(alice, urls=[site.url("/ok/w1"), site.url("/ok/w2")], name="two pages").job
    work_until(finished())

    [got] = receiver.requests("/hook")
    delivery = WebhookDelivery.objects.get()
    assert got.headers["X-Batchsite-Event"] == "job_completed"
    assert got.headers["X-Batchsite-Delivery"] == str(delivery.pk)
    assert got.headers["Content-Type"] == "application/json"
    assert verify(secret, got.headers[HEADER], got.body)
    assert not verify(secret, got.headers[HEADER], got.body + b" ")
    assert not verify("whsec_wrong", got.headers[HEADER], got.body)
    body = json.loads(got.body)
    assert body["id"] == str(delivery.pk)
    assert body["event"] == "job_completed"
    assert body["data"]["job"]["job_id"] == str(job.pk)
    assert body["data"]["job"]["name"] == "two pages"
    assert body["data"]["job"]["counts"]["succeeded"] == 2
    assert body["data"]["job"]["url"].endswith(f"/jobs/{job.pk}")

    attempt = DeliveryAttempt.objects.get()
    assert (attempt.ok, attempt.http_status, attempt.number) == (True, 200, 1)
    assert attempt.response_excerpt == '{"received": true}'
    assert attempt.duration_ms is not None
    hook.refresh_from_db()
    assert hook.last_delivery_ok is True
    page = alice_client.get(f"/settings/webhooks/{hook.pk}").content.decode()
    assert "Job completed" in page
    assert '<span class="badge badge--green">200</span>' in page


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(alice, alice_client, receiver):
    hook, secret = add_webhook(alice_client, receiver.url("/flaky"))
    receiver.fail("/flaky", times=2)
    notify.notify_alert(alice, "Failure rate", "Over 50 % of items failed in the last hour.")
    work_until(finished(), timeout=30)

    got = receiver.requests("/flaky")
    assert len(got) == 3
    assert {r.headers["X-Batchsite-Delivery"] for r in got} == {
        str(WebhookDelivery.objects.get().pk)
    }, "a retry is the same delivery"
    assert len({r.body for r in got}) == 1, "the same body on every attempt"
    assert all(verify(secret, r.headers[HEADER], r.body) for r in got)
    assert json.loads(got[0].body)["data"]["alert"]["title"] == "Failure rate"

    attempts = list(DeliveryAttempt.objects.order_by("number"))
    assert [(a.number, a.http_status, a.ok) for a in attempts] == [
        (1, 500, False),
        (2, 500, False),
        (3, 200, True),
    ]
    assert attempts[0].response_excerpt == "receiver says: try again later"
    waits = [(b.started_at - a.started_at).total_seconds() for a, b in itertools.pairwise(attempts)]
    assert waits[0] >= 0.9, "first retry after backoff_base (1 s)"
    assert waits[1] >= 1.9, "then twice that"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 3)
    hook.refresh_from_db()
    assert (hook.last_delivery_ok, hook.consecutive_failures) == (True, 0)


def test_a_delivery_gives_up_after_its_last_attempt(alice, alice_client, receiver):
    hook, _ = add_webhook(alice_client, receiver.url("/down"), max_attempts="2")
    receiver.fail("/down", times=10)
    notify.notify_alert(alice, "Queue stuck", "Nothing moved for 10 minutes.")
    work_until(finished())
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 2)
    assert len(receiver.requests("/down")) == 2
    hook.refresh_from_db()
    assert (hook.last_delivery_ok, hook.consecutive_failures) == (False, 2)


def test_send_test_and_redeliver_each_send_a_new_delivery(alice, alice_client, receiver):
    hook, secret = add_webhook(alice_client, receiver.url("/hook"))
    response = alice_client.post(f"/settings/webhooks/{hook.pk}/test")
    assert response.status_code == 302
    work_until(finished())
    first = WebhookDelivery.objects.get()
    assert first.event == WebhookEvent.TEST

    response = alice_client.post(f"/settings/webhooks/{hook.pk}/deliveries/{first.pk}/redeliver")
    assert response.status_code == 302
    work_until(lambda: WebhookDelivery.objects.filter(status="succeeded").count() == 2)
    again = WebhookDelivery.objects.exclude(pk=first.pk).get()
    assert again.redelivery_of == first
    assert again.payload == first.payload
    got = receiver.requests("/hook")
    assert [r.headers["X-Batchsite-Delivery"] for r in got] == [str(first.pk), str(again.pk)]
    assert all(verify(secret, r.headers[HEADER], r.body) for r in got)
    assert json.loads(got[0].body)["data"] == json.loads(got[1].body)["data"]
    log = alice_client.get(f"/settings/webhooks/{hook.pk}/log").content.decode()
    assert log.count('data-attempt="') == 2
    assert "(again)" in log


def test_a_test_event_is_tried_once(alice, alice_client, receiver):
    hook, _ = add_webhook(alice_client, receiver.url("/down"))
    receiver.fail("/down", times=5)
    webhooks.send_test(hook)
    work_until(finished())
    assert WebhookDelivery.objects.get().status == DeliveryStatus.FAILED
    assert len(receiver.requests("/down")) == 1


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.2:8000/hook", "a loopback address"),
        ("http://10.1.2.3/hook", "a private address"),
        ("http://169.254.169.254/latest/meta-data", "a cloud metadata address"),
        ("http://[::ffff:127.0.0.2]/hook", "a loopback address"),  # IPv4-mapped IPv6
        ("http://hooks.example.invalid/", "does not resolve"),
        ("ftp://example.com/hook", "Only http:// and https:// URLs"),
    ],
)
def test_webhook_urls_that_reach_private_addresses_are_refused_when_saved(
    alice_client, url, message
):
    response = alice_client.post("/settings/webhooks/new", {**FORM, "url": url})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Webhook.objects.exists()


def test_numeric_host_forms_are_judged_by_the_address_they_mean():
    # The page's URL field already refuses these; the service's own check does not rely on it.
    assert "a loopback address" in destination_problem("http://2130706434/hook")
    assert "a loopback address" in destination_problem("http://0x7f.0.0.2/hook")
    assert destination_problem("http://127.0.0.1:9/hook") is None  # BATCHSITE_ALLOWED_NETWORKS


def test_a_redirect_to_a_private_address_is_refused_at_delivery(alice, alice_client, receiver):
    blocked = f"http://127.0.0.2:{receiver.port}/hook"
    add_webhook(alice_client, receiver.url(f"/redirect?to={blocked}"))
    notify.notify_alert(alice, "Redirected", "This must not reach 127.0.0.2.")
    work_until(finished())
    attempt = DeliveryAttempt.objects.get()
    assert attempt.ok is False
    assert attempt.error.startswith("BLOCKED_ADDRESS")
    assert "127.0.0.2" in attempt.error
    assert WebhookDelivery.objects.get().status == DeliveryStatus.FAILED, "not retried"
    assert receiver.requests("/hook") == []


def test_an_address_that_turned_private_after_saving_is_refused_at_delivery(
    alice, alice_client, receiver
):
    hook, _ = add_webhook(alice_client, receiver.url("/hook"))
    Webhook.objects.filter(pk=hook.pk).update(url=f"http://127.0.0.2:{receiver.port}/hook")
    webhooks.send_test(hook)
    work_until(finished())
    assert DeliveryAttempt.objects.get().error.startswith("BLOCKED_ADDRESS")
    assert receiver.requests() == []


def test_paused_webhooks_and_webhook_notifications_off_get_no_job_events(
    alice, alice_client, site, receiver, burst_worker
):
    add_webhook(alice_client, receiver.url("/paused"), is_active="")
    add_webhook(alice_client, receiver.url("/live"))
    submit_batch(alice, urls=[site.url("/ok/p1")])
    burst_worker()
    assert len(receiver.requests("/live")) == 1
    assert receiver.requests("/paused") == []

    Preferences.objects.create(user=alice, notify_webhook=False)
    submit_batch(alice, urls=[site.url("/ok/p2")])
    burst_worker()
    assert len(receiver.requests("/live")) == 1
    assert WebhookDelivery.objects.count() == 1


def test_editing_a_webhook_checks_its_url_and_retry_policy(alice_client, receiver):
    hook, _ = add_webhook(alice_client, receiver.url("/hook"))
    bad = {**FORM, "url": "http://10.0.0.7/x", "backoff_base": "600", "backoff_max": "60"}
    response = alice_client.post(f"/settings/webhooks/{hook.pk}", bad)
    assert response.status_code == 400
    page = response.content.decode()
    assert "a private address" in page
    assert "At least the first wait." in page
    good = {**FORM, "url": receiver.url("/other"), "events": ["job_failed"], "max_attempts": "3"}
    assert alice_client.post(f"/settings/webhooks/{hook.pk}", good).status_code == 302
    hook.refresh_from_db()
    assert (hook.url, hook.events, hook.max_attempts) == (receiver.url("/other"), ["job_failed"], 3)


def test_rotating_the_secret_asks_first_and_later_deliveries_use_the_new_one(
    alice_client, receiver
):
    hook, old = add_webhook(alice_client, receiver.url("/hook"))
    asked = alice_client.post(f"/settings/webhooks/{hook.pk}/rotate")
    assert "Rotate the signing secret?" in asked.content.decode()
    hook.refresh_from_db()
    assert hook.secret == old
    response = alice_client.post(f"/settings/webhooks/{hook.pk}/rotate", {"confirm": "yes"})
    new = re.search(r"<code data-new-secret>(whsec_[^<]+)</code>", response.content.decode())[1]
    assert new != old
    webhooks.send_test(hook)
    work_until(finished())
    [got] = receiver.requests("/hook")
    assert verify(new, got.headers[HEADER], got.body)
    assert not verify(old, got.headers[HEADER], got.body)


def test_deleting_a_webhook_asks_first_and_takes_its_log(alice_client, receiver):
    hook, _ = add_webhook(alice_client, receiver.url("/hook"))
    webhooks.send_test(hook)
    work_until(finished())
    assert alice_client.post(f"/settings/webhooks/{hook.pk}/delete").status_code == 200
    assert Webhook.objects.exists()
    response = alice_client.post(f"/settings/webhooks/{hook.pk}/delete", {"confirm": "yes"})
    assert response.status_code == 302
    assert not Webhook.objects.exists()
    assert not DeliveryAttempt.objects.exists()


def test_bob_cannot_see_or_change_alices_webhooks(alice_client, bob_client, receiver):
    hook, _ = add_webhook(alice_client, receiver.url("/alice-only"))
    webhooks.send_test(hook)
    work_until(finished())
    delivery = WebhookDelivery.objects.get()
    assert "alice-only" not in bob_client.get("/settings").content.decode()
    base = f"/settings/webhooks/{hook.pk}"
    assert bob_client.get(base).status_code == 404
    assert bob_client.get(f"{base}/log").status_code == 404
    for path, data in [
        (base, {**FORM, "url": "https://example.com/"}),
        (f"{base}/test", {}),
        (f"{base}/rotate", {"confirm": "yes"}),
        (f"{base}/delete", {"confirm": "yes"}),
        (f"{base}/deliveries/{delivery.pk}/redeliver", {}),
    ]:
        assert bob_client.post(path, data).status_code == 404, path
    hook.refresh_from_db()
    assert hook.url == receiver.url("/alice-only")
    assert WebhookDelivery.objects.count() == 1
