"""GET /api/jobs, exactly as the contract says: names, shapes, filters, 400s, ownership."""

from __future__ import annotations

import random
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from jobs.access import jobs_for
from jobs.api import paging
from jobs.api.filters import JobFilter, date_range_start, parse_paging
from jobs.api.paging import SUMMARY_GROUPS, job_page
from jobs.api.serializers import JOB_FIELDS
from jobs.models import ApiKey, BatchJob, JobStatus
from tests.api.seed import client_for, key_client, make_job

pytestmark = pytest.mark.django_db

# Written out once, from DESIGN.md's Contracts; every other test reads JOB_FIELDS.
CONTRACT_JOB_KEYS = (
    "job_id, name, processor, status, overall_progress, priority, total_items, counts, "
    "current_step, estimated_time_remaining, created_at, updated_at, started_at, finished_at"
)


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
    assert tuple(CONTRACT_JOB_KEYS.split(", ")) == JOB_FIELDS
    assert list(job) == list(JOB_FIELDS)
    assert job["counts"]["succeeded"] == 3
    assert job["overall_progress"] == 100.0
    assert job["created_at"].endswith("Z")
    assert body["pagination"] == {"total": 1, "limit": 50, "offset": 0, "page": 1, "pages": 1}


def test_users_see_only_their_own_jobs_and_staff_see_all(api, alice, bob, staff):
    make_job(alice, name="alice's")
    make_job(bob, name="bob's", status=JobStatus.FAILED)
    mine = get(api).json()
    assert [j["name"] for j in mine["jobs"]] == ["alice's"]
    assert (mine["summary"]["total_jobs"], mine["summary"]["failed"]) == (1, 0)
    everyone = get(client_for(staff)).json()
    assert {j["name"] for j in everyone["jobs"]} == {"alice's", "bob's"}
    assert (everyone["summary"]["total_jobs"], everyone["summary"]["failed"]) == (2, 1)


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
        # Digits int() refuses (superscripts, other scripts) are refused, not a 500.
        ({"limit": "²"}, "limit"),
        ({"offset": "٣"}, "offset"),
        ({"priority": "¹"}, "priority"),
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


def test_today_starts_at_midnight_in_the_active_time_zone(api, alice):
    with timezone.override(ZoneInfo("Pacific/Auckland")):
        midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
        make_job(alice, name="after", created_at=midnight + timedelta(seconds=1))
        make_job(alice, name="before", created_at=midnight - timedelta(seconds=1))
        body = get(api, date_range="today").json()
    assert [j["name"] for j in body["jobs"]] == ["after"]
    assert body["summary"]["total_jobs"] == 1


def test_search_by_name_or_id_prefix(api, alice):
    wanted = make_job(alice, name="Quarterly sites")
    make_job(alice, name="other")
    assert [j["name"] for j in get(api, search="quarterly").json()["jobs"]] == ["Quarterly sites"]
    prefix = str(wanted.pk)[:8]
    assert [j["job_id"] for j in get(api, search=prefix).json()["jobs"]] == [str(wanted.pk)]
    longer = str(wanted.pk)[:13]  # with a dash
    assert [j["job_id"] for j in get(api, search=longer).json()["jobs"]] == [str(wanted.pk)]
    assert [j["job_id"] for j in get(api, search=str(wanted.pk)).json()["jobs"]] == [str(wanted.pk)]
    # Dashes where an id has none: no id starts so, but a name may contain it.
    misplaced = f"{prefix[:3]}-{prefix[3:6]}"
    named = make_job(alice, name=f"batch {misplaced}")
    assert [j["job_id"] for j in get(api, search=misplaced).json()["jobs"]] == [str(named.pk)]


# Three jobs whose every sort key orders them differently: name → the key's rank (0 first).
SORT_RANKS = {
    "created_at": {"a": 0, "b": 1, "c": 2},
    "updated_at": {"a": 2, "b": 0, "c": 1},
    "progress": {"a": 1, "b": 2, "c": 0},
    "priority": {"a": 2, "b": 1, "c": 0},
    "total_items": {"a": 0, "b": 2, "c": 1},
    "duration": {"a": 1, "b": 0, "c": 2},
}


