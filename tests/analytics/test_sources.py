"""The other sources of the rollups: webhook delivery attempts (a real delivery to a local
receiver, failing then answering), queue-depth samples (the scheduler's periodic task) and their
registration with the scheduler."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from analytics.models import Period, QueueSample, WebhookRollup
from analytics.tasks import compact, sample_queues
from jobs.account import notify
from jobs.scheduler import Scheduler
from jobs.services import submit_batch
from tests.settings.test_webhooks import add_webhook, finished
from tests.settings.workers import work_until


@pytest.mark.django_db(transaction=True)
def test_every_webhook_attempt_is_counted_for_its_owner(alice, alice_client, bob_client, receiver):
    add_webhook(alice_client, receiver.url("/flaky"))
    receiver.fail("/flaky", times=2)
    notify.notify_alert(alice, "Failure rate", "Over 50 % of items failed in the last hour.")
    work_until(finished(), timeout=30)
    for period in (Period.MINUTE, Period.HOUR):
        rows = WebhookRollup.objects.filter(period=period, owner=alice.pk)
        assert rows.aggregate(d=Sum("delivered"), f=Sum("failed")) == {"d": 1, "f": 2}
    kpis = alice_client.get("/api/analytics/overview").json()["kpis"]
    assert (kpis["webhook_attempts"], kpis["webhook_success_rate"]) == (3, 33.33)
    assert bob_client.get("/api/analytics/overview").json()["kpis"]["webhook_attempts"] == 0


@pytest.mark.django_db
def test_queue_samples_count_each_owners_waiting_items(alice, bob, alice_client, bob_client):
    submit_batch(alice, urls=[f"https://example.com/{i}" for i in range(7)])
    assert sample_queues() == 2  # alice and the totals
    assert QueueSample.objects.get(owner=alice.pk).waiting == 7
    assert QueueSample.objects.get(owner=0).waiting == 7
    rows = alice_client.get("/api/analytics/charts/queue_depth").json()["rows"]
    assert [(r["waiting"], r["processing"]) for r in rows] == [(7, 0)]
    rows = bob_client.get("/api/analytics/charts/queue_depth").json()["rows"]
    assert [(r["waiting"], r["processing"]) for r in rows] == [(0, 0)]


def test_the_scheduler_runs_the_analytics_tasks(redis_db):
    scheduler = Scheduler(connection=redis_db)
    scheduler.load_config_from_file("jobs.cron")
    jobs = {job.func: job for job in scheduler.get_jobs()}
    assert jobs[sample_queues].interval == 10
    assert jobs[compact].interval == 3600
