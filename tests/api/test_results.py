"""GET /api/jobs/{id}/results: one row per item as CSV, JSON or JSON lines, streamed in constant
memory (also under ASGI)."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import AsyncClient
from django.utils import timezone
from rest_framework.test import APIClient

from jobs.api.export import BASE_COLUMNS, HTTP_CHECK_COLUMNS
from jobs.models import (
    ApiKeyScope,
    BatchJob,
    ItemStatus,
)
from jobs.services import submit_batch
from tests.api.seed import client_for, key_client, make_job

pytestmark = pytest.mark.django_db(transaction=True)


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
    assert client_for(bob).get(f"/api/jobs/{job.pk}/results?format=csv").status_code == 404


def test_a_read_only_key_may_download_results(alice):
    job = make_job(alice, 2)
    client = key_client(alice, ApiKeyScope.READ)
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