@pytest.mark.parametrize("sort_by", list(SORT_RANKS))
def test_sorting_orders_by_the_key_then_the_id(api, alice, sort_by):
    now = timezone.now()
    for name in "abc":
        rank = {key: ranks[name] for key, ranks in SORT_RANKS.items()}
        make_job(
            alice,
            name=name,
            created_at=now - timedelta(minutes=10 - rank["created_at"]),
            updated_at=now - timedelta(minutes=10 - rank["updated_at"]),
            progress=10.0 * rank["progress"],
            priority=rank["priority"] + 1,
            total_items=rank["total_items"],
            duration=timedelta(seconds=rank["duration"]),
        )
    expected = sorted("abc", key=SORT_RANKS[sort_by].get)
    asc = [j["name"] for j in get(api, sort_by=sort_by, sort_order="asc").json()["jobs"]]
    desc = [j["name"] for j in get(api, sort_by=sort_by).json()["jobs"]]
    assert (asc, desc) == (expected, expected[::-1])
    # Ties go by id, in the same direction.
    BatchJob.objects.update(
        created_at=now, updated_at=now, priority=5, progress=0, total_items=0, duration=timedelta(0)
    )
    by_id = sorted(str(pk) for pk in BatchJob.objects.values_list("pk", flat=True))
    tied = get(api, sort_by=sort_by, sort_order="asc").json()["jobs"]
    assert [j["job_id"] for j in tied] == by_id


def test_duration_is_wall_time_so_far_and_zero_before_a_job_starts(api, alice):
    now = timezone.now()
    waiting = make_job(alice, name="waiting", status=JobStatus.QUEUED)
    running = make_job(alice, name="running", status=JobStatus.QUEUED)
    BatchJob.objects.filter(pk=running.pk).update(
        status=JobStatus.RUNNING, started_at=now - timedelta(minutes=5)
    )
    BatchJob.objects.filter(pk=running.pk).update(duration=BatchJob.duration_until(now))
    done = make_job(alice, name="done", status=JobStatus.RUNNING, started_at=now)
    assert done.transition(JobStatus.COMPLETED)
    done.refresh_from_db()
    assert done.duration == done.finished_at - done.started_at
    assert waiting.duration == timedelta(0)
    assert BatchJob.objects.get(pk=running.pk).duration == timedelta(minutes=5)
    names = [j["name"] for j in get(api, sort_by="duration").json()["jobs"]]
    assert names == ["running", "done", "waiting"]


def test_a_page_costs_the_same_queries_whatever_its_size(api, alice, django_assert_num_queries):
    BatchJob.objects.bulk_create(BatchJob(owner=alice) for _ in range(5))
    with django_assert_num_queries(2):
        assert len(get(api).json()["jobs"]) == 5
    BatchJob.objects.bulk_create(BatchJob(owner=alice) for _ in range(95))
    with django_assert_num_queries(2):
        assert len(get(api, limit="100").json()["jobs"]) == 100


def test_bearer_keys_authenticate_and_revoked_keys_do_not(alice):
    make_job(alice, name="mine")
    client = key_client(alice)
    assert [j["name"] for j in get(client).json()["jobs"]] == ["mine"]
    key = ApiKey.objects.get()
    assert key.last_used_at is not None
    key.revoked_at = timezone.now()
    key.save()
    assert get(client).status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Bearer bs_not-a-key")
    assert get(client).status_code == 401


def test_a_keys_last_use_is_written_at_most_once_a_minute(alice, django_assert_num_queries):
    make_job(alice)
    client = key_client(alice)
    get(client)
    first_use = ApiKey.objects.get().last_used_at
    with django_assert_num_queries(3):  # the key, the summary, the page: no write
        get(client)
    assert ApiKey.objects.get().last_used_at == first_use


