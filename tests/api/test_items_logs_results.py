"""A job's items (filters, ordering, keyset pages), logs, streamed results, queues and cleanup."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import django_rq
import pytest
from asgiref.sync import async_to_sync
from django.db import connection, transaction
from django.test import AsyncClient
from django.utils import timezone
from rest_framework.test import APIClient
from rq import SimpleWorker

from jobs import store
from jobs.api.export import BASE_COLUMNS, HTTP_CHECK_COLUMNS
from jobs.models import (
    ApiKey,
    ApiKeyScope,
    AttemptOutcome,
    BatchJob,
    ItemAttempt,
    ItemStatus,
    JobItem,
    JobLogEntry,
    JobStatus,
    LogLevel,
)
from jobs.services import submit_batch

pytestmark = pytest.mark.django_db(transaction=True)

ITEM_KEYS = {
    "id",
    "position",
    "url",
    "input",
    "status",
    "current_step",
    "progress",
    "attempts",
    "http_status",
    "error_code",
    "error",
    "duration",
    "started_at",
    "finished_at",
    "result",
}
ORDERINGS = ["position", "-position", "duration", "-duration", "finished_at", "-finished_at"]


@pytest.fixture
def api(alice) -> APIClient:
    client = APIClient()
    client.force_authenticate(alice)
    return client


def make_job(owner, n: int, processor: str = "http_check", **fields) -> BatchJob:
    job = BatchJob.objects.create(
        owner=owner, processor=processor, status=JobStatus.COMPLETED, total_items=n, **fields
    )
    rows = [
        (i, f"https://site{i % 7}.example/page/{i}", f"site{i % 7}.example/page/{i}")
        for i in range(n)
    ]
    with transaction.atomic():  # one commit, as submit_batch does
        store.insert_items(job.pk, rows, ItemStatus.QUEUED)
    return job


@pytest.fixture
def varied(alice) -> BatchJob:
    """500 items: every third succeeded (200), failed (TIMEOUT, 504) or still queued (no
    duration, no finish time). Durations repeat, so orderings need the position tie-break.
    Written the way runners write them: claimed, then outcomes recorded, the rest released."""
    job = make_job(alice, 500)
    now = timezone.now()
    start = now - timedelta(hours=1)
    claimed = store.claim(job.pk, "seed", 500, now)
    outcomes = [
        store.Outcome(
            id=item.id,
            status=ItemStatus.SUCCEEDED if item.position % 3 == 0 else ItemStatus.FAILED,
            step="fetch",
            progress=100.0,
            attempts=1,
            result={
                "ok": item.position % 3 == 0,
                "status_code": 200 if item.position % 3 == 0 else 504,
            },
            error="" if item.position % 3 == 0 else "timed out",
            error_code="" if item.position % 3 == 0 else "TIMEOUT",
            http_status=200 if item.position % 3 == 0 else 504,
            started_at=start,
            finished_at=start + timedelta(seconds=(item.position * 13) % 97),
            duration=(item.position * 7 % 40) / 8,
        )
        for item in claimed
        if item.position % 3 != 2
    ]
    store.record_outcomes(outcomes, "seed")
    store.release([item.id for item in claimed if item.position % 3 == 2], "seed")
    return job


def items_url(job, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/jobs/{job.pk}/items" + (f"?{query}" if query else "")


def follow(client, url: str, link: str = "next") -> list[list[dict]]:
    pages = []
    while url:
        body = client.get(url).json()
        pages.append(body["items"])
        url = body[link]
    return pages


def expected_order(job, ordering: str) -> list[int]:
    field, descending = ordering.lstrip("-"), ordering.startswith("-")
    items = list(job.items.all())
    done = [i for i in items if getattr(i, field) is not None]
    done.sort(key=lambda i: (getattr(i, field), i.position), reverse=descending)
    waiting = sorted((i for i in items if getattr(i, field) is None), key=lambda i: i.position)
    return [i.position for i in done + waiting]


# --- items ------------------------------------------------------------------------------------


def test_an_items_page_has_the_contract_shape(api, varied):
    body = api.get(items_url(varied)).json()
    assert set(body) == {"items", "next", "previous"}
    assert len(body["items"]) == 50
    assert set(body["items"][0]) == ITEM_KEYS
    assert [i["position"] for i in body["items"]] == list(range(50))
    assert body["items"][0]["result"] == {"ok": True, "status_code": 200}
    assert body["previous"] is None
    assert urlsplit(body["next"]).path == f"/api/jobs/{varied.pk}/items"


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_cursor_pages_visit_every_item_exactly_once_in_order(api, varied, ordering):
    pages = follow(api, items_url(varied, ordering=ordering, limit=37))
    assert [len(page) for page in pages] == [37] * 13 + [19]
    positions = [item["position"] for page in pages for item in page]
    assert positions == expected_order(varied, ordering)
    # And back: `previous` from the last page gives the same pages, newest first.
    last = api.get(items_url(varied, ordering=ordering, limit=37))
    url = last.json()["next"]
    while True:
        body = api.get(url).json()
        if not body["next"]:
            break
        url = body["next"]
    backwards = follow(api, body["previous"], link="previous")
    assert [body["items"], *backwards] == list(reversed(pages))


def test_the_first_page_reached_backwards_links_to_the_start(api, varied):
    second = api.get(api.get(items_url(varied, limit=10)).json()["next"]).json()
    first = api.get(second["previous"]).json()
    assert [i["position"] for i in first["items"]] == list(range(10))
    assert first["previous"] is None
    assert api.get(first["next"]).json()["items"] == second["items"]


def test_filters_combine_and_page(api, varied):
    def positions(**params):
        pages = follow(api, items_url(varied, limit=25, **params))
        return [item["position"] for page in pages for item in page]

    assert positions(status="failed") == list(range(1, 500, 3))
    assert positions(status="succeeded,queued") == [p for p in range(500) if p % 3 != 1]
    assert positions(error_code="TIMEOUT") == list(range(1, 500, 3))
    assert positions(http_status=200) == list(range(0, 500, 3))
    assert positions(search="site3.example/page/1") == [
        p for p in range(500) if p % 7 == 3 and str(p).startswith("1")
    ]
    assert (
        positions(status="failed", ordering="-duration")[:3]
        == [p for p in expected_order(varied, "-duration") if p % 3 == 1][:3]
    )
    assert positions(http_status=404) == []


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({"status": "done"}, "status"),
        ({"status": "failed,nope"}, "status"),
        ({"error_code": "OOPS"}, "error_code"),
        ({"http_status": "abc"}, "http_status"),
        ({"http_status": "99"}, "http_status"),
        ({"http_status": "600"}, "http_status"),
        ({"ordering": "url"}, "ordering"),
        ({"limit": "0"}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"include": "steps"}, "include"),
        ({"cursor": "garbage"}, "cursor"),
        ({"cursor": "WzEsMiwzXQ"}, "cursor"),  # valid base64 JSON, not a cursor
        ({"search": "x" * 201}, "search"),
    ],
)
def test_each_invalid_item_parameter_is_a_400_naming_it(api, alice, params, bad):
    response = api.get(items_url(make_job(alice, 3), **params))
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "Invalid query parameters."
    assert set(body["errors"]) == {bad}
    assert body["errors"][bad]["message"]
    assert body["errors"][bad]["accepts"]


def test_a_cursor_only_works_with_the_ordering_it_came_from(api, varied):
    next_url = api.get(items_url(varied, ordering="duration")).json()["next"]
    (cursor,) = parse_qs(urlsplit(next_url).query)["cursor"]
    response = api.get(items_url(varied, ordering="-finished_at", cursor=cursor))
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"cursor"}
    assert api.get(items_url(varied, ordering="duration", cursor=cursor)).status_code == 200


def test_every_bad_item_parameter_is_named_at_once(api, alice):
    body = api.get(items_url(make_job(alice, 3), status="x", limit="y", ordering="z")).json()
    assert set(body["errors"]) == {"status", "limit", "ordering"}
    assert "succeeded" in body["errors"]["status"]["accepts"]


def test_limit_defaults_to_50_and_is_clamped_to_200(api, varied):
    assert len(api.get(items_url(varied)).json()["items"]) == 50
    assert len(api.get(items_url(varied, limit=1000)).json()["items"]) == 200


def add_attempts(job, per_item: int = 2) -> None:
    now = timezone.now()
    ItemAttempt.objects.bulk_create(
        ItemAttempt(
            item_id=item_id,
            number=n,
            started_at=now,
            finished_at=now,
            step="fetch",
            outcome=AttemptOutcome.RETRY if n < per_item else AttemptOutcome.FAILED,
            error_code="TIMEOUT",
            duration=0.5,
        )
        for item_id in job.items.values_list("id", flat=True)
        for n in range(per_item, 0, -1)  # stored out of order on purpose
    )


def test_include_attempts_adds_each_items_history_in_order(api, varied):
    add_attempts(varied)
    items = api.get(items_url(varied, include="attempts", limit=3)).json()["items"]
    history = items[0]["attempt_history"]
    assert [a["number"] for a in history] == [1, 2]
    assert [a["outcome"] for a in history] == ["retry", "failed"]
    assert set(history[0]) >= {"number", "outcome", "step", "error_code", "duration", "started_at"}
    assert "attempt_history" not in api.get(items_url(varied, limit=3)).json()["items"][0]


@pytest.mark.parametrize("ordering", ["position", "-finished_at"])
def test_an_items_page_costs_the_same_queries_whatever_its_size(
    api, varied, ordering, django_assert_max_num_queries
):
    add_attempts(varied)
    # The job, the rows (one query per zone: set, then unset finish times), the attempts.
    for limit in (5, 200):
        with django_assert_max_num_queries(4):
            body = api.get(items_url(varied, include="attempts", limit=limit, ordering=ordering))
        assert len(body.json()["items"]) == limit


# --- logs -------------------------------------------------------------------------------------


@pytest.fixture
def logged(alice) -> tuple[BatchJob, list[JobLogEntry]]:
    job = make_job(alice, 3)
    item = job.items.get(position=1)
    levels = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARNING, LogLevel.ERROR] * 3
    entries = [
        JobLogEntry.objects.create(
            job=job,
            level=level,
            message=f"line {n} {'timeout' if level == LogLevel.ERROR else 'fine'}",
            item=item if level >= LogLevel.WARNING else None,
        )
        for n, level in enumerate(levels)
    ]
    return job, entries


def logs(client, job, **params):
    return client.get(f"/api/jobs/{job.pk}/logs", params)


def test_logs_answer_oldest_first_with_the_contract_shape(api, logged):
    job, entries = logged
    body = logs(api, job).json()
    assert set(body) == {"logs", "last_id"}
    assert [e["id"] for e in body["logs"]] == [e.id for e in entries]
    assert body["last_id"] == entries[-1].id
    first, warning = body["logs"][0], body["logs"][2]
    assert set(first) == {"id", "timestamp", "level", "message", "item", "url"}
    assert (first["level"], first["item"], first["url"]) == ("debug", None, None)
    item = job.items.get(position=1)
    assert (warning["level"], warning["item"], warning["url"]) == ("warning", item.id, item.url)


def test_after_id_returns_only_newer_entries_and_last_id_is_the_next_cursor(api, logged):
    job, entries = logged
    body = logs(api, job, after_id=entries[4].id, limit=3).json()
    assert [e["id"] for e in body["logs"]] == [e.id for e in entries[5:8]]
    assert body["last_id"] == entries[7].id
    rest = logs(api, job, after_id=body["last_id"]).json()
    assert [e["id"] for e in rest["logs"]] == [e.id for e in entries[8:]]
    nothing_new = logs(api, job, after_id=rest["last_id"]).json()
    assert nothing_new == {"logs": [], "last_id": rest["last_id"]}


def test_level_keeps_that_level_and_above_and_search_matches_messages(api, logged):
    job, _ = logged
    levels = [e["level"] for e in logs(api, job, level="warning").json()["logs"]]
    assert levels == ["warning", "error"] * 3
    found = logs(api, job, search="TIMEOUT").json()["logs"]
    assert [e["level"] for e in found] == ["error"] * 3
    assert logs(api, job, level="error", search="fine").json()["logs"] == []


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({"level": "critical"}, "level"),
        ({"after_id": "-1"}, "after_id"),
        ({"after_id": "x"}, "after_id"),
        ({"after_id": str(2**70)}, "after_id"),
        ({"limit": "0"}, "limit"),
        ({"search": "\x00"}, "search"),
    ],
)
def test_each_invalid_log_parameter_is_a_400_naming_it(api, logged, params, bad):
    response = logs(api, logged[0], **params)
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {bad}


def test_log_limit_is_clamped_to_1000(api, alice):
    job = make_job(alice, 1)
    JobLogEntry.objects.bulk_create(JobLogEntry(job=job, message=str(n)) for n in range(1005))
    assert len(logs(api, job).json()["logs"]) == 100
    assert len(logs(api, job, limit=5000).json()["logs"]) == 1000


# --- results ----------------------------------------------------------------------------------


def results(client, job, fmt=None):
    query = f"?format={fmt}" if fmt else ""
    response = client.get(f"/api/jobs/{job.pk}/results{query}")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body.decode()


@pytest.fixture
def real_job(alice, site, burst_worker) -> BatchJob:
    port = site.base_url.rsplit(":", 1)[1]
    urls = [
        site.url("/ok"),
        site.url("/redirect/2"),
        site.url("/404"),
        f"http://127.0.0.2:{port}/ok",  # blocked: loopback outside the allowed networks
    ]
    job = submit_batch(alice, urls=urls, max_attempts=1).job
    burst_worker()
    return job


def test_csv_has_one_row_per_item_with_http_checks_key_fields(api, real_job, site):
    response, body = results(api, real_job, "csv")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response["Content-Disposition"] == f'attachment; filename="job-{str(real_job.pk)[:8]}.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(body)))
    assert list(rows[0]) == [*BASE_COLUMNS, *HTTP_CHECK_COLUMNS]
    ok, redirect, missing, blocked = rows
    assert [r["url"] for r in rows] == list(real_job.items.values_list("url", flat=True))
    assert (ok["status"], ok["ok"], ok["status_code"], ok["redirect_count"]) == (
        "succeeded",
        "true",
        "200",
        "0",
    )
    assert ok["content_type"] == "text/html"
    assert int(ok["bytes"]) > 0
    assert float(ok["timings.total"]) > 0
    assert (redirect["redirect_count"], redirect["final_url"]) == ("2", site.url("/ok"))
    assert (missing["ok"], missing["http_status"], missing["status_code"]) == (
        "false",
        "404",
        "404",
    )
    assert (blocked["status"], blocked["error_code"]) == ("failed", "BLOCKED_ADDRESS")
    assert blocked["ok"] == blocked["final_url"] == ""
    assert float(ok["duration"]) > 0
    assert ok["finished_at"].endswith("Z")


def test_json_is_an_array_of_items_with_their_full_result(api, real_job):
    response, body = results(api, real_job)  # json is the default
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].endswith('.json"')
    exported = json.loads(body)
    stored = list(real_job.items.order_by("position"))
    assert [e["url"] for e in exported] == [i.url for i in stored]
    assert [e["result"] for e in exported] == [i.result for i in stored]
    assert set(exported[0]) == {*BASE_COLUMNS, "result"}
    assert exported[0]["result"]["timings"]["total"] > 0
    assert exported[3]["error_code"] == "BLOCKED_ADDRESS"


def test_jsonl_is_one_item_per_line(api, real_job):
    response, body = results(api, real_job, "jsonl")
    assert response["Content-Type"] == "application/x-ndjson"
    lines = body.splitlines()
    assert len(lines) == 4
    assert [json.loads(line)["status"] for line in lines] == [
        "succeeded",
        "succeeded",
        "succeeded",
        "failed",
    ]


def test_an_empty_job_exports_an_empty_array_and_a_header(api, alice):
    job = make_job(alice, 0)
    assert json.loads(results(api, job)[1]) == []
    assert results(api, job, "csv")[1] == ",".join([*BASE_COLUMNS, *HTTP_CHECK_COLUMNS]) + "\n"
    assert results(api, job, "jsonl")[1] == ""


def test_other_processors_get_their_top_level_scalars_as_columns(api, alice):
    job = make_job(alice, 3, processor="page_audit")
    results_by_position = [
        {"title": "=HYPERLINK(1)", "score": 90, "checks": {"a": 1}, "url": "u0"},
        None,
        {"score": 40, "indexable": False, "h1": ["x"], "word_count": 12},
    ]
    for position, result in enumerate(results_by_position):
        job.items.filter(position=position).update(result=result, status=ItemStatus.SUCCEEDED)
    rows = list(csv.DictReader(io.StringIO(results(api, job, "csv")[1])))
    assert list(rows[0])[len(BASE_COLUMNS) :] == [
        "indexable",
        "score",
        "title",
        "result.url",  # `url` is an item column already
        "word_count",
    ]
    # A cell a spreadsheet would run as a formula is quoted.
    assert rows[0]["title"] == "'=HYPERLINK(1)"
    assert (rows[1]["score"], rows[2]["indexable"], rows[2]["word_count"]) == ("", "false", "12")


def test_exports_survive_a_lone_surrogate_in_a_result(api, alice):
    if connection.vendor == "postgresql":
        pytest.skip("jsonb refuses lone surrogates, so they cannot be stored there")
    job = make_job(alice, 1, processor="page_audit")
    job.items.update(result={"title": "broken \ud800 title"}, status=ItemStatus.SUCCEEDED)
    assert json.loads(results(api, job)[1])[0]["result"]["title"] == "broken \ud800 title"
    assert json.loads(results(api, job, "jsonl")[1])["result"]["title"] == "broken \ud800 title"
    assert "broken ? title" in results(api, job, "csv")[1]


@pytest.mark.parametrize("fmt", ["xml", "CSV", "html", "api"])
def test_an_unknown_format_is_a_400_naming_format(api, alice, fmt):
    response = api.get(f"/api/jobs/{make_job(alice, 1).pk}/results?format={fmt}")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"format"}
    assert "csv" in response.json()["errors"]["format"]["accepts"]


def test_errors_on_the_results_route_stay_json_whatever_format_asks(alice, bob):
    job = make_job(alice, 1)
    response = APIClient().get(f"/api/jobs/{job.pk}/results?format=csv")
    assert response.status_code == 401
    assert response.json()["detail"]
    bobs = APIClient()
    bobs.force_authenticate(bob)
    assert bobs.get(f"/api/jobs/{job.pk}/results?format=csv").status_code == 404


def test_a_read_only_key_may_download_results(alice):
    job = make_job(alice, 2)
    _, raw = ApiKey.issue(alice, "reports", scope=ApiKeyScope.READ)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response, body = results(client, job, "csv")
    assert response.status_code == 200
    assert len(body.splitlines()) == 3


def seed_finished(job) -> None:
    job.items.update(
        status=ItemStatus.SUCCEEDED,
        http_status=200,
        duration=0.25,
        finished_at=timezone.now(),
        result={"ok": True, "status_code": 200, "final_url": "https://example.com/"},
    )


def test_a_50000_item_job_is_exported_in_constant_memory(api, alice):
    job = make_job(alice, 50_000)
    seed_finished(job)
    tracemalloc.start()
    try:
        response = api.get(f"/api/jobs/{job.pk}/results?format=csv")
        lines = chunks = 0
        for chunk in response.streaming_content:
            lines += chunk.count(b"\n")
            chunks += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == 50_001  # the header and one row per item
    assert chunks >= 25  # 2,000 rows at a time, never the whole export
    assert peak < 30 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    print(f"50,000-item CSV export: peak {peak / 1e6:.1f} MB traced")


def test_under_asgi_the_export_streams_asynchronously(alice, recwarn):
    """Django drains a sync iterator into a list under ASGI; the view hands ASGI an async one."""
    job = make_job(alice, 4_500)
    seed_finished(job)
    client = AsyncClient()
    client.force_login(alice)

    async def download():
        response = await client.get(f"/api/jobs/{job.pk}/results?format=csv")
        assert response.is_async
        return [chunk async for chunk in response.streaming_content]

    chunks = async_to_sync(download)()
    assert b"".join(chunks).count(b"\n") == 4_501
    assert len(chunks) >= 3
    assert not [w for w in recwarn if "StreamingHttpResponse" in str(w.message)]


# --- queues and cleanup -----------------------------------------------------------------------


def test_queues_report_rq_counts_workers_and_waiting_items(api, alice, settings):
    submit_batch(alice, urls=[f"https://example.com/{i}" for i in range(3)], priority=8)
    submit_batch(alice, urls=["https://example.org"], priority=2)
    BatchJob.objects.create(owner=alice, priority=8, status=JobStatus.COMPLETED, count_queued=9)
    queue = django_rq.get_queue("high")
    worker = SimpleWorker([queue], connection=queue.connection)
    worker.register_birth()
    try:
        body = api.get("/api/queues").json()
    finally:
        worker.register_death()
    assert [q["name"] for q in body["queues"]] == list(settings.JOB_QUEUES)
    by_name = {q.pop("name"): q for q in body["queues"]}
    assert set(by_name["high"]) == {
        "queued",
        "started",
        "failed",
        "scheduled",
        "deferred",
        "finished",
        "workers",
        "pending_items",
    }
    assert (by_name["high"]["queued"], by_name["high"]["workers"]) == (1, 1)
    assert by_name["high"]["pending_items"] == 3  # the finished job's stale counter is not
    assert (by_name["low"]["queued"], by_name["low"]["pending_items"]) == (1, 1)
    assert by_name["urgent"] == dict.fromkeys(by_name["urgent"], 0)


def test_queues_need_authentication():
    assert APIClient().get("/api/queues").status_code == 401


def old_job(owner, status, days_ago: float, items: int = 2) -> BatchJob:
    when = timezone.now() - timedelta(days=days_ago)
    job = make_job(owner, items, created_at=when)
    job.status = status
    job.finished_at = None if status in JobStatus.ACTIVE else when
    job.save()
    JobLogEntry.objects.create(job=job, message="done")
    return job


def test_cleanup_deletes_only_finished_jobs_older_than_the_cutoff(alice, staff):
    old = old_job(alice, JobStatus.COMPLETED, 45, items=3)
    old_failed = old_job(alice, JobStatus.FAILED, 31)
    recent = old_job(alice, JobStatus.COMPLETED, 10)
    running = old_job(alice, JobStatus.RUNNING, 60)
    client = APIClient()
    client.force_authenticate(staff)
    response = client.post("/api/cleanup", {}, format="json")  # default: 30 days
    assert response.status_code == 200
    assert response.json() == {"deleted_jobs": 2, "deleted_items": 5}
    remaining = set(BatchJob.objects.values_list("pk", flat=True))
    assert remaining == {recent.pk, running.pk}
    assert not JobItem.objects.filter(job_id__in=[old.pk, old_failed.pk]).exists()
    assert not JobLogEntry.objects.filter(job_id__in=[old.pk, old_failed.pk]).exists()
    response = client.post("/api/cleanup", {"older_than_days": 7}, format="json")
    assert response.json() == {"deleted_jobs": 1, "deleted_items": 2}
    assert set(BatchJob.objects.values_list("pk", flat=True)) == {running.pk}


def test_cleanup_follows_the_retention_setting(alice, staff, settings):
    settings.BATCHSITE_RETENTION_DAYS = 5
    old_job(alice, JobStatus.CANCELLED, 6)
    client = APIClient()
    client.force_authenticate(staff)
    assert client.post("/api/cleanup").json()["deleted_jobs"] == 1


@pytest.mark.parametrize("days", [-1, "soon", 1.5, True, 10**9])
def test_cleanup_refuses_a_bad_age(staff, days):
    client = APIClient()
    client.force_authenticate(staff)
    response = client.post("/api/cleanup", {"older_than_days": days}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"older_than_days"}
    assert client.post("/api/cleanup", [days], format="json").status_code == 400


def test_cleanup_is_for_staff_only(alice):
    old_job(alice, JobStatus.COMPLETED, 90)
    client = APIClient()
    client.force_authenticate(alice)
    assert client.post("/api/cleanup").status_code == 403
    assert APIClient().post("/api/cleanup").status_code == 401
    assert BatchJob.objects.count() == 1
