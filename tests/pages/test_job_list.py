"""The Jobs page (/jobs): the same jobs, in the same order, as GET /api/jobs with the same query;
ownership; bad values shown as messages; the search box's job-id jump; bounded queries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from jobs.account.preferences import save_preferences
from jobs.models import BatchJob, JobStatus

pytestmark = pytest.mark.django_db

ROW = re.compile(r'<tr data-job-id="([0-9a-f-]{36})"')


def make_job(owner, **fields) -> BatchJob:
    return BatchJob.objects.create(owner=owner, **{"status": JobStatus.COMPLETED, **fields})


def listed(client, **params) -> tuple[list[str], str]:
    response = client.get(reverse("job-list"), params)
    assert response.status_code == 200
    html = response.content.decode()
    return ROW.findall(html), html


@pytest.fixture
def varied_jobs(alice, bob):
    now = timezone.now()
    statuses = list(JobStatus.values)
    for i in range(30):
        make_job(
            alice,
            name=f"batch {i:02d}",
            status=statuses[i % len(statuses)],
            priority=1 + i % 10,
            processor=("http_check", "page_audit")[i % 2],
            total_items=(i * 37) % 11,
            progress=float((i * 13) % 100),
            created_at=now - timedelta(days=i % 9, minutes=i),
            started_at=now - timedelta(minutes=i * 2),
            finished_at=now - timedelta(minutes=i) if i % 3 else None,
        )
    make_job(bob, name="bob's batch 01")


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"status": "completed,failed"},
        {"priority": "high"},
        {"priority": "3"},
        {"processor": "page_audit", "date_range": "week"},
        {"search": "batch 1"},
        {"sort_by": "priority", "sort_order": "asc"},
        {"sort_by": "duration"},
        {"sort_by": "total_items", "sort_order": "asc", "limit": "7"},
        {"sort_by": "progress", "limit": "10", "page": "2"},
    ],
)
def test_the_page_lists_what_the_api_lists_for_the_same_query(client, alice, varied_jobs, params):
    client.force_login(alice)
    api = APIClient()
    api.force_authenticate(alice)
    api_params = {k: v for k, v in params.items() if k != "page"}
    api_params.setdefault("limit", "25")
    api_params["offset"] = str((int(params.get("page", 1)) - 1) * int(api_params["limit"]))
    body = api.get("/api/jobs", api_params).json()
    ids, html = listed(client, **params)
    assert ids == [job["job_id"] for job in body["jobs"]]
    assert f"{body['pagination']['total']:,} job" in html


def test_status_tabs_count_from_the_api_summary(client, alice, varied_jobs):
    client.force_login(alice)
    _, html = listed(client, status="failed")
    assert re.search(r'aria-current="page">Failed <span class="count">\d+</span>', html)
    assert re.search(r'>All <span class="count">30</span>', html), "bob's job is not counted"
    assert "bob" not in html


def test_bob_never_sees_alices_jobs_and_staff_see_everyones_with_the_owner(
    client, alice, bob, staff
):
    make_job(alice, name="alice-secret")
    client.force_login(bob)
    ids, html = listed(client)
    assert ids == []
    assert "alice-secret" not in html
    assert "No batches yet" in html
    client.force_login(staff)
    ids, html = listed(client)
    assert len(ids) == 1
    assert "alice-secret" in html
    assert 'title="Owner">· alice<' in html


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"status": "done"}, "status"),
        ({"priority": "11"}, "priority"),
        ({"processor": "nope"}, "processor"),
        ({"date_range": "year"}, "date_range"),
        ({"sort_by": "name"}, "sort_by"),
        ({"sort_order": "sideways"}, "sort_order"),
        ({"limit": "0"}, "limit"),
        ({"page": "two"}, "page"),
        ({"page": "-1"}, "page"),
        ({"search": "x" * 201}, "search"),
        ({"search": "nul\x00byte"}, "search"),
        ({"page": "99999999999999999999"}, "page"),
    ],
)
def test_a_bad_value_is_a_message_and_the_rest_of_the_query_still_applies(
    client, alice, params, named
):
    make_job(alice, name="kept", status=JobStatus.FAILED)
    make_job(alice, name="filtered out", status=JobStatus.COMPLETED)
    client.force_login(alice)
    ids, html = listed(client, status=params.pop("status", "failed"), **params)
    assert f"Ignored {named}:" in html
    assert 'role="alert"' in html
    if named != "status":
        assert len(ids) == 1, "the valid status filter still applies"


def test_a_page_past_the_end_shows_the_last_page_and_says_so(client, alice):
    for i in range(12):
        make_job(alice, name=f"job {i}")
    client.force_login(alice)
    ids, html = listed(client, limit="10", page="9")
    assert len(ids) == 2
    assert "There is no page 9; this is the last one, page 2." in html


def test_without_a_limit_the_page_shows_the_users_preferred_page_size(client, alice):
    for i in range(12):
        make_job(alice, name=f"job {i}")
    client.force_login(alice)
    assert len(listed(client)[0]) == 12  # 25 by default
    save_preferences(alice, page_size=10)
    assert len(listed(client)[0]) == 10
    assert len(listed(client, limit="50")[0]) == 12  # the query string still wins


def test_a_full_job_id_in_the_search_box_opens_that_job(client, alice, bob):
    mine = make_job(alice, name="mine")
    theirs = make_job(bob, name="theirs")
    client.force_login(alice)
    response = client.get(reverse("job-list"), {"search": f"  {mine.pk}  "})
    assert response.status_code == 302
    assert response["Location"] == reverse("job-detail", args=[mine.pk])
    ids, html = listed(client, search=str(theirs.pk))
    assert ids == []
    assert "theirs" not in html
    ids, _ = listed(client, search=str(mine.pk)[:8])
    assert ids == [str(mine.pk)], "a prefix filters"


def test_sort_headers_toggle_and_say_which_way_they_sort(client, alice):
    make_job(alice)
    client.force_login(alice)
    _, html = listed(client, sort_by="priority", sort_order="desc", page="1")
    assert 'aria-sort="descending"><a href="?sort_by=priority&amp;sort_order=asc"' in html
    assert 'href="?sort_by=created_at&amp;sort_order=desc"' in html
    assert html.count("aria-sort=") == 1


def test_row_actions_offer_what_each_job_allows(client, alice):
    make_job(alice, name="running", status=JobStatus.RUNNING)
    make_job(alice, name="with failures", status=JobStatus.COMPLETED_WITH_ERRORS, count_failed=2)
    client.force_login(alice)
    _, html = listed(client)
    rows = html.split('<tr data-job-id="')[1:]
    running = next(r for r in rows if ">running</a>" in r)
    failures = next(r for r in rows if ">with failures</a>" in r)
    assert 'data-action="cancel" aria-label="Cancel running" title="Cancel">' in running
    assert 'data-action="retry"' in running
    assert 'title="Retry failed items" hidden' in running
    assert 'title="Cancel" hidden' in failures
    assert 'title="Retry failed items">' in failures
    assert "/results?format=csv" in failures
    assert "2 failed" in failures


@pytest.mark.parametrize("jobs", [3, 120])
def test_the_query_count_does_not_grow_with_the_number_of_jobs(
    client, alice, staff, django_assert_max_num_queries, jobs
):
    for i in range(jobs):
        make_job(alice if i % 2 else staff, name=f"job {i}")
    for user in (alice, staff):
        client.force_login(user)
        # session, user, the page of jobs, the grouped count (+ owners' names for staff)
        with django_assert_max_num_queries(5):
            listed(client, limit="100", sort_by="duration", status="completed")
