"""Alerts with a real burst worker against the local site: a failure rate past the threshold,
items stuck in processing, a finished batch — each raised once, shown by the bell and /alerts,
sent by webhook (the receiver) and e-mail (locmem) as the owner's preferences say."""

from __future__ import annotations

import json

import pytest
from django.core import mail
from django.urls import reverse

from jobs import alerts
from jobs.account.preferences import save_preferences
from jobs.models import Alert, AlertKind, JobStatus, Preferences, Webhook
from jobs.services import retry_items, submit_batch
from tests.conftest import kill_process_group, refreshed, start_worker_process, wait_until
from tests.settings.workers import work_until

pytestmark = pytest.mark.django_db(transaction=True)


def failing_batch(user, site, ok: int, failing: int, name: str = "flaky hosts"):
    urls = [site.url(f"/ok/a{i}") for i in range(ok)]
    urls += [site.url(f"/reset?n={i}") for i in range(failing)]  # connection reset: failed
    return submit_batch(user, urls=urls, name=name, max_attempts=1, concurrency=4).job


def alert_bodies(receiver) -> list[dict]:
    return [json.loads(r.body) for r in receiver.requests("/hook")]


def test_a_failure_rate_past_the_threshold_alerts_once_by_bell_webhook_and_email(
    alice, bob, site, receiver, alice_client
):
    Preferences.objects.create(
        user=alice, notify_email=True, alert_failure_percent=40, alert_min_items=5
    )
    Webhook.objects.create(
        user=alice, url=receiver.url("/hook"), events=["alert"], secret="whsec_test"
    )
    job = failing_batch(alice, site, ok=4, failing=8)
    fine = failing_batch(bob, site, ok=10, failing=2, name="bob's mostly fine batch")
    work_until(lambda: len(receiver.requests("/hook")) >= 1 and len(mail.outbox) >= 2)

    job = refreshed(job)
    assert job.status == JobStatus.COMPLETED_WITH_ERRORS
    assert (job.count_failed, job.count_succeeded) == (8, 4)
    kinds = sorted(Alert.objects.filter(job=job).values_list("kind", flat=True))
    assert kinds == [AlertKind.FAILURE_RATE, AlertKind.FINISHED]
    rate = Alert.objects.get(job=job, kind=AlertKind.FAILURE_RATE)
    assert rate.user == alice
    assert rate.read_at is None
    assert "% of items failed" in rate.title
    assert "threshold is 40 %" in rate.message
    # Bob's 2 of 12 stay under the site's 50 %: only his batch's end.
    assert list(Alert.objects.filter(job=fine).values_list("kind", flat=True)) == ["finished"]

    [hook_body] = alert_bodies(receiver)
    assert hook_body["event"] == "alert"
    sent = hook_body["data"]["alert"]
    assert (sent["kind"], sent["job_id"], sent["title"]) == (
        "failure_rate",
        str(job.pk),
        rate.title,
    )
    subjects = sorted(m.subject for m in mail.outbox)
    assert subjects == sorted(
        [f"[batchsite] {rate.title}", "[batchsite] flaky hosts finished with errors"]
    )
    assert all(m.to == ["alice@example.com"] for m in mail.outbox)

    # Running the job's failed items again ends it again: no alert twice, nothing sent twice.
    assert retry_items(job, ["failed"]) == 8
    work_until(lambda: refreshed(job).status in JobStatus.TERMINAL)
    assert Alert.objects.filter(job=job).count() == 2
    assert alerts.failure_rate_exceeded(job.pk, alerts.limits_for(job.pk)) is None
    assert len(alert_bodies(receiver)) == 1
    assert len([m for m in mail.outbox if "% of items failed" in m.subject]) == 1


