"""Submit → real RQ worker → database, against the local site: every item ends in the right state."""

from __future__ import annotations

import json
import urllib.request

import pytest

from jobs.models import AttemptOutcome, ItemAttempt, ItemStatus, JobLogEntry, JobStatus
from jobs.services import submit_batch
from tests.conftest import refreshed

pytestmark = pytest.mark.django_db(transaction=True)


def hits(site, key: str) -> int:
    with urllib.request.urlopen(site.url(f"/hits/{key}"), timeout=10) as response:
        return json.load(response)["hits"]


def items_by_url(job):
    return {item.url: item for item in job.items.all()}


def test_every_item_ends_with_the_right_result_and_error_code(alice, site, burst_worker):
    port = site.base_url.rsplit(":", 1)[1]
    urls = {
        "ok": site.url("/ok"),
        "redirects": site.url("/redirect/3"),
        "loop": site.url("/redirect-loop"),
        "missing": site.url("/404"),
        "huge": site.url("/huge"),
        "bomb": site.url("/gzip-bomb"),
        "to_blocked": site.url(f"/redirect-to?url=http://127.0.0.2:{port}/ok"),
        "loopback2": f"http://127.0.0.2:{port}/ok",
        "ipv6_loopback": f"http://[::1]:{port}/ok",
        "unspecified": f"http://0.0.0.0:{port}/ok",
        "decimal": f"http://2130706434:{port}/ok",
    }
    job = submit_batch(alice, urls=list(urls.values()), max_attempts=1).job
    burst_worker()
    job = refreshed(job)
    items = items_by_url(job)

    assert job.status == JobStatus.COMPLETED_WITH_ERRORS
    assert job.progress == 100.0
    assert job.count_succeeded + job.count_failed == len(urls)

    ok = items[urls["ok"]]
    assert ok.status == ItemStatus.SUCCEEDED
    assert ok.http_status == 200
    assert ok.result["ok"] is True
    assert ok.result["content_type"] == "text/html"
    assert set(ok.result["timings"]) >= {"ttfb", "total"}

    chain = items[urls["redirects"]]
    assert chain.result["redirect_count"] == 3
    assert chain.result["final_url"] == site.url("/ok")

    missing = items[urls["missing"]]
    assert missing.status == ItemStatus.SUCCEEDED  # any HTTP response is a result
    assert (missing.http_status, missing.result["ok"]) == (404, False)

    expected_errors = {
        "loop": "TOO_MANY_REDIRECTS",
        "huge": "RESPONSE_TOO_LARGE",
        "bomb": "RESPONSE_TOO_LARGE",
        "to_blocked": "BLOCKED_ADDRESS",
        "loopback2": "BLOCKED_ADDRESS",
        "ipv6_loopback": "BLOCKED_ADDRESS",
        "unspecified": "BLOCKED_ADDRESS",
        "decimal": "BLOCKED_ADDRESS",
    }
    for key, code in expected_errors.items():
        item = items[urls[key]]
        assert (item.status, item.error_code) == (ItemStatus.FAILED, code), key
        assert item.error
    assert job.counts == {
        **dict.fromkeys(ItemStatus.values, 0),
        "succeeded": 3,
        "failed": len(expected_errors),
    }


def test_retries_keep_the_attempt_history(alice, site, burst_worker, settings):
    settings.BATCHSITE_RETRY_BACKOFF_BASE = 0.01
    site.reset()
    flaky = site.url("/flaky/history?fails=2")
    job = submit_batch(alice, urls=[flaky], max_attempts=3).job
    burst_worker()
    item = refreshed(job).items.get()
    assert item.status == ItemStatus.SUCCEEDED
    assert item.http_status == 200
    assert item.attempts == 3
    history = list(item.attempt_history.values_list("number", "outcome", "http_status"))
    assert history == [
        (1, AttemptOutcome.RETRY, 503),
        (2, AttemptOutcome.RETRY, 503),
        (3, AttemptOutcome.SUCCEEDED, None),
    ]


