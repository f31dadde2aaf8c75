"""The roles matrix: every job route — pages, API, WebSocket, SSE — for each role.

alice owns the jobs under test. Roles: anonymous, the owner (alice), another user (bob), a viewer
(the "viewers" group: sees every job, changes none) and staff (sees and changes every job).
Seeing: owner, viewer, staff get the job; bob gets a 404 (he does not learn it exists); anonymous
is sent to log in (pages) or refused (API, sockets). Acting: owner and staff may; the viewer gets
a 403; bob a 404; and the job is unchanged after every refusal.
"""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jobs.models import ApiKey, AuditEntry, BatchJob, ItemStatus, JobItem, JobStatus
from tests.events.wsclient import (
    Stream,
    close_code,
    connect,
    parse_frames,
    publish,
    quiet,
    receive,
    settle,
    status,
)
from tests.pages.test_job_new import form_data
from tests.security.conftest import ROLES

SEES = {"anonymous": "login", "owner": 200, "other": 404, "viewer": 200, "staff": 200}
ACTS = {"anonymous": "login", "owner": 200, "other": 404, "viewer": 403, "staff": 200}


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def finished_job(owner) -> BatchJob:
    """A finished job with one failed item: retry and delete apply to it."""
    job = BatchJob.objects.create(
        owner=owner,
        name="alice-finished",
        status=JobStatus.COMPLETED,
        total_items=1,
        count_failed=1,
        progress=100.0,
        finished_at=timezone.now(),
    )
    JobItem.objects.create(
        job=job,
        position=0,
        url="http://127.0.0.1:9/x",
        status=ItemStatus.FAILED,
        error_code="HTTP_ERROR",
        http_status=500,
        error="HTTP 500",
        finished_at=timezone.now(),
    )
    return job


def running_job(owner) -> BatchJob:
    return BatchJob.objects.create(
        owner=owner, name="alice-running", status=JobStatus.RUNNING, total_items=10, seq=10
    )


def expect(response, wanted, *, api: bool) -> None:
    if wanted == "login":
        if api:
            assert response.status_code in (401, 403), response.content[:300]
        else:
            assert response.status_code == 302, response.content[:300]
            assert response["Location"].startswith(reverse("login"))
        return
    assert response.status_code == wanted, (response.status_code, response.content[:300])


# --- seeing: pages and API --------------------------------------------------------------------

VIEW_ROUTES = [
    ("job-detail", {}, False),
    ("job-detail-insights", {}, False),
    ("job-detail-items", {}, False),
    ("job-detail-item", {"item_id": "item"}, False),
    ("job-detail-failures", {"by": "http"}, False),
    ("job-detail-log", {}, False),
    ("api-job", {}, True),
    ("api-job-items", {}, True),
    ("api-job-logs", {}, True),
    ("api-job-results", {}, True),
]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "extra", "api"), VIEW_ROUTES, ids=[r[0] for r in VIEW_ROUTES])
def test_who_sees_a_job(as_role, alice, role, name, extra, api):
    job = finished_job(alice)
    kwargs = {"job_id" if api else "pk": job.pk}
    for key, value in extra.items():
        kwargs[key] = job.items.get().pk if value == "item" else value
    response = client_for(as_role(role)).get(reverse(name, kwargs=kwargs))
    expect(response, SEES[role], api=api)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", ["/jobs", "/api/jobs", "/", "/dashboard/panels"])
def test_who_finds_a_job_in_the_lists(as_role, alice, bob, role, path):
    finished_job(alice)
    BatchJob.objects.create(owner=bob, name="bobs-own-job", status=JobStatus.COMPLETED)
    response = client_for(as_role(role)).get(path)
    expect(response, "login" if role == "anonymous" else 200, api=path.startswith("/api"))
    if role == "anonymous" or path in ("/", "/dashboard/panels"):
        return
    body = response.content.decode()
    assert ("alice-finished" in body) is (role in ("owner", "viewer", "staff"))
    assert ("bobs-own-job" in body) is (role in ("other", "viewer", "staff"))


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["owner", "viewer", "staff"])
def test_a_viewer_is_not_offered_the_buttons_that_would_change_a_job(as_role, alice, role):
    job = finished_job(alice)
    body = client_for(as_role(role)).get(reverse("job-detail", kwargs={"pk": job.pk})).content
    offered = {a for a in ("cancel", "retry", "delete") if f'data-action="{a}"'.encode() in body}
    assert offered == (set() if role == "viewer" else {"cancel", "retry", "delete"})
    assert b'data-action="download"' in body, "downloading results is looking, not changing"


# --- acting: pages and API ---------------------------------------------------------------------

