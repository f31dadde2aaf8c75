"""Firing schedules (jobs.schedules): a due schedule becomes one ordinary job through
submit_batch, exactly once even when two scheduler ticks race; pause/resume; quotas apply."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from jobs import schedules
from jobs.models import BatchJob, Quota, Schedule
from jobs.services import ServiceError
from jobs.tasks import fire_schedules

pytestmark = pytest.mark.django_db(transaction=True)


def hourly(owner, **fields) -> Schedule:
    schedule, _ = schedules.create_schedule(
        owner,
        text="https://example.com/a\nexample.com/a\nhttps://example.org/b",
        every="1h",
        **fields,
    )
    return schedule


def test_a_due_schedule_becomes_one_job_linked_to_it(alice):
    schedule = hourly(alice, name="Availability", priority=8, max_attempts=1)
    assert schedule.urls == ["https://example.com/a", "https://example.org/b"]  # stored once
    due = schedule.next_run_at
    [job] = schedules.fire_due(due + timedelta(seconds=1))
    assert (job.schedule_id, job.owner, job.name, job.priority) == (
        schedule.pk,
        alice,
        "Availability",
        8,
    )
    assert job.total_items == 2
    assert job.max_attempts == 1
    schedule.refresh_from_db()
    assert schedule.next_run_at == due + timedelta(hours=1)
    assert (schedule.runs, schedule.last_error) == (1, "")
    assert schedules.fire_due(due + timedelta(minutes=30)) == []  # not due again yet
    # The periodic task (what jobs.cron registers) fires it when due.
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=timezone.now())
    assert len(fire_schedules()) == 1
    assert BatchJob.objects.filter(schedule=schedule).count() == 2


def test_two_ticks_that_read_the_same_due_schedule_fire_it_once(alice):
    schedule = hourly(alice)
    now = schedule.next_run_at + timedelta(seconds=5)
    first, second = Schedule.objects.get(), Schedule.objects.get()  # both read it due
    assert schedules.fire(first, now)[0] is True
    assert schedules.fire(second, now) == (False, None)
    assert BatchJob.objects.count() == 1


def test_two_scheduler_ticks_racing_in_threads_fire_each_schedule_once(alice):
    made = [hourly(alice, name=f"s{i}") for i in range(3)]
    now = max(s.next_run_at for s in made) + timedelta(seconds=1)
    barrier = threading.Barrier(2)
    fired: list[list] = []
    errors: list[BaseException] = []

    def tick() -> None:
        try:
            barrier.wait(10)
            fired.append(schedules.fire_due(now))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(len(jobs) for jobs in fired) == 3
    assert sorted(BatchJob.objects.values_list("name", flat=True)) == ["s0", "s1", "s2"]
    assert set(Schedule.objects.values_list("runs", flat=True)) == {1}


def test_a_paused_schedule_does_not_run_and_resumes_without_catching_up(alice):
    schedule = hourly(alice)
    due = schedule.next_run_at
    schedules.pause(schedule)
    assert schedules.fire_due(due + timedelta(hours=5)) == []
    # Resumed 3½ hours after it was due: the next run is the next slot from now.
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=due - timedelta(hours=3, minutes=30))
    schedule.refresh_from_db()
    schedule = schedules.resume(schedule)
    assert not schedule.paused
    assert timezone.now() < schedule.next_run_at <= timezone.now() + timedelta(minutes=31)
    assert BatchJob.objects.count() == 0


def test_once_runs_once_and_then_has_no_next_run(alice):
    at = timezone.now() + timedelta(minutes=5)
    schedule, _ = schedules.create_schedule(
        alice, urls=["https://example.com"], run_at=at.isoformat()
    )
    assert schedule.kind == "once"
    assert schedule.next_run_at == at
    assert len(schedules.fire_due(at)) == 1
    schedule.refresh_from_db()
    assert schedule.next_run_at is None
    assert schedules.fire_due(at + timedelta(days=1)) == []


def test_a_run_past_the_users_quota_is_recorded_and_the_schedule_goes_on(alice):
    schedule = hourly(alice)
    Quota.objects.create(user=alice, max_urls_per_batch=1)
    due = schedule.next_run_at
    assert schedules.fire_due(due) == [None]
    schedule.refresh_from_db()
    assert "quota is 1" in schedule.last_error
    assert schedule.next_run_at == due + timedelta(hours=1)
    assert BatchJob.objects.count() == 0


def test_create_refuses_bad_settings_and_timing_together(alice):
    with pytest.raises(ServiceError) as caught:
        schedules.create_schedule(alice, urls=["https://example.com"], every="0", priority=42)
    assert set(caught.value.errors) == {"every", "priority"}
    with pytest.raises(ServiceError) as caught:
        schedules.create_schedule(alice, urls=["not a url"], every="1h")
    assert set(caught.value.errors) == {"urls"}
    assert Schedule.objects.count() == 0


def test_update_reads_the_timing_again_and_keeps_what_is_not_given(alice):
    schedule = hourly(alice, name="Keep", priority=3)
    schedule = schedules.update_schedule(
        schedule, {"cron": "0 9 * * *", "time_zone": "Europe/Berlin"}
    )
    assert (schedule.kind, schedule.cron, schedule.time_zone) == (
        "cron",
        "0 9 * * *",
        "Europe/Berlin",
    )
    assert (schedule.name, schedule.priority, schedule.interval_minutes) == ("Keep", 3, None)
    schedule = schedules.update_schedule(
        schedule, {"time_zone": "UTC", "urls": ["https://x.example"]}
    )
    assert (schedule.cron, schedule.time_zone, schedule.urls) == (
        "0 9 * * *",
        "UTC",
        ["https://x.example"],
    )
    assert schedule.next_run_at.hour == 9
    assert schedule.next_run_at.minute == 0
