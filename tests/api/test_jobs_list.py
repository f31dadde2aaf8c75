"""GET /api/jobs, exactly as the contract says: names, shapes, filters, 400s, ownership."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from jobs.models import ApiKey, BatchJob, JobStatus

pytestmark = pytest.mark.django_db

JOB_KEYS = {
    "job_id",
    "name",
    "processor",
    "status",
    "overall_progress",
    "priority",
    "total_items",
    "counts",
    "current_step",
    "estimated_time_remaining",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
}


def make_job(owner, **fields) -> BatchJob:
    return BatchJob.objects.create(owner=owner, **{"status": JobStatus.COMPLETED, **fields})


@pytest.fixture
def api(alice) -> APIClient:
    client = APIClient()
    client.force_authenticate(alice)
    return client


def get(client, **params):
    return client.get("/api/jobs", params)


def test_unauthenticated_is_401_with_a_json_body(client):
    response = client.get("/api/jobs")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == "Bearer"


def test_the_response_has_exactly_the_contract_shape(api, alice):
    make_job(alice, name="first", total_items=3, count_succeeded=3, progress=100.0)
    body = get(api).json()
    assert set(body) == {"jobs", "pagination", "summary"}
    assert set(body["pagination"]) == {"total", "limit", "offset", "page", "pages"}
    assert set(body["summary"]) == {
        "total_jobs",
        "completed",
        "failed",
        "in_progress",
        "pending",
        "cancelled",
    }
    (job,) = body["jobs"]
    assert set(job) == JOB_KEYS
    assert job["counts"]["succeeded"] == 3
    assert job["overall_progress"] == 100.0
    assert job["created_at"].endswith("Z")
    assert body["pagination"] == {"total": 1, "limit": 50, "offset": 0, "page": 1, "pages": 1}


def test_users_see_only_their_own_jobs_and_staff_see_all(api, alice, bob, staff):
    make_job(alice, name="alice's")
    make_job(bob, name="bob's")
    assert [j["name"] for j in get(api).json()["jobs"]] == ["alice's"]
    staff_client = APIClient()
    staff_client.force_authenticate(staff)
    assert {j["name"] for j in get(staff_client).json()["jobs"]} == {"alice's", "bob's"}


def test_status_filters_one_or_several_and_summary_ignores_status(api, alice):
    for status in (
        JobStatus.COMPLETED,
        JobStatus.COMPLETED_WITH_ERRORS,
        JobStatus.FAILED,
        JobStatus.RUNNING,
        JobStatus.QUEUED,
        JobStatus.CANCELLED,
    ):
        make_job(alice, status=status, name=status)
    one = get(api, status="failed").json()
    assert [j["status"] for j in one["jobs"]] == ["failed"]
    several = get(api, status="running,queued").json()
    assert {j["status"] for j in several["jobs"]} == {"running", "queued"}
    assert several["pagination"]["total"] == 2
    assert several["summary"] == {
        "total_jobs": 6,
        "completed": 2,
        "failed": 1,
        "in_progress": 1,
        "pending": 1,
        "cancelled": 1,
    }


def test_summary_follows_the_other_filters(api, alice):
    make_job(alice, processor="http_check", status=JobStatus.FAILED)
    make_job(alice, processor="http_check", status=JobStatus.COMPLETED, priority=9)
    body = get(api, priority="urgent", status="failed").json()
    assert body["jobs"] == []
    assert body["summary"]["total_jobs"] == 1
    assert body["summary"]["completed"] == 1


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({"status": "done"}, "status"),
        ({"status": "completed,nope"}, "status"),
        ({"date_range": "year"}, "date_range"),
        ({"priority": "11"}, "priority"),
        ({"priority": "0"}, "priority"),
        ({"priority": "soon"}, "priority"),
        ({"processor": "nope"}, "processor"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-5"}, "offset"),
        ({"offset": "1.5"}, "offset"),
        ({"sort_by": "name"}, "sort_by"),
        ({"sort_order": "up"}, "sort_order"),
        ({"search": "x" * 201}, "search"),
    ],
)
def test_each_invalid_value_is_a_400_naming_it_and_what_it_accepts(api, params, bad):
    response = get(api, **params)
    assert response.status_code == 400
    body = response.json()
    assert set(body["errors"]) == {bad}
    assert body["errors"][bad]["message"]
    assert body["errors"][bad]["accepts"]


def test_every_bad_parameter_is_named_at_once(api):
    body = get(api, status="x", limit="y", sort_order="z", priority="99").json()
    assert set(body["errors"]) == {"status", "limit", "sort_order", "priority"}
    assert "completed" in body["errors"]["status"]["accepts"]


def test_limit_is_clamped_to_100_and_pages_count(api, alice):
    BatchJob.objects.bulk_create(BatchJob(owner=alice, name=f"j{i}") for i in range(120))
    body = get(api, limit="500").json()
    assert len(body["jobs"]) == 100
    assert body["pagination"] == {"total": 120, "limit": 100, "offset": 0, "page": 1, "pages": 2}
    body = get(api, limit="25", offset="100").json()
    assert len(body["jobs"]) == 20
    assert body["pagination"]["page"] == 5
    assert len(get(api).json()["jobs"]) == 50


def test_priority_by_number_and_by_name(api, alice):
    for priority in (1, 5, 8, 10):
        make_job(alice, priority=priority)
    assert [j["priority"] for j in get(api, priority="8").json()["jobs"]] == [8]
    assert {j["priority"] for j in get(api, priority="urgent").json()["jobs"]} == {10}
    assert {j["priority"] for j in get(api, priority="low").json()["jobs"]} == {1}
    assert {j["priority"] for j in get(api, priority="normal").json()["jobs"]} == {5}


def test_date_range(api, alice):
    now = timezone.now()
    make_job(alice, name="new", created_at=now)
    make_job(alice, name="last week", created_at=now - timedelta(days=5))
    make_job(alice, name="old", created_at=now - timedelta(days=60))
    assert {j["name"] for j in get(api, date_range="week").json()["jobs"]} == {"new", "last week"}
    assert {j["name"] for j in get(api, date_range="month").json()["jobs"]} == {"new", "last week"}
    assert len(get(api, date_range="all").json()["jobs"]) == 3


def test_search_by_name_or_id_prefix(api, alice):
    wanted = make_job(alice, name="Quarterly sites")
    make_job(alice, name="other")
    assert [j["name"] for j in get(api, search="quarterly").json()["jobs"]] == ["Quarterly sites"]
    prefix = str(wanted.pk)[:8]
    assert [j["job_id"] for j in get(api, search=prefix).json()["jobs"]] == [str(wanted.pk)]
    longer = str(wanted.pk)[:13]  # with a dash
    assert [j["job_id"] for j in get(api, search=longer).json()["jobs"]] == [str(wanted.pk)]
    assert [j["job_id"] for j in get(api, search=str(wanted.pk)).json()["jobs"]] == [str(wanted.pk)]


@pytest.mark.parametrize(
    "sort_by", ["created_at", "updated_at", "progress", "priority", "total_items", "duration"]
)
def test_sorting(api, alice, sort_by):
    now = timezone.now()
    for i in range(3):
        make_job(
            alice,
            name=f"j{i}",
            priority=i + 1,
            progress=10.0 * i,
            total_items=i,
            created_at=now - timedelta(minutes=i),
            updated_at=now - timedelta(minutes=i),
            started_at=now - timedelta(minutes=10),
            finished_at=now - timedelta(minutes=10 - i),
        )
    asc = [j["name"] for j in get(api, sort_by=sort_by, sort_order="asc").json()["jobs"]]
    desc = [j["name"] for j in get(api, sort_by=sort_by).json()["jobs"]]
    assert asc == list(reversed(desc))
    assert len(set(asc)) == 3


def test_a_page_costs_the_same_queries_whatever_its_size(api, alice, django_assert_num_queries):
    BatchJob.objects.bulk_create(BatchJob(owner=alice) for _ in range(5))
    with django_assert_num_queries(2):
        assert len(get(api).json()["jobs"]) == 5
    BatchJob.objects.bulk_create(BatchJob(owner=alice) for _ in range(95))
    with django_assert_num_queries(2):
        assert len(get(api, limit="100").json()["jobs"]) == 100


def test_bearer_keys_authenticate_and_revoked_keys_do_not(alice):
    make_job(alice, name="mine")
    key, raw = ApiKey.issue(alice, "script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert [j["name"] for j in get(client).json()["jobs"]] == ["mine"]
    assert ApiKey.objects.get().last_used_at is not None
    key.revoked_at = timezone.now()
    key.save()
    assert get(client).status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Bearer bs_not-a-key")
    assert get(client).status_code == 401
