"""The hostile input matrix: every intake and API field, every query parameter, every settings form
field and every live-event message, given oversized, malformed, wrong-type, control-character,
Unicode-confusable and injection values. Nothing may answer 500 (or raise); a refusal is a 4xx
with a message, and an accepted value is stored as the text it was.

Each test collects every failure before asserting, so one run lists them all; TRIED counts the
requests made (the figure quoted in the closing note; tests/security/conftest.py prints it in
the run's summary).
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from rest_framework.throttling import ScopedRateThrottle

from jobs.account.quotas import quota_for
from jobs.models import ApiKey, BatchJob, Quota
from jobs.services import SETTINGS_FIELDS
from tests.events.wsclient import Stream, connect, receive, settle
from tests.pages.test_job_new import form_data
from tests.security.test_roles import finished_job, running_job

TRIED: Counter[str] = Counter()

TEXT = [
    # oversized
    "a" * 100_000,
    "9" * 5_000,
    "http://127.0.0.1:9/" + "p" * 10_000,
    # malformed
    "",
    " ",
    "%",
    "%%00%zz",
    "\\",
    "'",
    '"',
    "{",
    "]]",
    "http://",
    "http://[::1",
    "http://127.0.0.1:99999/",
    "ht!tp://x",
    "-1",
    "1e309",
    "NaN",
    "0x10",
    # control characters
    "\x00",
    "a\x00b",
    "line\r\nSet-Cookie: x=1",
    "\x1b[31mred",
    "\x7f\x08",
    "\u2028\u2029",
    # Unicode confusables and tricks
    "аdmin",  # Cyrillic а
    "ｈｔｔｐ://ｅｘａｍｐｌｅ.ｃｏｍ",
    "http://exаmple.com/",  # Cyrillic а in the host
    "http://①②.com/",  # circled digits: no valid host name, refused before any lookup
    "\u202egnp.exe",
    "\ufeffbom",
    "💥" * 300,
    "１２３",  # full-width digits
    # injection
    "' OR 1=1 --",
    "1; DROP TABLE jobs_batchjob; --",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{7*7}}${7*7}{% debug %}",
    "../../../../etc/passwd",
    "javascript:alert(1)",
    "__proto__",
    "$where",
]
# One of each kind, for the pages that cost a whole render per request.
SAMPLE = [TEXT[i] for i in (0, 1, 4, 7, 11, 18, 20, 22, 26, 27, 30, 34, 36, 37, 39)]
# Values only JSON can carry: the wrong types.
WRONG_TYPES = [None, True, False, 0, -1, 1.5, 10**30, -(10**30), [], {}, ["x"], {"a": "b"}, [[[]]]]
JSON_VALUES = TEXT + WRONG_TYPES


def checked(response, where: str, failures: list) -> None:
    TRIED[where.split(" ")[0]] += 1
    if response.status_code >= 500:
        failures.append((where, response.status_code, response.content[:200]))


def short(value) -> str:
    return repr(value)[:40]


@pytest.fixture
def unlimited(alice, monkeypatch):
    """alice without throttles or quotas: every value reaches validation, none stops at a 429."""
    rates = {**ScopedRateThrottle.THROTTLE_RATES, "submit": "1000000/minute"}
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", rates)
    quota_for(alice)
    Quota.objects.filter(user=alice).update(
        max_urls_per_batch=None, max_running_jobs=None, jobs_per_hour=None
    )
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    return client


def post_json(client: Client, path: str, body, method: str = "post"):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return getattr(client, method)(path, data, content_type="application/json")


SUBMIT_FIELDS = [*SETTINGS_FIELDS, "text", "urls"]
GOOD_URL = "http://127.0.0.1:9/a"


@pytest.mark.django_db
def test_submitting_hostile_fields_through_the_api_never_fails(unlimited):
    failures: list = []
    for field in SUBMIT_FIELDS:
        for value in JSON_VALUES:
            body = {"urls": [GOOD_URL], field: value}
            checked(
                post_json(unlimited, "/api/jobs", body),
                f"api-submit {field}={short(value)}",
                failures,
            )
    for value in JSON_VALUES:  # each URL of the list
        body = {"urls": [GOOD_URL, value]}
        checked(
            post_json(unlimited, "/api/jobs", body), f"api-submit urls[]={short(value)}", failures
        )
        body = {"urls": [GOOD_URL], "options": {"strategy": value, "timeout": value}}
        checked(
            post_json(unlimited, "/api/jobs", body),
            f"api-submit options.*={short(value)}",
            failures,
        )
    assert not failures


@pytest.mark.django_db
def test_malformed_api_bodies_never_fail(unlimited):
    failures: list = []
    bodies = [
        b"",
        b"{",
        b"null",
        b"[]",
        b'"a string"',
        b"\xff\xfe\x00",
        b'{"urls": ["\\ud800"]}',  # a lone surrogate
        b'{"name": "\\u0000"}',
        b'{"urls": "' + b"x" * 200_000 + b'"}',
        b"[" * 5_000 + b"]" * 5_000,
        b'{"urls": [' + b",".join([b'"http://127.0.0.1:9/%d"' % i for i in range(2000)]) + b"]}",
        b'{"a": 1, "a": 2, "urls": ["http://127.0.0.1:9/x"]}',
    ]
    for body in bodies:
        checked(post_json(unlimited, "/api/jobs", body), f"api-body {body[:30]!r}", failures)
        checked(
            unlimited.post("/api/jobs", body, content_type="text/plain"),
            f"api-body-type {body[:30]!r}",
            failures,
        )
    for value in TEXT[:20]:
        response = unlimited.post(
            "/api/jobs",
            {"text": value, "name": value},
            content_type="multipart/form-data; boundary=BoUnDaRy",
        )
        checked(response, f"api-multipart-bad {short(value)}", failures)
    assert not failures


@pytest.mark.django_db
def test_hostile_upload_files_never_fail(unlimited):
    from django.core.files.uploadedfile import SimpleUploadedFile

    failures: list = []
    files = [
        ("urls.csv", b"url\n" + b"\x00" * 1000),
        ("urls.csv", b"\xff\xfe" + "http://127.0.0.1:9/a\n".encode("utf-16-le")),
        ("urls.csv", b'"unterminated,\n"' * 100),
        ("urls.txt", b"http://127.0.0.1:9/" + b"a" * 100_000),
        ("urls.txt", b"\r\r\r\n\n"),
        ("../../etc/passwd", b"http://127.0.0.1:9/a"),
        ("<script>.csv", b"http://127.0.0.1:9/a"),
        ("urls.exe", b"MZ\x90\x00\x03"),
        ("urls.csv", b"=cmd|' /C calc'!A0\n+1\n-1\n@SUM(1)\n"),
        ("", b"http://127.0.0.1:9/a"),
    ]
    for name, content in files:
        for path, field in (("/api/jobs", "file"), ("/jobs/new", "file")):
            data = {field: SimpleUploadedFile(name or "x", content)}
            if path == "/jobs/new":
                data = {**form_data(text=""), **data}
            checked(unlimited.post(path, data), f"upload {path} {name!r}", failures)
    assert not failures


LIST_PARAMS = [
    "status",
    "date_range",
    "priority",
    "processor",
    "search",
    "limit",
    "offset",
    "sort_by",
    "sort_order",
    "page",
    "page_size",
]
ITEM_PARAMS = [
    "status",
    "error_code",
    "http_status",
    "search",
    "cursor",
    "after_id",
    "limit",
    "include",
]


@pytest.mark.django_db
def test_hostile_filters_paging_sorting_and_search_never_fail(unlimited, alice):
    job = finished_job(alice)
    failures: list = []
    for value in TEXT:
        for name in LIST_PARAMS:
            for path in ("/api/jobs", "/jobs") if value in SAMPLE else ("/api/jobs",):
                checked(
                    unlimited.get(path, {name: value}),
                    f"list {path} {name}={short(value)}",
                    failures,
                )
        for name in ITEM_PARAMS:
            pages = (f"/jobs/{job.pk}/items", f"/jobs/{job.pk}") if value in SAMPLE else ()
            for path in (f"/api/jobs/{job.pk}/items", f"/api/jobs/{job.pk}/logs", *pages):
                checked(
                    unlimited.get(path, {name: value}),
                    f"items {path} {name}={short(value)}",
                    failures,
                )
        checked(
            unlimited.get(f"/api/jobs/{job.pk}/results", {"format": value}),
            f"results format={short(value)}",
            failures,
        )
        for path in ("/settings/audit", "/dashboard/panels", "/notifications"):
            checked(
                unlimited.get(path, {"page": value, "range": value}),
                f"page {path}={short(value)}",
                failures,
            )
    assert not failures


IDS = [
    "0",
    "-1",
    "not-a-uuid",
    "00000000-0000-0000-0000-000000000000",
    "3f1c0b8e8f534c3c9e550c1d1f0e2a11",
    "%00",
    "..%2F..%2Fetc%2Fpasswd",
    "' OR 1=1 --",
    "a" * 5000,
    "%E2%80%AE",
    "１",
]


@pytest.mark.django_db
def test_hostile_ids_in_paths_are_not_found(unlimited, alice):
    job = finished_job(alice)
    failures: list = []
    for value in IDS:
        for template in (
            "/api/jobs/{}",
            "/api/jobs/{}/items",
            "/api/jobs/{}/logs",
            "/api/jobs/{}/results",
            "/jobs/{}",
            "/settings/webhooks/{}",
            f"/jobs/{job.pk}/items/{{}}",
            f"/jobs/{job.pk}/failures/{{}}",
        ):
            path = template.format(value)
            response = unlimited.get(path)
            checked(response, f"id GET {path[:60]}", failures)
            if response.status_code == 200:
                failures.append((path, "answered 200"))
        for template in ("/api/jobs/{}/cancel", "/api/jobs/{}/retry", "/settings/keys/{}/revoke"):
            checked(unlimited.post(template.format(value)), f"id POST {template}", failures)
        checked(unlimited.delete(f"/api/jobs/{value}"), "id DELETE /api/jobs", failures)
    assert not failures


@pytest.mark.django_db
def test_hostile_action_bodies_never_fail(unlimited, alice, staff):
    running, done = running_job(alice), finished_job(alice)
    staff_client = Client(raise_request_exception=False)
    staff_client.force_login(staff)
    failures: list = []
    for value in JSON_VALUES:
        body = {"status": value, "error_code": value}
        checked(
            post_json(unlimited, f"/api/jobs/{done.pk}/retry", body),
            f"api-retry {short(value)}",
            failures,
        )
        checked(
            post_json(staff_client, "/api/cleanup", {"older_than_days": value}),
            f"cleanup {short(value)}",
            failures,
        )
    for value in TEXT:
        form = {"by": value, "key": value}
        checked(
            unlimited.post(f"/jobs/{done.pk}/retry", form), f"page-retry {short(value)}", failures
        )
        for form in (
            {"action": value, "ids": [running.pk]},
            {"action": "cancel", "ids": [value, str(running.pk)]},
            {"action": "retry", "scope": "matching", "query": f"status={value}&search={value}"},
            {"action": "cancel", "scope": value, "query": value},
        ):
            checked(unlimited.post("/jobs/actions", form), f"bulk {short(value)}", failures)
    assert not failures
    assert BatchJob.objects.filter(owner=alice).count() == 2, "nothing lost"


@pytest.mark.django_db
def test_the_new_batch_page_takes_hostile_fields(unlimited):
    failures: list = []
    # The page's options form is prefixed: "options-<field>".
    fields = ["text", *(f for f in SETTINGS_FIELDS if f != "options"), "options-strategy"]
    for field in fields:
        for value in TEXT if field in ("text", "name") else SAMPLE:
            data = (
                form_data(text=GOOD_URL, **{field: value})
                if field != "text"
                else form_data(text=value)
            )
            data = {
                k: v.replace("\x00", "\ufffd") if isinstance(v, str) and "file" in k else v
                for k, v in data.items()
            }
            checked(
                unlimited.post("/jobs/new", data), f"new-batch {field}={short(value)}", failures
            )
            checked(
                unlimited.post("/jobs/new/preview", data),
                f"preview {field}={short(value)}",
                failures,
            )
        checked(unlimited.get("/jobs/new/options", {"processor": field}), "options", failures)
    assert not failures


@pytest.mark.django_db
def test_settings_forms_take_hostile_fields(unlimited, alice, site):
    from jobs.account import webhooks

    hook, _ = webhooks.create_webhook(
        alice,
        url=site.url("/ok/hook"),
        events=["job_completed"],
        max_attempts=3,
        backoff_base=10,
        backoff_max=60,
    )
    failures: list = []
    for value in SAMPLE:
        checked(
            unlimited.post("/settings/keys", {"name": value, "scope": value}),
            f"key {short(value)}",
            failures,
        )
        checked(
            unlimited.post("/settings/keys", {"name": value, "scope": "read"}),
            f"key-name {short(value)}",
            failures,
        )
        checked(
            unlimited.post("/settings/theme", {"theme": value}), f"theme {short(value)}", failures
        )
        prefs = {
            "default_processor": value,
            "default_options": value,
            "default_priority": value,
            "default_concurrency": value,
            "theme": value,
            "page_size": value,
            "time_zone": value,
        }
        checked(unlimited.post("/settings/preferences", prefs), f"prefs {short(value)}", failures)
        webhook = {
            "url": value,
            "description": value,
            "events": [value],
            "max_attempts": value,
            "backoff_base": value,
            "backoff_max": value,
        }
        checked(
            unlimited.post("/settings/webhooks/new", webhook),
            f"webhook-new {short(value)}",
            failures,
        )
        checked(
            unlimited.post(f"/settings/webhooks/{hook.pk}", webhook),
            f"webhook-edit {short(value)}",
            failures,
        )
        checked(
            unlimited.post(f"/settings/webhooks/{hook.pk}/deliveries/{value}/redeliver"),
            f"redeliver {short(value)}",
            failures,
        )
    assert not failures


WEBHOOK_URLS = [
    "http://127.0.0.1/hook",
    "http://localhost/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0/hook",
    "http://2130706433/hook",
    "http://0177.0.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://10.0.0.1/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_FLUSHALL",
    "javascript:alert(1)",
    "http://user:pass@127.0.0.1/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", WEBHOOK_URLS)
def test_webhook_urls_to_private_addresses_are_refused(unlimited, alice, url, settings):
    settings.BATCHSITE_ALLOWED_NETWORKS = []
    data = {
        "url": url,
        "events": ["job_completed"],
        "max_attempts": 3,
        "backoff_base": 10,
        "backoff_max": 60,
    }
    response = unlimited.post("/settings/webhooks/new", data)
    TRIED["webhook-url"] += 1
    assert response.status_code == 400, url
    assert not alice.webhooks.exists()


# --- live events ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_hostile_socket_messages_leave_the_socket_working(alice):
    job = running_job(alice)
    key = ApiKey.issue(alice, "ws")[1]
    frames = [" ", "{", "null", "[]", '"x"', "\x00", "a" * 200_000, "[" * 100_000]
    frames.append(json.dumps({"event": "x" * 10_000}))
    for value in JSON_VALUES:
        frames += [
            json.dumps({"event": value}),
            json.dumps({"event": "subscribe_job", "job_id": value}),
            json.dumps({"event": "subscribe_job", "job_id": str(job.pk), "last_seq": value}),
            json.dumps({"event": "subscribe_job", "job_id": str(job.pk), "last_log_id": value}),
            json.dumps({"event": "subscribe_all_jobs", "filters": value}),
            json.dumps(
                {
                    "event": "subscribe_all_jobs",
                    "filters": {"status": value, "priority": value, "processor": value},
                }
            ),
            json.dumps({"event": "unsubscribe_job", "job_id": value}),
        ]

    async def scenario():
        comm = await connect("/ws/jobs/", key)
        for frame in frames:
            await comm.send_to(text_data=frame)
            TRIED["websocket"] += 1
        await settle(comm)  # still answering, in order
        await comm.send_json_to({"event": "subscribe_job", "job_id": str(job.pk)})
        reply = await receive(comm, timeout=10)
        while reply.get("event") != "job_status_update":
            reply = await receive(comm, timeout=10)
        await comm.disconnect()

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_hostile_event_stream_parameters_are_refused_cleanly(alice):
    job = running_job(alice)
    key = ApiKey.issue(alice, "sse")[1]
    auth = [(b"authorization", f"Bearer {key}".encode())]
    from urllib.parse import quote

    async def scenario():
        for value in TEXT[:30]:
            q = quote(value[:2000], safe="")
            for path, headers in (
                (f"/api/events?status={q}&priority={q}&processor={q}", auth),
                (f"/api/jobs/{q}/events", auth),
                (f"/api/jobs/{job.pk}/events?last_event_id={q}", auth),
            ):
                stream = await Stream(path, headers).start()
                TRIED["sse"] += 1
                assert stream.status < 500, (path, stream.status)
                if stream.status == 200:
                    await stream.read_until(b"retry:")
                    await stream.close()
                else:
                    await stream.read_to_end()

    async_to_sync(scenario)()
