"""Submit validation and retry, through the services every interface uses."""

from __future__ import annotations

import django_rq
import pytest
from rq import Worker

from jobs.models import BatchJob, ItemStatus, JobItem, JobStatus
from jobs.services import ServiceError, retry_items, submit_batch
from tests.conftest import refreshed

pytestmark = pytest.mark.django_db(transaction=True)


def test_submit_creates_the_job_and_items_and_enqueues_runners(alice, redis_db, settings):
    settings.BATCHSITE_CHUNK_SIZE = 10
    submission = submit_batch(
        alice,
        text="example.com\nhttps://example.org/a, example.com\nnot a url\n",
        priority="high",
        concurrency="20",
        name="First batch",
    )
    job = submission.job
    assert (job.status, job.priority, job.concurrency, job.name) == (
        JobStatus.QUEUED,
        8,
        20,
        "First batch",
    )
    assert list(job.items.values_list("position", "url")) == [
        (0, "https://example.com"),
        (1, "https://example.org/a"),
    ]
    assert (job.total_items, job.count_queued) == (2, 2)
    assert submission.intake.duplicates == 1
    assert [(r.line, r.input) for r in submission.intake.rejected] == [
        (3, "not"),
        (3, "a"),
        (3, "url"),
    ]
    assert django_rq.get_queue("high").count == 1


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"priority": 11}, "priority"),
        ({"priority": "soon"}, "priority"),
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": 501}, "concurrency"),
        ({"item_timeout": 1801}, "item_timeout"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"processor": "nope"}, "processor"),
        ({"options": {"method": "PUT"}}, "options"),
        ({"options": {"unknown": 1}}, "options"),
        ({"name": "x" * 201}, "name"),
    ],
)
def test_submit_refuses_bad_settings_and_names_the_field(alice, fields, bad):
    with pytest.raises(ServiceError) as caught:
        submit_batch(alice, urls=["https://example.com"], **fields)
    assert bad in caught.value.errors
    assert caught.value.status == 400
    assert not BatchJob.objects.exists()


def test_submit_with_nothing_valid_is_refused_and_creates_nothing(alice):
    with pytest.raises(ServiceError) as caught:
        submit_batch(alice, text="ftp://example.com\nhttp://\n")
    assert caught.value.code == "no_valid_urls"
    assert len(caught.value.intake.rejected) == 2
    assert not BatchJob.objects.exists()


def test_submit_over_the_url_limit_is_413(alice, settings):
    settings.BATCHSITE_MAX_URLS_PER_BATCH = 3
    with pytest.raises(ServiceError) as caught:
        submit_batch(alice, urls=[f"https://example.com/{i}" for i in range(4)])
    assert caught.value.status == 413
    assert not JobItem.objects.exists()


def test_submit_a_large_batch_quickly(alice):
    urls = [f"https://example.com/page/{i}" for i in range(20_000)]
    job = submit_batch(alice, urls=urls).job
    assert job.items.count() == 20_000


def test_retry_failed_items_runs_them_again_as_new_attempts(alice, site, burst_worker):
    job = submit_batch(alice, urls=[site.url("/reset"), site.url("/ok")], max_attempts=1).job
    burst_worker()
    job = refreshed(job)
    assert job.status == JobStatus.COMPLETED_WITH_ERRORS

    assert retry_items(job, error_code="TIMEOUT") == 0
    assert retry_items(job) == 1
    job = refreshed(job)
    assert (job.status, job.count_queued, job.finished_at) == (JobStatus.QUEUED, 1, None)

    burst_worker()
    job = refreshed(job)
    assert job.status == JobStatus.COMPLETED_WITH_ERRORS
    failed = job.items.get(status=ItemStatus.FAILED)
    assert failed.attempts == 2
    assert list(failed.attempt_history.values_list("number", flat=True)) == [1, 2]


def test_retry_refuses_a_running_job(alice):
    job = submit_batch(alice, urls=["https://example.com"]).job
    with pytest.raises(ServiceError) as caught:
        retry_items(job)
    assert caught.value.status == 409


def test_a_job_gets_one_runner_per_listening_worker(alice, redis_db):
    queue = django_rq.get_queue("default")
    workers = [Worker([queue], connection=redis_db, name=f"w{i}") for i in range(3)]
    for worker in workers:
        worker.register_birth()
    try:
        submit_batch(alice, urls=[f"https://example.com/{i}" for i in range(1000)])
        assert queue.count == 3
        submit_batch(alice, urls=[f"https://example.org/{i}" for i in range(150)])
        assert queue.count == 3 + 2  # small jobs: at least 100 items a runner
    finally:
        for worker in workers:
            worker.register_death()
