"""The Schedules pages and the New batch page's Schedule section: made from the form, listed
with next run and last run, pause/resume, the detail's changes; others' schedules are 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import schedules
from jobs.batch_form import new_batch_initial
from jobs.models import BatchJob, ItemStatus, JobItem, JobStatus, Preferences, Schedule

pytestmark = pytest.mark.django_db


def form_data(**overrides):
    data = {**new_batch_initial(None), "text": "example.com\nexample.org\n"}
    data.pop("options")
    data.update(overrides)
    return data


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def test_the_new_batch_page_makes_a_schedule_in_the_users_zone(alice_client, alice):
    Preferences.objects.create(user=alice, time_zone="America/New_York")
    page = alice_client.get("/jobs/new").content.decode()
    assert 'id="schedule"' in page
    assert 'name="when"' in page
    response = alice_client.post(
        "/jobs/new",
        form_data(when="every", every="2h", run_at="2099-06-01T09:00", name="Twice daily"),
    )
    schedule = Schedule.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/schedules/{schedule.pk}"
    assert (schedule.kind, schedule.interval_minutes, schedule.time_zone) == (
        "interval",
        120,
        "America/New_York",
    )
    assert schedule.next_run_at.isoformat() == "2099-06-01T13:00:00+00:00"  # 09:00 EDT
    assert not BatchJob.objects.exists()
    # Run now is still the default.
    assert alice_client.post("/jobs/new", form_data(when="now")).status_code == 302
    assert BatchJob.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"when": "cron", "cron": "every day"}, "Five fields"),
        ({"when": "once", "run_at": ""}, "Say when"),
        ({"when": "once", "run_at": "2001-01-01T00:00"}, "A time in the future"),
        ({"when": "every", "every": "soon"}, "e.g. 15m"),
        ({"when": "every", "every": "1h", "text": "not_a_url"}, "No valid URL"),
    ],
)
def test_a_bad_schedule_is_shown_on_the_form(alice_client, data, error):
    response = alice_client.post("/jobs/new", form_data(**data))
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Schedule.objects.exists()


def finished_run(schedule, statuses: dict[str, int]) -> BatchJob:
    job = BatchJob.objects.create(
        owner=schedule.owner, schedule=schedule, status=JobStatus.COMPLETED
    )
    JobItem.objects.bulk_create(
        JobItem(job=job, position=i, url=url, status=ItemStatus.SUCCEEDED, http_status=code)
        for i, (url, code) in enumerate(statuses.items())
    )
    return job


def test_list_and_detail_show_next_run_last_run_and_changes(alice_client, alice, bob):
    schedule, _ = schedules.create_schedule(
        alice,
        urls=["https://a.example", "https://b.example"],
        every="1h",
        name="Hourly <b>check</b>",
    )
    finished_run(schedule, {"https://a.example/": 200, "https://b.example/": 500})
    finished_run(schedule, {"https://a.example/": 503, "https://b.example/": 200})
    page = alice_client.get("/schedules").content.decode()
    assert "Hourly &lt;b&gt;check&lt;/b&gt;" in page  # escaped
    assert "every 1 hour" in page
    assert 'data-status="completed"' in page
    assert 'aria-current="page"' in page
    assert ">Schedules</a>" in page
    detail = alice_client.get(f"/schedules/{schedule.pk}").content.decode()
    assert "<strong data-newly-failing>1</strong>" in detail
    assert "<strong data-recovered>1</strong>" in detail
    assert "HTTP 503" in detail
    assert "HTTP 500" in detail
    # bob sees none of it
    bob_client = alice_client.__class__()
    bob_client.force_login(bob)
    assert "Hourly" not in bob_client.get("/schedules").content.decode()
    assert bob_client.get(f"/schedules/{schedule.pk}").status_code == 404
    assert bob_client.post(f"/schedules/{schedule.pk}/pause").status_code == 404
    assert bob_client.get("/schedules/nope").status_code == 404


def test_pause_resume_and_delete_buttons(alice_client, alice):
    schedule, _ = schedules.create_schedule(alice, urls=["https://a.example"], every="15m")
    response = alice_client.post(f"/schedules/{schedule.pk}/pause", {"next": "list"})
    assert response["Location"] == "/schedules"
    assert Schedule.objects.get().paused is True
    assert "Paused" in alice_client.get("/schedules").content.decode()
    Schedule.objects.update(next_run_at=timezone.now() - timedelta(hours=1))
    alice_client.post(f"/schedules/{schedule.pk}/resume")
    resumed = Schedule.objects.get()
    assert resumed.paused is False
    assert resumed.next_run_at > timezone.now()
    assert alice_client.get(f"/schedules/{schedule.pk}/pause").status_code == 405
    alice_client.post(f"/schedules/{schedule.pk}/delete")
    assert not Schedule.objects.exists()


def test_the_pages_ask_for_a_login(client, alice):
    schedule, _ = schedules.create_schedule(alice, urls=["https://a.example"], every="15m")
    assert client.get("/schedules").status_code == 302
    assert client.post(f"/schedules/{schedule.pk}/pause").status_code == 302
    assert Schedule.objects.get().paused is False
