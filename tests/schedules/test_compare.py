"""What changed since the last run, from two real runs of a schedule (a real burst worker, the
local site): a page that answers 200 then 500 is newly failing, one that answered 503 then 200
has recovered, the others are the same."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs import schedule_diff, schedules
from jobs.models import BatchJob, JobStatus, Schedule

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_real_runs_show_what_is_newly_failing_and_what_recovered(alice, site, burst_worker):
    key = uuid.uuid4().hex[:8]
    breaks = site.url(f"/flip/{key}?after=1&status=500")
    mends = site.url(f"/flaky/{key}?fails=1")
    steady = site.url(f"/ok/{key}")
    schedule, _ = schedules.create_schedule(
        alice, urls=[breaks, mends, steady], every="1h", max_attempts=1, name="hourly"
    )
    assert schedule_diff.since_last_run(schedule).comparable is False
    due = schedule.next_run_at
    for run in range(2):
        [job] = schedules.fire_due(due + timedelta(hours=run))
        burst_worker()
        job.refresh_from_db()
        assert job.status in JobStatus.TERMINAL
        assert job.schedule_id == schedule.pk
    first, second = BatchJob.objects.filter(schedule=schedule).order_by("created_at")
    # http_check keeps any response as its result: a 5xx is an item that succeeded with it.
    statuses = {
        run.pk: dict(run.items.values_list("url", "http_status")) for run in (first, second)
    }
    assert statuses[first.pk] == {breaks: 200, mends: 503, steady: 200}
    assert statuses[second.pk] == {breaks: 500, mends: 200, steady: 200}

    schedule = Schedule.objects.get()
    with CaptureQueriesContext(connection) as queries:
        changes = schedule_diff.since_last_run(schedule)
    assert len(queries) == 2
    assert (changes.previous.pk, changes.current.pk) == (first.pk, second.pk)
    assert [c.url for c in changes.newly_failing] == [breaks]
    assert changes.newly_failing[0].before == {
        "status": "succeeded",
        "http_status": 200,
        "error_code": "",
    }
    assert changes.newly_failing[0].after == {
        "status": "succeeded",
        "http_status": 500,
        "error_code": "",
    }
    assert [c.url for c in changes.recovered] == [mends]
    assert changes.recovered[0].before["http_status"] == 503
    assert changes.counts == {
        "newly_failing": 1,
        "recovered": 1,
        "changed": 0,
        "added": 0,
        "removed": 0,
        "same": 1,
    }