def varied_jobs(owners) -> None:
    """60 jobs over two owners with every status, processor, a spread of priorities, ages,
    names and sort keys, so that plans and counts have something to disagree about."""
    rng = random.Random(5)
    now = timezone.now()
    for i in range(60):
        make_job(
            owners[i % len(owners)],
            name=f"{rng.choice(['alpha', 'bravo', 'charlie'])} batch {i}",
            status=rng.choice(JobStatus.values),
            processor=rng.choice(["http_check", "page_audit", "site_profile"]),
            priority=rng.randint(1, 10),
            progress=rng.choice([0.0, 50.0, 100.0]),
            total_items=rng.randint(0, 5),
            created_at=now - timedelta(days=rng.uniform(0, 40)),
            updated_at=now - timedelta(days=rng.uniform(0, 40)),
            duration=timedelta(seconds=rng.randint(0, 3)),
        )


LIST_QUERIES = [
    {},
    {"status": "completed,failed"},
    {"status": "running", "processor": "page_audit"},
    {"priority": "high", "sort_by": "progress", "sort_order": "asc"},
    {"priority": "5", "status": "queued,pending"},
    {"date_range": "week", "sort_by": "priority"},
    {"date_range": "month", "status": "cancelled", "sort_by": "duration", "sort_order": "asc"},
    {"search": "alpha", "sort_by": "total_items"},
    {"search": "bravo", "date_range": "month", "priority": "low", "sort_by": "updated_at"},
    {"sort_by": "duration", "offset": "7", "limit": "9"},
    {"status": "completed_with_errors,cancelling", "offset": "1", "limit": "2"},
]


@pytest.mark.parametrize("params", LIST_QUERIES)
def test_every_plan_and_the_tally_answer_like_counting_and_sorting_in_python(
    alice, bob, staff, monkeypatch, params
):
    """The page is found by walking an index or by sorting the matches, and the summary comes
    from the tally or from counting: each way must give what Python gives from the rows."""
    varied_jobs([alice, bob])
    for user in (alice, staff):
        expected = python_page(jobs_for(user), params)
        answers = []
        for sort_at_most in (0, 10**9):  # always walk, always sort
            monkeypatch.setattr(paging, "SORT_AT_MOST", sort_at_most)
            answers.append(get(client_for(user), **params).json())
            filterset = JobFilter(params, queryset=jobs_for(user))
            assert filterset.is_valid()
            answers.append(job_page(filterset, **parse_paging(params)[0]))  # counted, not tallied
        for body in answers:
            assert [j["job_id"] for j in body["jobs"]] == expected["jobs"], params
            assert body["pagination"]["total"] == expected["total"], params
            assert body["summary"] == expected["summary"], params


def python_page(jobs, params: dict[str, str]) -> dict:
    filterset = JobFilter(params, queryset=jobs)
    assert filterset.is_valid()
    data = filterset.form.cleaned_data
    start = date_range_start(data["date_range"]) if data.get("date_range") else None
    low, high = data.get("priority") or (1, 10)
    search = (data.get("search") or "").lower()
    rows = [
        job
        for job in jobs
        if (start is None or job.created_at >= start)
        and low <= job.priority <= high
        and job.processor == (data.get("processor") or job.processor)
        and (not search or search in job.name.lower() or str(job.pk).startswith(search))
    ]
    summary = {"total_jobs": len(rows)} | {
        name: sum(job.status in group for job in rows) for name, group in SUMMARY_GROUPS.items()
    }
    rows = [job for job in rows if not data.get("status") or job.status in data["status"]]
    paging = parse_paging(params)[0]
    rows.sort(
        key=lambda job: (getattr(job, paging["sort_by"]), str(job.pk)),
        reverse=paging["sort_order"] == "desc",
    )
    page = rows[paging["offset"] : paging["offset"] + paging["limit"]]
    return {"jobs": [str(job.pk) for job in page], "total": len(rows), "summary": summary}
