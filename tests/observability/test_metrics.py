"""/metrics: a bearer token guards it, and its figures are right across worker processes (two
real burst workers, each a process of its own, count into the same Redis)."""

from __future__ import annotations

import os
import subprocess
import sys

import django_rq
import pytest
from django.conf import settings
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from rq import Worker

from jobs.models import ItemAttempt, JobStatus
from jobs.services import submit_batch
from tests.conftest import (
    ROOT,
    refreshed,
    subprocess_env,
)

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "metrics-secret-123"


@pytest.fixture
def token(settings):
    settings.BATCHSITE_METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client: Client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def burst_worker_process() -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", *settings.JOB_QUEUES, "--burst"],
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_metrics_are_404_without_a_token_setting_and_401_with_a_wrong_one(settings, client):
    settings.BATCHSITE_METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404
    settings.BATCHSITE_METRICS_TOKEN = TOKEN
    for header in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": TOKEN}):
        response = client.get("/metrics", **header)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


def test_counts_add_up_across_worker_processes(alice, bob, site, token, client, burst_worker):
    # One job run by a burst worker in this process, the other by `rqworker --burst` in another
    # (its work horse): both count into Redis, the scrape sees the sum.
    first = submit_batch(alice, urls=[site.url(f"/ok/m{i}") for i in range(30)], max_attempts=1)
    burst_worker()
    second = submit_batch(
        bob,
        urls=[site.url(f"/ok/n{i}") for i in range(20)]
        + [site.url(f"/reset?m={i}") for i in range(5)],
        max_attempts=1,
    )
    assert burst_worker_process().wait(timeout=120) == 0
    for submission in (first, second):
        assert refreshed(submission.job).status in JobStatus.TERMINAL
    pids = {w.split(":")[1] for w in ItemAttempt.objects.values_list("worker", flat=True)}
    assert len(pids) == 2
    assert str(os.getpid()) in pids

    for _ in range(3):
        assert client.get("/accounts/login/").status_code == 200
    metrics = scrape(client)
    assert metrics[("batchsite_items_processed_total", (("processor", "http_check"),))] == 55
    assert metrics[("batchsite_items_failed_total", (("processor", "http_check"),))] == 5
    assert metrics[("batchsite_event_lag_seconds_count", ())] == 55
    assert metrics[("batchsite_event_lag_seconds_bucket", (("le", "+Inf"),))] == 55
    assert 0 < metrics[("batchsite_event_lag_seconds_sum", ())] < 55 * 30
    get_2xx = (("method", "GET"), ("status", "2xx"))
    assert metrics[("batchsite_http_request_duration_seconds_count", get_2xx)] == 3
    every = tuple(sorted((*get_2xx, ("le", "+Inf"))))
    assert metrics[("batchsite_http_request_duration_seconds_bucket", every)] == 3
    assert metrics[("batchsite_queue_depth", (("queue", "default"),))] == 0
    assert metrics[("batchsite_workers", ())] == 0


def test_queue_depth_and_worker_count_are_read_at_scrape_time(alice, site, token, client):
    submit_batch(alice, urls=[site.url("/ok/waiting")], priority=9)
    metrics = scrape(client)
    assert metrics[("batchsite_queue_depth", (("queue", "urgent"),))] == 1
    assert metrics[("batchsite_queue_depth", (("queue", "low"),))] == 0
    conn = django_rq.get_connection("default")
    worker = Worker([django_rq.get_queue("low")], connection=conn)
    worker.register_birth()  # what `rqworker` does as it starts (and register_death as it ends)
    try:
        assert scrape(client)[("batchsite_workers", ())] == 1
    finally:
        worker.register_death()
    assert scrape(client)[("batchsite_workers", ())] == 0
