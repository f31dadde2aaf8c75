"""Jobs per day come from the rollups' `jobs` counter, written with each submission: they stay
after retention deletes the jobs, count only what the reader may see, and the migration that
added the counter counted the jobs that were already there."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from analytics.models import ItemRollup, Period
from jobs.models import BatchJob
from jobs.services import submit_batch
from tests.analytics.test_api import client_for
from tests.api.seed import make_job

pytestmark = pytest.mark.django_db

backfill = importlib.import_module("analytics.migrations.0002_rollup_jobs").count_existing_jobs


def jobs_today(client, query: str = "") -> tuple[int, int]:
    body = client.get(f"/api/analytics/overview?range=7d{query}").json()
    days = body["charts"]["jobs_per_day"]
    return days[-1]["jobs"], body["kpis"]["jobs"]


def test_each_submission_counts_and_the_count_outlives_the_job(alice, bob, staff):
    for _ in range(3):
        submit_batch(alice, urls=["https://example.com/a"])
    submit_batch(alice, urls=["https://example.com/b"], processor="page_audit")
    submit_batch(bob, urls=["https://example.com/c"])
    assert jobs_today(client_for(alice)) == (4, 4)
    assert jobs_today(client_for(alice), "&processor=page_audit") == (1, 1)
    assert jobs_today(client_for(bob)) == (1, 1)
    assert jobs_today(client_for(staff)) == (5, 5)
    BatchJob.objects.all().delete()  # as retention would, days later
    assert jobs_today(client_for(alice)) == (4, 4)


def test_days_are_utc_days_over_hour_and_day_rows(alice):
    now = timezone.now()
    yesterday = now - timedelta(days=1)
    ItemRollup.objects.create(
        period=Period.DAY,
        start=yesterday.replace(hour=0, minute=0, second=0, microsecond=0),
        owner=alice.pk,
        processor="http_check",
        jobs=7,
    )
    submit_batch(alice, urls=["https://example.com/a"])
    days = client_for(alice).get("/api/analytics/charts/jobs_per_day?range=7d").json()["rows"]
    assert [d["jobs"] for d in days[-2:]] == [7, 1]
    assert days[-2]["day"] == yesterday.date().isoformat()


def test_the_migration_counted_the_jobs_that_were_already_there(alice, bob):
    for owner in (alice, alice, bob):
        make_job(owner, 1)
    backfill(apps, None)
    rows = ItemRollup.objects.filter(period=Period.HOUR, jobs__gt=0)
    assert sorted(rows.values_list("owner", "jobs")) == [(alice.pk, 2), (bob.pk, 1)]