def test_the_bell_counts_and_lists_my_alerts_and_marks_them_read(
    alice, bob, site, burst_worker, alice_client, bob_client
):
    mine = submit_batch(alice, urls=[site.url("/ok/b")], name="<b>alice's</b> batch").job
    theirs = submit_batch(bob, urls=[site.url("/ok/c")], name="bob's batch").job
    burst_worker()
    assert refreshed(mine).status == refreshed(theirs).status == JobStatus.COMPLETED

    page = alice_client.get(reverse("dashboard")).content.decode()
    assert 'data-unread="1">1</span>' in page
    panel = alice_client.get(reverse("notifications")).content.decode()
    assert "“&lt;b&gt;alice&#x27;s&lt;/b&gt; batch” completed" in panel
    assert "notice--unread" in panel
    assert "bob" not in panel
    listing = alice_client.get(reverse("alerts")).content.decode()
    assert "1 unread in all" in listing
    assert "bob" not in listing

    read = alice_client.post(reverse("alerts-read"), HTTP_HX_REQUEST="true")
    assert read.status_code == 200
    assert "notice--unread" not in read.content.decode()
    assert 'data-unread="0" hidden>' in alice_client.get(reverse("dashboard")).content.decode()
    assert Alert.objects.get(job=mine).read_at is not None
    assert Alert.objects.get(job=theirs).read_at is None, "bob's stays unread"

    # One alert at a time, from the list page; another user's alert is not mine to mark.
    bobs = Alert.objects.get(job=theirs)
    alice_client.post(reverse("alert-read", args=[bobs.pk]))
    assert refreshed(bobs).read_at is None
    assert bob_client.post(reverse("alert-read", args=[bobs.pk])).status_code == 302
    assert refreshed(bobs).read_at is not None
    assert alice_client.get(reverse("alerts-read")).status_code == 405


def test_in_app_notifications_off_hide_the_bells_count(alice, site, burst_worker, alice_client):
    save_preferences(alice, notify_in_app=False)
    submit_batch(alice, urls=[site.url("/ok/d")])
    burst_worker()
    assert Alert.objects.filter(user=alice).count() == 1
    page = alice_client.get(reverse("dashboard")).content.decode()
    assert 'data-unread="0" hidden>' in page


def test_items_stuck_past_three_times_the_processors_p95_alert_once(
    alice, site, settings, receiver
):
    settings.BATCHSITE_ALERT_STUCK_FLOOR_SECONDS = 1.0
    Webhook.objects.create(
        user=alice, url=receiver.url("/hook"), events=["alert"], secret="whsec_test"
    )
    quick = submit_batch(alice, urls=[site.url(f"/ok/q{i}") for i in range(20)]).job
    hanging = submit_batch(
        alice, urls=[site.url("/hang"), site.url("/ok/e")], item_timeout=120, name="hangs"
    ).job
    worker = start_worker_process(BATCHSITE_ALERT_STUCK_FLOOR_SECONDS="1")
    try:
        wait_until(lambda: refreshed(quick).status == JobStatus.COMPLETED, timeout=60)
        wait_until(lambda: hanging.items.filter(status="processing").exists(), timeout=60)
        limit = alerts.stuck_after("http_check")
        assert limit == 1.0, "the local site answers in far less than a third of a second"
        wait_until(lambda: alerts.check_stuck() == 1, timeout=30, interval=0.5)
        assert alerts.check_stuck() == 0, "once per job"
    finally:
        kill_process_group(worker)
    alert = Alert.objects.get(job=hanging, kind=AlertKind.STUCK_ITEMS)
    assert alert.title == "“hangs”: 1 item stuck"
    assert alert.data["stuck"] == 1
    assert alert.data["limit_seconds"] == 1.0
    assert not Alert.objects.filter(job=quick, kind=AlertKind.STUCK_ITEMS).exists()
    work_until(lambda: len(receiver.requests("/hook")) == 1)
    assert alert_bodies(receiver)[0]["data"]["alert"]["kind"] == "stuck_items"


def test_p95_and_the_failure_threshold():
    assert alerts.p95([]) is None
    assert alerts.p95([float(n) for n in range(1, 101)]) == 95.0
    assert alerts.p95([2.0]) == 2.0
    limits = alerts.Limits(percent=50, min_items=10)
    assert not alerts.over_limit(9, 9, limits), "not before N items"
    assert not alerts.over_limit(5, 10, limits), "at the threshold is not above it"
    assert alerts.over_limit(6, 10, limits)


def test_the_thresholds_are_a_preference(alice, alice_client):
    page = alice_client.get("/settings").content.decode()
    assert 'name="alert_failure_percent"' in page
    assert 'placeholder="50"' in page
    prefs = {
        "default_processor": "http_check",
        "default_priority": "5",
        "default_concurrency": "50",
        "theme": "system",
        "page_size": "25",
        "alert_failure_percent": "101",
        "alert_min_items": "0",
    }
    bad = alice_client.post(reverse("settings-preferences"), prefs)
    assert bad.status_code == 400
    prefs.update(alert_failure_percent="25", alert_min_items="100")
    assert alice_client.post(reverse("settings-preferences"), prefs).status_code == 302
    job_owner = Preferences.objects.get(user=alice)
    assert (job_owner.alert_failure_percent, job_owner.alert_min_items) == (25, 100)
