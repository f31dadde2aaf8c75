"""POST /api/jobs, job detail, cancel, retry, delete, and who may touch which job on every route."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs.api.errors import IntakeSerializer
from jobs.api.serializers import JOB_FIELDS
from jobs.models import (
    ApiKeyScope,
    BatchJob,
    ItemAttempt,
    ItemStatus,
    JobItem,
    JobLogEntry,
    JobStatus,
)
from jobs.services import delete_job
from tests.api.seed import client_for, key_client, make_job
from tests.conftest import refreshed

pytestmark = pytest.mark.django_db(transaction=True)

INTAKE_KEYS = set(IntakeSerializer._declared_fields)
DETAIL_KEYS = {"steps", "throughput", "sequential_seconds", "wall_seconds", "speedup", "links"}


def post_jobs(client, data, fmt="json"):
    return client.post("/api/jobs", data, format=fmt)


def blocked_url(site, name="x") -> str:
    """127.0.0.2 is loopback but not in the allowed networks: the item fails, BLOCKED_ADDRESS."""
    port = site.base_url.rsplit(":", 1)[1]
    return f"http://127.0.0.2:{port}/{name}"


# --- POST /api/jobs -------------------------------------------------------------------------


def test_posting_json_urls_answers_201_with_the_job_and_what_was_accepted(api):
    response = post_jobs(
        api,
        {
            "urls": ["https://example.com", "example.com", "not a url", "https://example.org/a"],
            "name": "From a script",
            "priority": "high",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= set(JOB_FIELDS) | INTAKE_KEYS
    assert (body["name"], body["priority"], body["status"]) == ("From a script", 8, "queued")
    assert (body["accepted"], body["duplicates"], body["total_items"]) == (2, 1, 2)
    assert body["rejected"] == [{"line": 3, "input": "not a url", "reason": "contains spaces"}]
    job = BatchJob.objects.get(pk=body["job_id"])
    assert list(job.items.values_list("url", flat=True)) == [
        "https://example.com",
        "https://example.org/a",
    ]


def test_posting_pasted_text_creates_one_item_per_url(api):
    response = post_jobs(api, {"text": "example.com\nexample.org\n\nexample.net/path\n"})
    assert response.status_code == 201
    assert response.json()["accepted"] == 3
    assert JobItem.objects.filter(job_id=response.json()["job_id"]).count() == 3


def test_posting_a_csv_file_reads_its_url_column(api):
    upload = SimpleUploadedFile(
        "sites.csv", b"name,url\nA,https://a.example\nB,b.example\nC,bad url\n", "text/csv"
    )
    response = post_jobs(api, {"file": upload, "processor": "http_check"}, fmt="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["accepted"] == 2
    assert [r["input"] for r in body["rejected"]] == ["bad url"]


def test_nothing_valid_is_a_400_listing_every_rejected_line(api):
    response = post_jobs(api, {"text": "ftp://example.com\nhttp://\n"})
    assert response.status_code == 400
    body = response.json()
    assert [r["line"] for r in body["rejected"]] == [1, 2]
    assert all(r["reason"] for r in body["rejected"])
    assert not BatchJob.objects.exists()


def test_an_unknown_processor_is_a_400_naming_processor(api):
    response = post_jobs(api, {"urls": ["https://example.com"], "processor": "nope"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"processor"}


def test_invalid_options_are_a_400_with_the_options_form_errors_by_field(api):
    response = post_jobs(api, {"urls": ["https://example.com"], "options": {"method": "PUT"}})
    assert response.status_code == 400
    (problem,) = response.json()["errors"]["options"]
    assert problem.startswith("method:")
    response = post_jobs(api, {"urls": ["https://example.com"], "options": {"colour": "red"}})
    assert response.json()["errors"]["options"] == ["colour: Unknown option."]


def test_a_bad_field_is_a_400_naming_it(api):
    response = post_jobs(api, {"urls": "https://example.com"})
    assert response.status_code == 400
    assert "urls" in response.json()["errors"]
    response = post_jobs(api, {"urls": ["https://example.com"], "concurrency": 0})
    assert set(response.json()["errors"]) == {"concurrency"}


def test_more_urls_than_the_batch_limit_is_413(api, settings):
    settings.BATCHSITE_MAX_URLS_PER_BATCH = 3
    response = post_jobs(api, {"urls": [f"https://example.com/{i}" for i in range(4)]})
    assert response.status_code == 413
    assert not BatchJob.objects.exists()


def test_a_file_over_the_upload_limit_is_413(api, settings):
    settings.BATCHSITE_MAX_UPLOAD_BYTES = 100
    upload = SimpleUploadedFile("big.txt", b"https://example.com/page\n" * 10, "text/plain")
    response = post_jobs(api, {"file": upload}, fmt="multipart")
    assert response.status_code == 413
    assert "file" in response.json()["errors"]


def test_a_read_only_key_reads_but_may_not_submit(alice):
    client = key_client(alice, ApiKeyScope.READ)
    assert client.get("/api/jobs").status_code == 200
    response = post_jobs(client, {"urls": ["https://example.com"]})
    assert response.status_code == 403
    assert response.json() == {"detail": "This API key is read-only."}


def test_submitting_unauthenticated_is_401():
    response = post_jobs(client_for(None), {"urls": ["https://example.com"]})
    assert response.status_code == 401
    assert not BatchJob.objects.exists()


# --- detail, cancel, retry, delete ------------------------------------------------------------


def test_detail_after_a_real_run_has_steps_and_the_timing_comparison(api, site, burst_worker):
    urls = [site.url("/ok"), site.url("/redirect/2"), blocked_url(site)]
    job_id = post_jobs(api, {"urls": urls, "max_attempts": 1}).json()["job_id"]
    burst_worker()
    response = api.get(f"/api/jobs/{job_id}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= set(JOB_FIELDS) | DETAIL_KEYS
    assert body["status"] == "completed_with_errors"
    assert body["counts"]["succeeded"] == 2
    assert body["counts"]["failed"] == 1
    assert body["steps"] == {"fetch": {"succeeded": 2, "failed": 1}}
    assert body["sequential_seconds"] > 0
    assert body["wall_seconds"] > 0
    assert body["throughput"] > 0
    # Σ item time ÷ wall clock, from the unrounded values (the body rounds each of them).
    job = BatchJob.objects.get(pk=job_id)
    assert body["speedup"] == round(job.item_seconds / job.wall_seconds, 2)
    assert body["estimated_time_remaining"] == 0
    assert set(body["links"]) == {"items", "logs", "results", "events"}
    for name in ("items", "logs", "results"):
        assert body["links"][name] == f"http://testserver/api/jobs/{job_id}/{name}"
        assert api.get(body["links"][name]).status_code == 200


def test_steps_are_counted_once_per_change_of_the_job(api, site, burst_worker):
    """The per-step breakdown reads every item: a finished job's is counted once and kept until
    the job changes (its seq moves), then counted again."""
    urls = [site.url("/ok"), blocked_url(site)]
    job_id = post_jobs(api, {"urls": urls, "max_attempts": 1}).json()["job_id"]
    burst_worker()
    assert api.get(f"/api/jobs/{job_id}").json()["steps"] == {
        "fetch": {"succeeded": 1, "failed": 1}
    }
    with CaptureQueriesContext(connection) as unchanged:
        assert api.get(f"/api/jobs/{job_id}").json()["steps"]["fetch"]["failed"] == 1
    assert not [q for q in unchanged.captured_queries if "GROUP BY" in q["sql"]]

    assert api.post(f"/api/jobs/{job_id}/retry", {"status": ["failed"]}, format="json").json() == {
        "requeued": 1
    }
    steps = api.get(f"/api/jobs/{job_id}").json()["steps"]
    assert steps["fetch"] == {"succeeded": 1}
    assert sum(steps.get("not started", {}).values()) == 1


def test_cancel_answers_the_cancelled_job_then_409_once_it_has_finished(api):
    job_id = post_jobs(api, {"urls": ["https://example.com", "https://example.org"]}).json()[
        "job_id"
    ]
    response = api.post(f"/api/jobs/{job_id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["counts"]["cancelled"] == 2
    again = api.post(f"/api/jobs/{job_id}/cancel")
    assert again.status_code == 409
    assert again.json()["code"] == "not_active"


def test_retry_requeues_the_failed_items_and_a_run_finishes_them(api, site, burst_worker):
    urls = [site.url("/ok"), blocked_url(site, "a"), blocked_url(site, "b")]
    job_id = post_jobs(api, {"urls": urls, "max_attempts": 1}).json()["job_id"]
    burst_worker()
    response = api.post(f"/api/jobs/{job_id}/retry", {"status": ["failed"]}, format="json")
    assert response.status_code == 200
    assert response.json() == {"requeued": 2}
    assert refreshed(BatchJob.objects.get(pk=job_id)).status == JobStatus.QUEUED
    burst_worker()
    job = BatchJob.objects.get(pk=job_id)
    assert (job.status, job.count_failed) == (JobStatus.COMPLETED_WITH_ERRORS, 2)
    # Two runs: the history keeps both attempts of each retried item.
    assert ItemAttempt.objects.filter(item__job=job, error_code="BLOCKED_ADDRESS").count() == 4


def test_retry_is_409_while_the_job_runs(api, alice):
    job = make_job(alice, 3, status=JobStatus.RUNNING, item_status=ItemStatus.FAILED)
    response = api.post(f"/api/jobs/{job.pk}/retry", {"status": ["failed"]}, format="json")
    assert response.status_code == 409
    assert job.items.filter(status=ItemStatus.FAILED).count() == 3


def test_retry_refuses_statuses_that_cannot_be_retried(api, alice):
    job = make_job(alice, 3, item_status=ItemStatus.FAILED)
    response = api.post(f"/api/jobs/{job.pk}/retry", {"status": ["succeeded"]}, format="json")
    assert response.status_code == 400
    assert "status" in response.json()["errors"]


def test_delete_is_409_while_active_then_removes_everything(api, site, burst_worker):
    job_id = post_jobs(api, {"urls": [site.url("/ok"), blocked_url(site)]}).json()["job_id"]
    response = api.delete(f"/api/jobs/{job_id}")
    assert response.status_code == 409
    assert BatchJob.objects.filter(pk=job_id).exists()
    burst_worker()
    assert ItemAttempt.objects.filter(item__job_id=job_id).exists()
    assert JobLogEntry.objects.filter(job_id=job_id).exists()
    response = api.delete(f"/api/jobs/{job_id}")
    assert response.status_code == 200
    assert response.json()["deleted"] == job_id
    assert response.json()["items"] == 2
    assert not BatchJob.objects.filter(pk=job_id).exists()
    assert not JobItem.objects.filter(job_id=job_id).exists()
    assert not ItemAttempt.objects.exists()
    assert not JobLogEntry.objects.filter(job_id=job_id).exists()
    assert api.get(f"/api/jobs/{job_id}").status_code == 404


def test_retry_takes_only_the_items_with_the_error_code_asked_for(api, alice):
    job = make_job(alice, 4, item_status=ItemStatus.FAILED)
    job.items.filter(position__lt=3).update(error_code="TIMEOUT")
    job.items.filter(position=3).update(error_code="DNS_ERROR")
    body = {"status": ["failed"], "error_code": "DNS_ERROR"}
    response = api.post(f"/api/jobs/{job.pk}/retry", body, format="json")
    assert response.json() == {"requeued": 1}
    assert list(job.items.filter(status=ItemStatus.QUEUED).values_list("position", flat=True)) == [
        3
    ]


@pytest.mark.parametrize(
    ("body", "bad"),
    [
        ({"error_code": "OOPS"}, "error_code"),
        ({"error_code": 7}, "error_code"),
        ({"status": {"failed": True}}, "status"),
        ({"status": ["succeeded"]}, "status"),
    ],
)
def test_a_bad_retry_is_a_400_naming_the_field(api, alice, body, bad):
    job = make_job(alice, 2, item_status=ItemStatus.FAILED)
    response = api.post(f"/api/jobs/{job.pk}/retry", body, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {bad}
    assert response.json()["code"] == "invalid"
    assert job.items.filter(status=ItemStatus.FAILED).count() == 2


def test_delete_removes_items_attempts_and_logs_in_batches(alice):
    job = make_job(alice, 7, item_status=ItemStatus.FAILED)
    for item in job.items.all():
        item.attempt_history.create(number=1, started_at=item.job.created_at, outcome="failed")
    JobLogEntry.objects.bulk_create(JobLogEntry(job=job, message=str(n)) for n in range(5))
    assert delete_job(job, batch=2) == {"attempts": 7, "logs": 5, "items": 7}
    assert not BatchJob.objects.filter(pk=job.pk).exists()
    assert not JobItem.objects.exists()
    assert not ItemAttempt.objects.exists()
    assert not JobLogEntry.objects.exists()


# (method, path suffix, body) of every route that changes something
WRITES = [
    ("post", "/cancel", None),
    ("post", "/retry", {"status": ["failed"]}),
    ("delete", "", None),
]


@pytest.mark.parametrize(("method", "suffix", "body"), WRITES)
def test_a_read_only_key_changes_nothing(alice, method, suffix, body):
    job = make_job(alice, 2, status=JobStatus.COMPLETED_WITH_ERRORS, item_status=ItemStatus.FAILED)
    client = key_client(alice, ApiKeyScope.READ)
    response = getattr(client, method)(f"/api/jobs/{job.pk}{suffix}", body, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": "This API key is read-only."}
    job.refresh_from_db()
    assert (job.status, job.count_failed) == (JobStatus.COMPLETED_WITH_ERRORS, 2)


# --- ownership on every route -----------------------------------------------------------------

# (method, path, state of alice's job, what its owner gets)
ROUTES = [
    ("get", "", JobStatus.COMPLETED, 200),
    ("delete", "", JobStatus.COMPLETED, 200),
    ("post", "/cancel", JobStatus.QUEUED, 200),
    ("post", "/retry", JobStatus.COMPLETED_WITH_ERRORS, 200),
    ("get", "/items", JobStatus.COMPLETED, 200),
    ("get", "/items?include=attempts", JobStatus.COMPLETED, 200),
    ("get", "/logs", JobStatus.COMPLETED, 200),
    ("get", "/results", JobStatus.COMPLETED, 200),
    ("get", "/results?format=csv", JobStatus.COMPLETED, 200),
]


@pytest.mark.parametrize(("method", "suffix", "state", "owner_gets"), ROUTES)
@pytest.mark.parametrize(
    ("who", "expected"), [("alice", None), ("staff", None), ("bob", 404), ("anonymous", 401)]
)
def test_only_the_owner_and_staff_reach_a_job(
    request, alice, method, suffix, state, owner_gets, who, expected
):
    job = make_job(alice, 3, status=state, item_status=ItemStatus.FAILED)
    user = None if who == "anonymous" else request.getfixturevalue(who)
    response = getattr(client_for(user), method)(f"/api/jobs/{job.pk}{suffix}")
    assert response.status_code == (expected or owner_gets)
    if expected == 404:
        assert BatchJob.objects.get(pk=job.pk).status == state  # nothing happened to it
        assert response.json() == {"detail": "No such job."}
    if expected == 401:
        assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("suffix", ["", "/items", "/logs", "/results", "/cancel"])
def test_a_missing_or_malformed_job_id_is_404(api, suffix):
    method = api.post if suffix == "/cancel" else api.get
    assert method(f"/api/jobs/0b7a3c55-4d8e-4a47-9a8e-3c3e2f7b9d10{suffix}").status_code == 404
    assert method(f"/api/jobs/not-a-uuid{suffix}").status_code == 404


@pytest.mark.parametrize("body", ["[{}]", "[]", "null", '"x"', "1"])
def test_a_body_that_is_not_an_object_is_a_400_not_a_500(alice, body):
    client = client_for(alice)
    job = make_job(alice)
    for path in ("/api/jobs", f"/api/jobs/{job.pk}/retry"):
        response = client.post(path, body, content_type="application/json")
        assert response.status_code == 400, (path, body)