ACTION_ROUTES = [
    ("job-cancel", "post", running_job, False),
    ("job-retry", "post", finished_job, False),
    ("job-delete", "post", finished_job, False),
    ("api-job-cancel", "post", running_job, True),
    ("api-job-retry", "post", finished_job, True),
    ("api-job", "delete", finished_job, True),
]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("name", "method", "make", "api"),
    ACTION_ROUTES,
    ids=[f"{r[1]}-{r[0]}" for r in ACTION_ROUTES],
)
def test_who_acts_on_a_job(as_role, alice, role, name, method, make, api):
    job = make(alice)
    before = (job.status, job.count_failed)
    url = reverse(name, kwargs={"job_id" if api else "pk": job.pk})
    user = as_role(role)
    response = getattr(client_for(user), method)(url, content_type="application/json")
    expect(response, ACTS[role], api=api)
    entries = AuditEntry.objects.filter(target_id=str(job.pk))
    if ACTS[role] == 200:
        assert [e.actor for e in entries] == [user]
        return
    job.refresh_from_db()
    assert (job.status, job.count_failed) == before
    assert not entries.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_who_cancels_in_bulk_from_the_jobs_page(as_role, alice, role):
    job = running_job(alice)
    response = client_for(as_role(role)).post(
        reverse("job-actions"), {"action": "cancel", "ids": [job.pk]}
    )
    expect(response, "login" if role == "anonymous" else 302, api=False)
    job.refresh_from_db()
    changed = job.status in (JobStatus.CANCELLING, JobStatus.CANCELLED)
    assert changed is (role in ("owner", "staff"))


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_who_submits_a_batch(as_role, role):
    user = as_role(role)
    client = client_for(user)
    response = client.post(
        "/api/jobs", {"urls": ["http://127.0.0.1:9/a"]}, content_type="application/json"
    )
    wanted = {"anonymous": "login", "viewer": 403}.get(role, 201)
    expect(response, wanted, api=True)
    page = client.post(reverse("job-new"), form_data(text="http://127.0.0.1:9/b"))
    expect(page, {"anonymous": "login", "viewer": 403}.get(role, 302), api=False)
    assert BatchJob.objects.count() == (0 if wanted != 201 else 2)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_only_staff_clean_up(as_role, role):
    response = client_for(as_role(role)).post(
        "/api/cleanup", {"older_than_days": 0}, content_type="application/json"
    )
    expect(response, {"anonymous": "login", "staff": 200}.get(role, 403), api=True)


@pytest.mark.django_db
def test_a_viewer_with_a_full_access_key_still_only_reads(alice, viewer):
    job = running_job(alice)
    raw = ApiKey.issue(viewer, "script")[1]
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    assert client.get(f"/api/jobs/{job.pk}").status_code == 200
    refused = client.post(f"/api/jobs/{job.pk}/cancel")
    assert refused.status_code == 403
    assert "read-only" in refused.json()["detail"]


# --- seeing live: WebSocket and SSE ------------------------------------------------------------


def key_for(user) -> str | None:
    return None if user is None else ApiKey.issue(user, "live")[1]


def run(scenario) -> None:
    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ROLES)
def test_who_subscribes_to_a_job_on_the_websocket(as_role, alice, role):
    job = running_job(alice)
    key = key_for(as_role(role))

    async def scenario():
        comm = await connect("/ws/jobs/", key)
        if key is None:
            assert await close_code(comm) == 4401
            return
        await comm.send_json_to({"event": "subscribe_job", "job_id": str(job.pk)})
        reply = await receive(comm)
        if SEES[role] == 200:
            while reply["event"] != "job_status_update":
                reply = await receive(comm)
            assert reply["job_id"] == str(job.pk)
        else:
            assert (reply["event"], reply["code"]) == ("error", "not_found")
        await comm.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ROLES)
def test_who_hears_a_job_when_following_all_jobs(as_role, alice, role):
    job = running_job(alice)
    key = key_for(as_role(role))

    async def scenario():
        comm = await connect("/ws/jobs/", key)
        if key is None:
            assert await close_code(comm) == 4401
            return
        await comm.send_json_to({"event": "subscribe_all_jobs"})
        await settle(comm)
        await publish(job, status(job, 11))
        if SEES[role] == 200:
            heard = await receive(comm)
            assert (heard["event"], heard["job_id"]) == ("job_status_update", str(job.pk))
        else:
            await quiet(comm)
        await comm.disconnect()

    run(scenario)


def bearer(key: str | None) -> list[tuple[bytes, bytes]]:
    return [] if key is None else [(b"authorization", f"Bearer {key}".encode())]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ROLES)
def test_who_streams_a_job_over_sse(as_role, alice, role):
    job = running_job(alice)
    key = key_for(as_role(role))

    async def scenario():
        stream = await Stream(f"/api/jobs/{job.pk}/events", bearer(key)).start()
        wanted = {"anonymous": 401}.get(role, SEES[role])
        assert stream.status == wanted
        if wanted == 200:
            await stream.read_until(b"event: job_status_update")
            assert str(job.pk) in stream.body.decode()
            await stream.close()
        else:
            await stream.read_to_end()

    run(scenario)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ROLES)
def test_who_hears_a_job_on_the_all_jobs_stream(as_role, alice, bob, role):
    job = running_job(alice)
    bobs = BatchJob.objects.create(owner=bob, status=JobStatus.RUNNING, seq=10)
    key = key_for(as_role(role))

    async def scenario():
        stream = await Stream("/api/events", bearer(key)).start()
        if key is None:
            assert stream.status == 401
            await stream.read_to_end()
            return
        assert stream.status == 200
        await stream.read_until(b"retry:")
        # Both jobs' events; bob's own come through for him, and mark the end of what was sent.
        await publish(job, status(job, 11))
        await publish(bobs, status(bobs, 11))
        wanted = str(bobs.pk).encode() if role in ("other", "viewer", "staff") else None
        if wanted is not None:
            await stream.read_until(wanted)
        else:  # alice hears her own job only
            await stream.read_until(str(job.pk).encode())
        await stream.close()
        seen = {events_frame["data"] for events_frame in parse_frames(stream.body)}
        heard_alices = any(str(job.pk) in data for data in seen)
        assert heard_alices is (SEES[role] == 200)

    run(scenario)
