"""Row and bulk actions of the Jobs page (POST /jobs/actions): on ticked jobs or on everything
matching the list's filter, only ever on the user's own jobs, back to the same list with a message."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from jobs.models import BatchJob, JobStatus
from jobs.services import submit_batch
from tests.conftest import refreshed

pytestmark = pytest.mark.django_db

URL = reverse("job-actions")


def queued(owner, site, n=1, **fields) -> list[BatchJob]:
    return [submit_batch(owner, urls=[site.url(f"/ok/{i}")], **fields).job for i in range(n)]


def said(response) -> list[str]:
    """The messages waiting for the next page (a test that does not follow redirects keeps
    collecting them)."""
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_actions_need_a_login_and_a_post(client, alice):
    assert client.post(URL, {"action": "cancel"}).status_code == 302
    client.force_login(alice)
    assert client.get(URL).status_code == 405


def test_cancel_the_ticked_jobs_and_come_back_to_the_same_list(client, alice, site):
    first, second, untouched = queued(alice, site, 3)
    client.force_login(alice)
    response = client.post(
        URL,
        {"action": "cancel", "ids": [first.pk, second.pk], "query": "status=queued&page=1"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/jobs?status=queued&page=1"
    assert said(response) == ["Cancelled 2 jobs."]
    assert refreshed(first).status == refreshed(second).status == JobStatus.CANCELLED
    assert refreshed(untouched).status == JobStatus.QUEUED


def test_cancel_everything_matching_the_filter_and_nothing_else(client, alice, bob, site):
    urgent = queued(alice, site, 3, priority="urgent")
    low = queued(alice, site, 2, priority="low")
    bobs = queued(bob, site, 2, priority="urgent")
    client.force_login(alice)
    response = client.post(
        URL, {"action": "cancel", "scope": "matching", "query": "priority=urgent&sort_by=priority"}
    )
    assert said(response) == ["Cancelled 3 jobs."]
    assert {refreshed(j).status for j in urgent} == {JobStatus.CANCELLED}
    assert {refreshed(j).status for j in low + bobs} == {JobStatus.QUEUED}


def test_finished_jobs_among_the_selection_are_counted_and_left_alone(client, alice, site):
    (active,) = queued(alice, site)
    done = BatchJob.objects.create(owner=alice, status=JobStatus.COMPLETED)
    client.force_login(alice)
    response = client.post(URL, {"action": "cancel", "ids": [active.pk, done.pk]})
    assert said(response) == ["Cancelled 1 job; 1 had already finished."]
    assert refreshed(done).status == JobStatus.COMPLETED
    response = client.post(URL, {"action": "cancel", "ids": [active.pk, done.pk]})
    assert said(response)[-1] == "Nothing to cancel: those 2 jobs have already finished."


def test_retry_failed_says_how_many_items_of_how_many_jobs(client, alice, site):
    clean = BatchJob.objects.create(owner=alice, status=JobStatus.COMPLETED)
    client.force_login(alice)
    response = client.post(URL, {"action": "retry", "ids": [clean.pk]})
    assert said(response) == ["Nothing to retry: that job is still running or has no failed items."]
    failed = queued(alice, site, 2)
    for job in failed:
        job.items.update(status="failed", error_code="TIMEOUT")
        job.recount()
        job.transition(JobStatus.FAILED)
    response = client.post(URL, {"action": "retry", "ids": [clean.pk, *(j.pk for j in failed)]})
    assert said(response)[-1] == "Retrying 2 failed items in 2 jobs; 1 had nothing to retry."
    assert {refreshed(j).status for j in failed} == {JobStatus.QUEUED}


def test_bob_cannot_act_on_alices_jobs_by_id_or_by_filter(client, alice, bob, site):
    (mine,) = queued(alice, site)
    client.force_login(bob)
    response = client.post(URL, {"action": "cancel", "ids": [mine.pk]})
    assert said(response) == ["None of those jobs is yours to change; nothing was done."]
    client.post(URL, {"action": "cancel", "scope": "matching", "query": ""})
    assert refreshed(mine).status == JobStatus.QUEUED


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "explode", "ids": ["x"]}, "Unknown action; choose cancel or retry."),
        ({"action": "cancel"}, "Select at least one job first."),
        ({"action": "cancel", "ids": ["not-a-uuid"]}, "That is not a job id; nothing was done."),
        (
            {"action": "cancel", "scope": "matching", "query": "status=bogus"},
            "The filter changed or is not valid; nothing was done.",
        ),
    ],
)
def test_bad_requests_are_messages_and_change_nothing(client, alice, site, data, message):
    (job,) = queued(alice, site)
    client.force_login(alice)
    response = client.post(URL, data)
    assert response.status_code == 302
    assert said(response) == [message]
    assert refreshed(job).status == JobStatus.QUEUED
