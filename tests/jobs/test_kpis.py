"""The dashboard's figures (jobs.kpis): each from counters, runner rows or a bounded sample, and
each only about the jobs the viewer may see."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import kpis
from jobs.access import jobs_for
from jobs.models import BatchJob, JobItem, JobStatus, Runner

pytestmark = pytest.mark.django_db


def make_job(owner, **fields) -> BatchJob:
    return BatchJob.objects.create(owner=owner, **{"status": JobStatus.COMPLETED, **fields})


def make_runner(job, *, done: int, seconds: float, stale: bool = False, name: str = "w1") -> Runner:
    now = timezone.now() - timedelta(minutes=10 if stale else 0)
    return Runner.objects.create(
        id=f"host:1:{job.pk.hex[:6]}{name}",
        job=job,
        worker_name=name,
        started_at=now - timedelta(seconds=seconds),
        heartbeat_at=now,
        items_done=done,
    )


def finished_items(job, durations: list[float]) -> None:
    now = timezone.now()
    JobItem.objects.bulk_create(
        JobItem(
            job=job,
            position=i,
            url=f"https://example.com/{i}",
            status="succeeded",
            duration=d,
            finished_at=now - timedelta(seconds=len(durations) - i),
        )
        for i, d in enumerate(durations)
    )


def test_status_counts_give_every_status_and_running_counts_cancelling_too(alice):
    make_job(alice, status=JobStatus.RUNNING)
    make_job(alice, status=JobStatus.CANCELLING)
    make_job(alice, status=JobStatus.QUEUED)
    counts = kpis.status_counts(jobs_for(alice))
    assert set(counts) == set(JobStatus.values)
    assert kpis.jobs_running(counts) == 2
    assert kpis.jobs_waiting(counts) == 1
    assert counts[JobStatus.FAILED] == 0


def test_items_per_second_sums_each_live_runner_rate_and_ignores_stale_ones(alice, bob):
    mine = make_job(alice, status=JobStatus.RUNNING)
    make_runner(mine, done=100, seconds=10, name="w1")  # 10/s
    make_runner(mine, done=30, seconds=10, name="w2")  # 3/s
    make_runner(mine, done=999, seconds=1, stale=True, name="w3")
    make_runner(make_job(bob, status=JobStatus.RUNNING), done=500, seconds=1, name="w4")

    runners = kpis.live_runners(jobs_for(alice))
    assert sorted(r.worker_name for r in runners) == ["w1", "w2"]
    assert kpis.items_per_second(runners) == pytest.approx(13.0)
    staff_view = kpis.live_runners(BatchJob.objects.all())
    assert kpis.items_per_second(staff_view) == pytest.approx(513.0)


def test_success_rate_counts_items_of_jobs_that_changed_in_the_last_day(alice, bob):
    make_job(alice, count_succeeded=90, count_failed=10)
    make_job(
        alice, count_succeeded=0, count_failed=50, updated_at=timezone.now() - timedelta(days=2)
    )
    make_job(bob, count_succeeded=0, count_failed=1000)
    rate = kpis.success_rate(jobs_for(alice))
    assert (rate.percent, rate.succeeded, rate.failed) == (90.0, 90, 10)
    assert kpis.success_rate(jobs_for(alice).none()).percent is None


def test_p50_is_the_median_of_recent_items_and_reads_a_bounded_sample(alice, bob):
    job = make_job(alice, item_seconds=10.0)
    finished_items(job, [0.1, 0.2, 0.3, 0.4, 5.0])
    finished_items(make_job(bob, item_seconds=1.0), [9.0] * 5)
    sample = kpis.p50_item_seconds(jobs_for(alice))
    assert (sample.seconds, sample.size) == (0.3, 5)

    big = make_job(alice, item_seconds=1.0)
    finished_items(big, [1.0] * (kpis.P50_ITEMS_PER_JOB + 50))
    assert kpis.p50_item_seconds(jobs_for(alice)).size == 5 + kpis.P50_ITEMS_PER_JOB
    assert kpis.p50_item_seconds(jobs_for(alice).none()) == kpis.Sample(None, 0)


def test_queue_depths_follow_the_priority_bands_of_active_jobs_only(alice, bob):
    make_job(alice, status=JobStatus.RUNNING, priority=10, count_queued=5, count_processing=2)
    make_job(alice, status=JobStatus.QUEUED, priority=9, count_queued=1)
    make_job(alice, status=JobStatus.QUEUED, priority=2, count_pending=4)
    make_job(alice, status=JobStatus.COMPLETED, priority=8, count_queued=99)  # stale counter
    make_job(bob, status=JobStatus.RUNNING, priority=5, count_queued=77)
    depths = {q.name: q for q in kpis.queue_depths(jobs_for(alice))}
    assert list(depths) == ["urgent", "high", "default", "low"]
    assert (depths["urgent"].waiting, depths["urgent"].processing, depths["urgent"].jobs) == (
        6,
        2,
        2,
    )
    assert (depths["high"].waiting, depths["default"].waiting, depths["low"].waiting) == (0, 0, 4)
    assert depths["default"].label == "Normal"


def test_figures_put_them_together(alice):
    job = make_job(alice, status=JobStatus.RUNNING, count_queued=3, count_succeeded=1)
    make_runner(job, done=20, seconds=4)
    jobs = jobs_for(alice)
    counts = kpis.status_counts(jobs)
    found = kpis.figures(jobs, counts, kpis.live_runners(jobs))
    assert (found.running, found.runners, found.queue_waiting) == (1, 1, 3)
    assert found.items_per_second == pytest.approx(5.0)
    assert found.success.percent == 100.0