def test_a_5xx_after_the_last_attempt_is_still_a_result(alice, site, burst_worker, settings):
    settings.BATCHSITE_RETRY_BACKOFF_BASE = 0.01
    job = submit_batch(alice, urls=[site.url("/500")], max_attempts=2).job
    burst_worker()
    item = refreshed(job).items.get()
    assert (item.status, item.http_status, item.result["ok"]) == (ItemStatus.SUCCEEDED, 500, False)
    assert item.attempt_history.count() == 2


def test_retry_after_is_honoured(alice, site, burst_worker, settings):
    settings.BATCHSITE_RETRY_BACKOFF_BASE = (
        30  # would time the test out if Retry-After were ignored
    )
    site.reset()
    job = submit_batch(
        alice, urls=[site.url("/rate-limited/ra?fails=1&retry_after=1")], max_attempts=2
    ).job
    burst_worker()
    item = refreshed(job).items.get()
    assert (item.status, item.http_status, item.attempts) == (ItemStatus.SUCCEEDED, 200, 2)
    first, second = item.attempt_history.order_by("number")
    assert (second.started_at - first.finished_at).total_seconds() >= 0.9


def test_connection_errors_are_retried_then_fail(alice, site, burst_worker, settings):
    settings.BATCHSITE_RETRY_BACKOFF_BASE = 0.01
    job = submit_batch(alice, urls=[site.url("/reset")], max_attempts=2).job
    burst_worker()
    item = refreshed(job).items.get()
    assert (item.status, item.error_code, item.attempts) == (
        ItemStatus.FAILED,
        "CONNECTION_ERROR",
        2,
    )
    assert refreshed(job).status == JobStatus.FAILED


def test_timeouts_fail_with_timeout(alice, site, burst_worker):
    job = submit_batch(alice, urls=[site.url("/slow?ms=3000")], item_timeout=1, max_attempts=1).job
    burst_worker()
    item = refreshed(job).items.get()
    assert (item.status, item.error_code) == (ItemStatus.FAILED, "TIMEOUT")


def test_many_items_run_concurrently_and_each_url_is_fetched_once(alice, site, burst_worker):
    site.reset()
    urls = [site.url(f"/counter/many-{i}") for i in range(300)]
    job = submit_batch(alice, urls=urls, concurrency=100).job
    burst_worker()
    job = refreshed(job)
    assert job.status == JobStatus.COMPLETED
    assert job.count_succeeded == 300
    assert job.items.filter(status=ItemStatus.SUCCEEDED).count() == 300
    assert {hits(site, f"many-{i}") for i in range(300)} == {1}
    # Run concurrently: the sum of item times is well above the wall clock.
    assert job.speedup > 5
    assert JobLogEntry.objects.filter(job=job, message__startswith="Completed").exists()


def test_a_chunk_of_1000_items_costs_a_bounded_number_of_queries(
    alice, site, burst_worker, django_assert_max_num_queries
):
    urls = [site.url(f"/ok/q{i}") for i in range(1000)]
    job = submit_batch(alice, urls=urls, concurrency=100).job
    with django_assert_max_num_queries(250):
        burst_worker()
    assert refreshed(job).count_succeeded == 1000


def test_items_record_one_attempt_each_and_timings(alice, site, burst_worker):
    job = submit_batch(alice, urls=[site.url(f"/ok/a{i}") for i in range(20)]).job
    burst_worker()
    assert ItemAttempt.objects.filter(item__job=job).count() == 20
    for item in refreshed(job).items.all():
        assert item.started_at <= item.finished_at
        assert item.duration is not None
        assert item.duration >= 0
        assert item.worker


def test_politeness_spaces_requests_to_one_host(alice, site, burst_worker):
    urls = [site.url(f"/ok/polite-{i}") for i in range(5)]
    job = submit_batch(alice, urls=urls, concurrency=5, per_host_limit=1, host_delay=0.2).job
    burst_worker()
    # Five requests 0.2 s apart: the last starts 0.8 s after the first; items finish in that order.
    ends = sorted(refreshed(job).items.values_list("finished_at", flat=True))
    assert (ends[-1] - ends[0]).total_seconds() >= 0.75
