"""The Dashboard (/) and its live refresh (/dashboard/panels): figures, ownership, workers, and a
query count that does not grow with the number of jobs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from jobs.models import BatchJob, JobStatus, Runner
from jobs.tasks import RUNNER_ID_PREFIX
from tests.seed import rq_worker_fixture  # noqa: F401 (the rq_worker fixture)

pytestmark = pytest.mark.django_db

# session, user, viewer role, status counts, live runners + which are mine, queue depths, success rate, p50
# jobs + up to 5 samples, timeline — whatever the number of jobs.
MAX_QUERIES = 15


def make_job(owner, **fields) -> BatchJob:
    return BatchJob.objects.create(owner=owner, **{"status": JobStatus.COMPLETED, **fields})


def page(client, user, name="dashboard") -> str:
    client.force_login(user)
    response = client.get(reverse(name))
    assert response.status_code == 200
    return response.content.decode()


def test_the_panels_need_a_login(client):
    response = client.get(reverse("dashboard-panels"))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_dashboard_shows_my_figures(client, alice):
    make_job(alice, name="busy one", status=JobStatus.RUNNING, priority=9, count_queued=1200)
    make_job(alice, status=JobStatus.COMPLETED_WITH_ERRORS, count_succeeded=90, count_failed=10)
    html = page(client, alice)
    assert 'data-kpi="running">1<' in html
    assert 'data-kpi="success-rate">90.0 %<' in html
    assert 'data-kpi="queue-depth">1,200<' in html
    assert "90 of 100 items succeeded" in html
    assert 'id="status-data"' in html
    assert 'href="/jobs?status=completed_with_errors"' in html, "a status links to the job list"
    assert "busy one</a> submitted" in html


def test_bob_never_sees_alices_jobs_or_figures(client, alice, bob, staff):
    make_job(alice, name="alice-secret", status=JobStatus.RUNNING, count_queued=77)
    for name in ("dashboard", "dashboard-panels"):
        html = page(client, bob, name)
        assert "alice-secret" not in html
        assert 'data-kpi="running">0<' in html
        assert 'data-kpi="queue-depth">0<' in html
    staff_html = page(client, staff)
    assert "alice-secret" in staff_html
    assert 'data-kpi="running">1<' in staff_html
    assert "Chunks" in staff_html, "staff see RQ's own queue figures"
    assert "Chunks" not in page(client, bob)


def test_the_panels_are_the_same_partials_marked_for_an_out_of_band_swap(client, alice):
    make_job(alice, name="in both")
    html = page(client, alice, "dashboard-panels")
    for panel in ("kpis", "status-legend", "timeline", "queues", "workers"):
        assert f'id="{panel}"' in html
    assert html.count('hx-swap-oob="true"') == 5
    assert "<html" not in html
    assert "in both</a> submitted" in html


def test_worker_cards_show_my_job_and_urls_but_only_that_someone_else_is_busy(
    client, alice, bob, rq_worker
):
    job = make_job(alice, name="crawl", status=JobStatus.RUNNING)
    rq_worker.set_current_job_id(f"{RUNNER_ID_PREFIX}{job.pk}-0123456789ab")
    Runner.objects.create(
        id="host:1:abc",
        job=job,
        worker_name=rq_worker.name,
        started_at=timezone.now() - timedelta(seconds=10),
        items_done=1234,
        in_flight=2,
        current_urls=["https://example.com/one", "https://example.com/two"],
    )
    html = page(client, alice)
    assert 'data-worker="worker-one"' in html
    assert "crawl</a>" in html
    assert "1,234 items done" in html
    assert "https://example.com/one" in html
    assert 'data-kpi="items-per-second">123.4<' in html

    html = page(client, bob)
    assert 'data-worker="worker-one"' in html, "everyone sees the workers"
    assert "Working on another user's batch" in html
    assert "crawl" not in html
    assert "example.com" not in html


def test_no_worker_says_how_to_start_one(client, alice):
    assert "No worker is running" in page(client, alice)


def test_a_busy_worker_that_runs_no_batch_is_just_busy(client, bob, rq_worker):
    rq_worker.set_current_job_id("some-maintenance-job")
    html = page(client, bob)
    assert 'data-worker="worker-one"' in html
    assert "another user" not in html
    assert ">Busy</p>" in html


@pytest.mark.parametrize("jobs", [3, 60])
def test_the_query_count_does_not_grow_with_the_number_of_jobs(
    client, alice, staff, rq_worker, django_assert_max_num_queries, jobs
):
    for i in range(jobs):
        job = make_job(
            alice if i % 2 else staff,
            status=JobStatus.RUNNING if i % 3 else JobStatus.COMPLETED,
            started_at=timezone.now(),
            finished_at=timezone.now(),
            item_seconds=1.0,
        )
        if i < 10:
            Runner.objects.create(id=f"r{i}", job=job, worker_name=rq_worker.name)
    for user in (alice, staff):
        client.force_login(user)
        for name in ("dashboard", "dashboard-panels"):
            with django_assert_max_num_queries(MAX_QUERIES):
                assert client.get(reverse(name)).status_code == 200
