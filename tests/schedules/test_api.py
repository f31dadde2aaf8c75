"""/api/schedules: CRUD, pause/resume, 400s naming each bad field, owners only (others' are
404, staff see all), read-only keys read only, and the OpenAPI document describes it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import ApiKeyScope, BatchJob, Preferences, Schedule
from tests.api.seed import client_for, key_client

pytestmark = pytest.mark.django_db


def create(client, **body):
    body = {"urls": ["https://example.com/a", "example.org"], "every": "2h", **body}
    return client.post("/api/schedules", body, format="json")


def test_create_list_detail_patch_delete(alice):
    api = client_for(alice)
    Preferences.objects.create(user=alice, time_zone="Europe/Berlin")
    response = create(api, name="Hourly check", priority="high", cron="0 9 * * 1-5", every=None)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["accepted"] == 2
    assert (body["kind"], body["cron"], body["time_zone"]) == (
        "cron",
        "0 9 * * 1-5",
        "Europe/Berlin",
    )
    assert (body["priority"], body["urls"], body["paused"]) == (
        8,
        ["https://example.com/a", "https://example.org"],
        False,
    )
    assert len(body["upcoming"]) == 3
    assert body["changes_since_last_run"]["previous_job"] is None
    schedule_id = body["schedule_id"]

    listed = api.get("/api/schedules").json()["schedules"]
    assert [s["schedule_id"] for s in listed] == [schedule_id]
    assert listed[0]["last_run_status"] is None

    patched = api.patch(
        f"/api/schedules/{schedule_id}", {"every": "30m", "name": "Every half hour"}, format="json"
    )
    assert patched.status_code == 200
    assert (patched.json()["kind"], patched.json()["every_minutes"], patched.json()["cron"]) == (
        "interval",
        30,
        None,
    )

    Schedule.objects.filter(pk=schedule_id).update(
        next_run_at=timezone.now() - timedelta(seconds=1)
    )
    from jobs.schedules import fire_due

    [job] = fire_due()
    detail = api.get(f"/api/schedules/{schedule_id}").json()
    assert detail["last_run_job"] == str(job.pk)
    assert detail["last_run_status"] == "queued"
    assert [run["job_id"] for run in detail["recent_runs"]] == [str(job.pk)]

    assert api.delete(f"/api/schedules/{schedule_id}").json() == {"deleted": schedule_id}
    assert not Schedule.objects.exists()
    assert BatchJob.objects.get().schedule_id is None  # its runs stay, as ordinary jobs


def test_pause_and_resume(alice):
    api = client_for(alice)
    schedule_id = create(api).json()["schedule_id"]
    paused = api.post(f"/api/schedules/{schedule_id}/pause").json()
    assert (paused["paused"], paused["next_run_at"], paused["upcoming"]) == (True, None, [])
    resumed = api.post(f"/api/schedules/{schedule_id}/resume").json()
    assert resumed["paused"] is False
    assert resumed["next_run_at"] is not None


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"every": None}, {"detail"}),
        ({"every": "soon"}, {"every"}),
        ({"every": None, "cron": "99 * * * *"}, {"cron"}),
        ({"every": None, "run_at": "2001-01-01T00:00"}, {"run_at"}),
        ({"time_zone": "Nowhere/Land"}, {"time_zone"}),
        (
            {"priority": 0, "concurrency": "many", "every": "0"},
            {"priority", "concurrency", "every"},
        ),
        ({"processor": "nope"}, {"processor"}),
        ({"urls": "https://example.com"}, {"urls"}),
        ({"urls": ["not a url"]}, {"urls"}),
        ({"urls": [], "text": ""}, {"urls"}),
        ({"name": "x" * 201}, {"name"}),
        ({"options": {"method": "DELETE"}}, {"options"}),
    ],
)
def test_bad_input_is_a_400_naming_each_field(alice, body, fields):
    response = create(client_for(alice), **body)
    assert response.status_code == 400
    assert set(response.json()["errors"]) == fields
    assert response.json()["code"]
    assert not Schedule.objects.exists()


def test_bad_patch_and_bad_bodies(alice):
    api = client_for(alice)
    schedule_id = create(api).json()["schedule_id"]
    response = api.patch(f"/api/schedules/{schedule_id}", {"cron": "nope"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"cron"}
    assert api.patch(f"/api/schedules/{schedule_id}", [1], format="json").status_code == 400
    assert api.post("/api/schedules", [1], format="json").status_code == 400
    assert Schedule.objects.get().interval_minutes == 120


def test_others_schedules_are_404_and_staff_see_all(alice, bob, staff):
    schedule_id = create(client_for(alice)).json()["schedule_id"]
    other = client_for(bob)
    assert other.get("/api/schedules").json() == {"schedules": []}
    for method, path in [
        ("get", ""),
        ("patch", ""),
        ("delete", ""),
        ("post", "/pause"),
        ("post", "/resume"),
    ]:
        response = getattr(other, method)(f"/api/schedules/{schedule_id}{path}", {}, format="json")
        assert response.status_code == 404, (method, path)
    assert other.get("/api/schedules/not-a-uuid").status_code == 404
    assert [
        s["schedule_id"] for s in client_for(staff).get("/api/schedules").json()["schedules"]
    ] == [schedule_id]
    assert client_for(None).get("/api/schedules").status_code == 401
    assert Schedule.objects.get().paused is False


def test_a_read_only_key_reads_but_does_not_write(alice):
    create(client_for(alice))
    reader = key_client(alice, scope=ApiKeyScope.READ)
    assert reader.get("/api/schedules").status_code == 200
    assert create(reader).status_code == 403


def test_the_openapi_document_describes_schedules(client):
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]
    assert set(paths["/api/schedules"]) >= {"get", "post"}
    assert set(paths["/api/schedules/{schedule_id}"]) >= {"get", "patch", "delete"}
    assert "post" in paths["/api/schedules/{schedule_id}/pause"]
    assert "404" in paths["/api/schedules/{schedule_id}"]["get"]["responses"]
