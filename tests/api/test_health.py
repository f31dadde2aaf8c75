"""GET /api/health: 200 when the database, Redis, a worker and the scheduler answer; else 503."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, kill_process_group, start_worker_process, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True)


def test_health_is_503_and_names_what_is_down_without_workers(client):
    response = client.get("/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["ok"] is False
    assert set(body["down"]) == {"workers", "scheduler"}
    assert body["database"]["ok"]
    assert body["redis"]["ok"]


@pytest.mark.slow
def test_health_is_200_with_a_worker_and_the_scheduler(client):
    worker = start_worker_process()
    scheduler = subprocess.Popen(
        [sys.executable, "manage.py", "rqcron", "jobs.cron"],
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            response = client.get("/api/health")
            if response.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert response.status_code == 200, response.json()
        assert response.json()["workers"]["detail"]["count"] == 1
    finally:
        kill_process_group(worker)
        kill_process_group(scheduler)
