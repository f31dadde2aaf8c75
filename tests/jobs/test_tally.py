"""JobTally counts the jobs per (owner, status, processor, priority) exactly, whoever writes: its
triggers see ORM saves, bulk and queryset writes, deletes, a user's deletion and the pipeline's
own transitions."""

from __future__ import annotations

import pytest
from django.db.models import Count

from jobs.models import BatchJob, JobStatus, JobTally
from jobs.services import cancel_job, retry_items, submit_batch

KEY = ("owner_id", "status", "processor", "priority")


def counted() -> dict[tuple, int]:
    rows = BatchJob.objects.order_by().values_list(*KEY).annotate(n=Count("pk"))
    return {tuple(row[:-1]): row[-1] for row in rows}


def tallied() -> dict[tuple, int]:
    return {
        tuple(row[:-1]): row[-1] for row in JobTally.objects.values_list(*KEY, "jobs") if row[-1]
    }


@pytest.mark.django_db
def test_every_kind_of_write_keeps_the_tally_exact(alice, bob):
    one = BatchJob.objects.create(owner=alice, status=JobStatus.QUEUED)
    BatchJob.objects.bulk_create(
        BatchJob(owner=owner, status=status, priority=priority, processor=processor)
        for owner in (alice, bob)
        for status in (JobStatus.RUNNING, JobStatus.FAILED)
        for priority in (2, 9)
        for processor in ("http_check", "page_audit")
    )
    assert tallied() == counted()
    assert sum(tallied().values()) == 17

    one.status = JobStatus.RUNNING
    one.save()  # every column written, one of them changed
    one.name = "renamed"
    one.save(update_fields=["name"])  # no counted column
    assert tallied() == counted()

    BatchJob.objects.filter(owner=bob, priority=9).update(status=JobStatus.CANCELLED, priority=3)
    BatchJob.objects.filter(owner=alice, processor="page_audit").update(processor="http_check")
    BatchJob.objects.filter(pk=one.pk).update(owner=bob)
    assert tallied() == counted()

    one.delete()
    BatchJob.objects.filter(status=JobStatus.FAILED, owner=alice).delete()
    assert tallied() == counted()

    bob.delete()  # his jobs go with him, and so does his tally
    assert tallied() == counted()
    assert not JobTally.objects.filter(owner_id=bob.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_the_pipeline_keeps_the_tally_exact(alice, bob, burst_worker):
    """Submit, run to the end, retry, cancel, fail: the services' and runners' own writes."""
    finished = submit_batch(
        alice, urls=["http://127.0.0.2/a", "http://127.0.0.2/b"], max_attempts=1
    )
    waiting = submit_batch(alice, urls=["https://example.com/"], priority=9)
    submit_batch(bob, urls=["https://example.org/"], processor="page_audit")
    assert tallied() == counted()
    cancel_job(waiting.job)
    assert tallied() == counted()
    burst_worker()  # 127.0.0.2 is refused: finished's items fail
    assert BatchJob.objects.get(pk=finished.job.pk).status == JobStatus.FAILED
    assert tallied() == counted()
    retry_items(BatchJob.objects.get(pk=finished.job.pk))
    assert tallied() == counted()
    burst_worker()
    assert tallied() == counted()
    assert tallied()[(alice.pk, JobStatus.CANCELLED, "http_check", 9)] == 1
