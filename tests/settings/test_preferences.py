"""Preferences: the new-batch form's defaults (preferences_for / new_batch_initial), the theme
(kept in step with the layout's cookie), page size, time zone (dates on pages, the API's
date_range) and notifications (in-app, e-mail)."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from jobs.account import notify
from jobs.account.preferences import new_batch_initial, preferences_for
from jobs.models import (
    ApiKey,
    BatchJob,
    DeliveryAttempt,
    JobStatus,
    Preferences,
    Webhook,
    WebhookDelivery,
)
from jobs.services import submit_batch

pytestmark = pytest.mark.django_db

FORM = {
    "default_processor": "http_check",
    "default_options": "",
    "default_priority": "5",
    "default_concurrency": "50",
    "theme": "system",
    "page_size": "25",
    "time_zone": "",
    "notify_in_app": "on",
    "notify_webhook": "on",
}


def save(client, **changes):
    return client.post("/settings/preferences", {**FORM, **changes})


def test_users_who_never_saved_any_get_the_defaults_without_a_row(bob):
    assert new_batch_initial(bob) == {
        "processor": "http_check",
        "options": {},
        "priority": 5,
        "concurrency": 50,
    }
    assert preferences_for(bob).theme == "system"
    assert not Preferences.objects.exists()


def test_saved_defaults_feed_the_new_batch_form(alice, alice_client):
    response = save(
        alice_client,
        default_processor="page_audit",
        default_options='{"strategy": "desktop"}',
        default_priority="8",
        default_concurrency="20",
    )
    assert response.status_code == 302
    assert response["Location"] == "/settings#preferences"
    initial = new_batch_initial(alice)
    assert initial["processor"] == "page_audit"
    assert initial["options"]["strategy"] == "desktop"
    assert (initial["priority"], initial["concurrency"]) == (8, 20)
    page = alice_client.get("/settings").content.decode()
    assert "Preferences saved." in page
    assert '<option value="page_audit" selected>' in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"default_options": "{not json"}, "Not valid JSON"),
        ({"default_options": "[1, 2]"}, "A JSON object"),
        ({"default_options": '{"colour": "red"}'}, "colour: Unknown option."),
        ({"default_options": '{"method": "PATCH"}'}, "method: Select a valid choice."),
        ({"default_concurrency": "0"}, "greater than or equal to 1"),
        ({"default_priority": "11"}, "Select a valid choice"),
        ({"time_zone": "Mars/Olympus_Mons"}, "Select a valid choice"),
        ({"theme": "neon"}, "Select a valid choice"),
    ],
)
def test_bad_preferences_are_refused_with_a_clear_message(alice, alice_client, changes, message):
    response = save(alice_client, **changes)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Preferences.objects.exists()


def test_the_theme_preference_sets_the_layout_cookie(alice, alice_client):
    response = save(alice_client, theme="dark")
    assert response.cookies["theme"].value == "dark"
    assert 'data-theme="dark"' in alice_client.get("/settings").content.decode()

    elsewhere = Client()  # another browser: no theme cookie yet
    elsewhere.force_login(alice)
    response = elsewhere.get("/settings")
    assert 'data-theme="dark"' in response.content.decode(), "drawn in the theme at once"
    assert response.cookies["theme"].value == "dark"


def test_the_layout_theme_switch_saves_the_preference(alice, alice_client):
    response = alice_client.post("/settings/theme", {"theme": "light"})
    assert response.status_code == 204
    assert response.cookies["theme"].value == "light"
    assert Preferences.objects.get(user=alice).theme == "light"
    assert alice_client.post("/settings/theme", {"theme": "neon"}).status_code == 400
    assert 'data-theme-url="/settings/theme"' in alice_client.get("/settings").content.decode()


def test_the_time_zone_is_used_for_dates_on_the_page(alice, alice_client):
    ApiKey.issue(alice, "k")
    save(alice_client, time_zone="Asia/Kathmandu")  # UTC+05:45: no other zone shares it
    page = alice_client.get("/settings").content.decode()
    created = timezone.localtime(
        ApiKey.objects.get().created_at, zoneinfo.ZoneInfo("Asia/Kathmandu")
    )
    assert created.strftime("%Y-%m-%d %H:%M") in page
    assert timezone.get_current_timezone_name() == "UTC", "the zone does not outlive the request"


@pytest.mark.parametrize("auth", ["session", "bearer"])
def test_the_apis_date_range_today_starts_at_the_users_midnight(alice, auth):
    zone = zoneinfo.ZoneInfo("Pacific/Kiritimati")  # UTC+14
    Preferences.objects.create(user=alice, time_zone="Pacific/Kiritimati")
    midnight = timezone.localtime(timezone.now(), zone).replace(hour=0, minute=0, second=0)
    for name, created in (("before", midnight - timedelta(minutes=1)), ("after", midnight)):
        BatchJob.objects.create(owner=alice, name=name, created_at=created)
    client = APIClient()
    if auth == "session":
        client.force_login(alice)
    else:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {ApiKey.issue(alice, 'k')[1]}")
    jobs = client.get("/api/jobs", {"date_range": "today"}).json()["jobs"]
    assert [j["name"] for j in jobs] == ["after"]
    assert timezone.get_current_timezone_name() == "UTC"


def test_the_delivery_log_pages_by_the_page_size(alice, alice_client):
    save(alice_client, page_size="10")
    hook = Webhook.objects.create(
        user=alice, url="https://example.com/h", events=["alert"], secret="whsec_x"
    )
    delivery = WebhookDelivery.objects.create(webhook=hook, event="alert", payload={})
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(delivery=delivery, webhook=hook, number=n, http_status=500)
        for n in range(1, 13)
    )
    page = alice_client.get(f"/settings/webhooks/{hook.pk}").content.decode()
    assert page.count('data-attempt="') == 10
    assert "Page 1 of 2" in page


@pytest.mark.django_db(transaction=True)
def test_an_email_goes_out_when_a_job_ends_if_asked_for(alice, bob, site, burst_worker):
    Preferences.objects.create(user=alice, notify_email=True)
    job = submit_batch(alice, urls=[site.url("/ok/mail")], name="mail me").job
    submit_batch(bob, urls=[site.url("/ok/no-mail")], name="do not mail me")
    burst_worker()
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject == "[batchsite] mail me completed"
    assert "1 URLs with http_check: 1 succeeded, 0 failed, 0 cancelled." in message.body
    assert f"/jobs/{job.pk}" in message.body


def test_in_app_notifications_can_be_turned_off(alice, alice_client):
    assert "data-in-app-notify" not in alice_client.get("/settings").content.decode()
    save(alice_client, notify_in_app="")
    assert 'data-in-app-notify="off"' in alice_client.get("/settings").content.decode()


@pytest.mark.django_db(transaction=True)
def test_an_alert_goes_out_by_email_if_asked_for(alice, bob, burst_worker):
    Preferences.objects.create(user=alice, notify_email=True)
    notify.notify_alert(alice, "Failure rate", "Over half of the last hour's items failed.")
    notify.notify_alert(bob, "Failure rate", "Bob did not ask for e-mail.")
    burst_worker()
    [message] = mail.outbox
    assert (message.to, message.subject) == (["alice@example.com"], "[batchsite] Failure rate")
    assert message.body == "Over half of the last hour's items failed."
