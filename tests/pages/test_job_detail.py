"""The job page (/jobs/<id>) and its partials: who may see them, what they show, what they cost."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from jobs.models import BatchJob, ItemStatus, JobLogEntry, JobStatus
from jobs.services import submit_batch
from tests.conftest import refreshed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def finished_job(alice, site, burst_worker):
    """A page audit of four pages: two fine, a 404, a 503 and a dropped connection."""
    urls = [site.url(p) for p in ("/ok", "/ok/two", "/404", "/status/503", "/reset")]
    job = submit_batch(alice, urls=urls, processor="page_audit", max_attempts=1, name="Audit").job
    burst_worker()
    return refreshed(job)


def partial_urls(job: BatchJob, item_id: int) -> list[str]:
    return [
        reverse("job-detail", args=[job.pk]),
        reverse("job-detail-insights", args=[job.pk]),
        reverse("job-detail-items", args=[job.pk]),
        reverse("job-detail-item", args=[job.pk, item_id]),
        reverse("job-detail-failures", args=[job.pk, "http"]),
        reverse("job-detail-log", args=[job.pk]),
    ]


ACTIONS = ["job-cancel", "job-retry", "job-delete"]


def test_the_job_page_and_its_partials_ask_for_a_login(client, alice):
    job = submit_batch(alice, urls=["https://example.com"]).job
    for url in partial_urls(job, job.items.get().pk):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/")
    for name in ACTIONS:
        assert client.post(reverse(name, args=[job.pk])).status_code == 302


def test_bob_gets_404_for_alices_job_everywhere_and_changes_nothing(client, alice, bob):
    job = submit_batch(alice, urls=["https://example.com"]).job
    client.force_login(bob)
    for url in partial_urls(job, job.items.get().pk):
        assert client.get(url).status_code == 404, url
    for name in ACTIONS:
        assert client.post(reverse(name, args=[job.pk])).status_code == 404
    assert refreshed(job).status == JobStatus.QUEUED


def test_staff_see_anyones_job(client, alice, staff):
    job = submit_batch(alice, urls=["https://example.com"], name="alice's batch").job
    client.force_login(staff)
    assert "alice&#x27;s batch" in client.get(reverse("job-detail", args=[job.pk])).content.decode()


def test_an_item_of_another_job_is_404_under_mine(client, alice):
    mine = submit_batch(alice, urls=["https://example.com"]).job
    other = submit_batch(alice, urls=["https://example.org"]).job
    client.force_login(alice)
    url = reverse("job-detail-item", args=[mine.pk, other.items.get().pk])
    assert client.get(url).status_code == 404


def test_the_page_shows_the_request_counts_failures_and_the_log(client, alice, finished_job):
    client.force_login(alice)
    page = client.get(reverse("job-detail", args=[finished_job.pk])).content.decode()
    assert "Audit" in page
    assert 'data-status="completed_with_errors"' in page
    assert "Page audit" in page
    assert "fetch → parse → robots → score" in page
    assert "Max attempts" in page
    # 2 of 5 succeeded, 3 failed: counts per status and the failures by error code
    assert re.search(r'data-legend="succeeded".*?data-legend-count>2<', page, re.S)
    assert re.search(r'data-legend="failed".*?data-legend-count>3<', page, re.S)
    assert 'data-retry-by="code" data-retry-key="HTTP_ERROR" data-retry-count="2"' in page
    assert 'data-retry-key="CONNECTION_ERROR" data-retry-count="1"' in page
    assert "Submitted 5 URLs" in page  # the log
    data = json.loads(re.search(r'id="job-detail-data"[^>]*>(.*?)</script>', page).group(1))
    assert data["seq"] == finished_job.seq
    assert data["counts"]["failed"] == 3
    assert data["lastLogId"] == JobLogEntry.objects.filter(job=finished_job).last().pk


def test_first_paint_costs_the_same_few_queries_for_a_big_job(
    client, alice, django_assert_max_num_queries
):
    small = submit_batch(alice, urls=["https://example.com"]).job
    big = submit_batch(alice, urls=[f"https://example.com/{i}" for i in range(3000)]).job
    client.force_login(alice)
    for job in (small, big):
        with django_assert_max_num_queries(10):
            response = client.get(reverse("job-detail", args=[job.pk]))
        assert response.status_code == 200
    assert response.content.decode().count("data-item-id=") == 50  # one page of the table


def test_the_items_table_pages_by_keyset_and_keeps_its_filters(client, alice):
    job = submit_batch(alice, urls=[f"https://example.com/{i}" for i in range(120)]).job
    client.force_login(alice)
    url = reverse("job-detail-items", args=[job.pk])
    first = client.get(url)
    body = first.content.decode()
    assert body.count("data-item-id=") == 50
    assert "120 items" in body
    next_query = re.search(r'href="\?([^"]*cursor=[^"#]*)#items"[^>]*rel="next"', body).group(1)
    second = client.get(f"{url}?{next_query.replace('&amp;', '&')}").content.decode()
    assert ">51<" in second
    assert ">100<" in second
    assert ">50<" not in second
    assert first["HX-Replace-Url"] == reverse("job-detail", args=[job.pk])


def test_filters_narrow_the_items_and_bad_values_are_ignored(client, alice, finished_job):
    client.force_login(alice)
    url = reverse("job-detail-items", args=[finished_job.pk])
    failed = client.get(f"{url}?status=failed").content.decode()
    assert failed.count("data-item-id=") == 3
    assert "3 items match" in failed
    http = client.get(f"{url}?http_status=404").content.decode()
    assert http.count("data-item-id=") == 1
    searched = client.get(f"{url}?search=/ok").content.decode()
    assert searched.count("data-item-id=") == 2
    nonsense = client.get(f"{url}?status=bogus&cursor=zzz&http_status=abc")
    assert nonsense.status_code == 200
    assert nonsense.content.decode().count("data-item-id=") == 5


def test_an_expanded_row_shows_the_result_and_every_attempt(client, alice, finished_job):
    client.force_login(alice)
    item = finished_job.items.get(url__endswith="/404")
    body = client.get(reverse("job-detail-item", args=[finished_job.pk, item.pk])).content.decode()
    assert "HTTP_ERROR" in body
    assert body.count('<td class="num">1</td>') >= 1  # attempt 1
    ok = finished_job.items.get(url__endswith="/ok")
    body = client.get(reverse("job-detail-item", args=[finished_job.pk, ok.pk])).content.decode()
    assert "&quot;score&quot;" in body  # the result, as JSON


@pytest.mark.parametrize(("by", "label"), [("http", "HTTP 404"), ("host", "127.0.0.1:")])
def test_failures_group_by_http_status_and_host(client, alice, finished_job, by, label):
    client.force_login(alice)
    body = client.get(reverse("job-detail-failures", args=[finished_job.pk, by])).content.decode()
    assert label in body
    assert 'data-retry-by="' + by in body


def test_an_unknown_grouping_is_404(client, alice, finished_job):
    client.force_login(alice)
    assert (
        client.get(reverse("job-detail-failures", args=[finished_job.pk, "x"])).status_code == 404
    )


def test_the_log_downloads_as_text(client, alice, finished_job):
    client.force_login(alice)
    response = client.get(reverse("job-detail-log", args=[finished_job.pk]))
    text = b"".join(response.streaming_content).decode()
    assert response["Content-Type"].startswith("text/plain")
    assert "attachment" in response["Content-Disposition"]
    lines = text.splitlines()
    assert len(lines) == JobLogEntry.objects.filter(job=finished_job).count()
    assert "INFO" in lines[0]
    assert "Submitted 5 URLs" in lines[0]


def test_retry_this_group_puts_back_exactly_that_group(client, alice, finished_job):
    client.force_login(alice)
    url = reverse("job-retry", args=[finished_job.pk])
    response = client.post(url, {"by": "http", "key": "404"})
    assert response.json() == {"ok": True, "requeued": 1, "message": "1 item queued again."}
    job = refreshed(finished_job)
    assert job.status == JobStatus.QUEUED
    assert job.items.get(status=ItemStatus.QUEUED).url.endswith("/404")


def test_retry_by_host_and_refusals_while_running(client, alice, finished_job):
    client.force_login(alice)
    url = reverse("job-retry", args=[finished_job.pk])
    host = finished_job.items.first().url.split("/")[2]
    assert client.post(url, {"by": "host", "key": host}).json()["requeued"] == 3
    again = client.post(url, {"by": "host", "key": host})
    assert again.status_code == 409
    assert "still running" in again.json()["message"]
    assert client.post(url, {"by": "code", "key": ""}).status_code == 400


def test_cancel_and_delete_from_the_page(client, alice):
    job = submit_batch(alice, urls=["https://example.com", "https://example.org"]).job
    client.force_login(alice)
    refused = client.post(reverse("job-delete", args=[job.pk]))
    assert refused.status_code == 409
    assert "cancel it first" in refused.json()["message"]
    assert client.post(reverse("job-cancel", args=[job.pk])).json()["status"] == "cancelled"
    assert client.post(reverse("job-cancel", args=[job.pk])).status_code == 409
    deleted = client.post(reverse("job-delete", args=[job.pk])).json()
    assert deleted["redirect"] == reverse("job-list")
    assert not BatchJob.objects.filter(pk=job.pk).exists()


def test_actions_answer_only_to_post(client, alice):
    job = submit_batch(alice, urls=["https://example.com"]).job
    client.force_login(alice)
    for name in ACTIONS:
        assert client.get(reverse(name, args=[job.pk])).status_code == 405
