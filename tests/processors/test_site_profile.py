"""site_profile through a real worker against the fixture site: each field against its known answer.

The right answers live next to the pages (tests/fixture_site/company/**/index.expected.json), with
URLs written as paths on the fixture site.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs.models import ItemStatus, JobLogEntry, JobStatus
from jobs.services import submit_batch
from tests.conftest import refreshed
from tests.fixture_site.app import ROOT as FIXTURE_ROOT

pytestmark = pytest.mark.django_db(transaction=True)

COMPANY = FIXTURE_ROOT / "company"
SITES = {
    "/company/": COMPANY / "index.expected.json",
    "/company/minimal/": COMPANY / "minimal" / "index.expected.json",
    "/company/blocked/": COMPANY / "blocked" / "index.expected.json",
    "/company/broken/": COMPANY / "broken" / "index.expected.json",
}
URL_KEYS = frozenset({"final_url", "contact_page", "url", "robots_skipped"})


def expected_result(path: Path, site) -> dict:
    """The expected JSON with the fixture site's paths made absolute URLs."""

    def absolute(value, key=None):
        if isinstance(value, dict):
            return {k: absolute(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [absolute(v, key) for v in value]
        if isinstance(value, str) and value.startswith("/") and key in URL_KEYS:
            return site.url(value)
        return value

    return absolute(json.loads(path.read_text(encoding="utf-8")))


def run_profiles(alice, burst_worker, urls, **fields):
    job = submit_batch(alice, urls=urls, processor="site_profile", max_attempts=1, **fields).job
    burst_worker()
    job = refreshed(job)
    return job, {item.url: item for item in job.items.all()}


def test_every_field_matches_the_known_answer(alice, fixture_site, burst_worker):
    urls = {fixture_site.url(path): answer for path, answer in SITES.items()}
    job, items = run_profiles(alice, burst_worker, list(urls))

    assert job.status == JobStatus.COMPLETED
    for url, answer in urls.items():
        item = items[url]
        assert (item.status, item.error_code, item.http_status) == (ItemStatus.SUCCEEDED, "", 200)
        expected = expected_result(answer, fixture_site)
        assert sorted(item.result) == sorted(expected), url
        for field, value in expected.items():
            assert item.result[field] == value, f"{url}: {field}"


def test_robots_disallowed_contact_page_is_skipped_not_read(alice, fixture_site, burst_worker):
    homepage = fixture_site.url("/company/blocked/")
    job, items = run_profiles(alice, burst_worker, [homepage])
    result = items[homepage].result

    disallowed = fixture_site.url("/company/blocked/kontakt.html")
    assert result["robots_skipped"] == [disallowed]
    assert [page["role"] for page in result["pages"]] == ["homepage"]
    assert "secret@mueller-baeckerei.de" not in result["emails"]
    messages = list(JobLogEntry.objects.filter(job=job).values_list("message", flat=True))
    assert any("robots.txt disallows" in message for message in messages)


def test_a_failing_contact_page_does_not_fail_the_item(alice, fixture_site, burst_worker):
    homepage = fixture_site.url("/company/broken/")
    _, items = run_profiles(alice, burst_worker, [homepage])
    item = items[homepage]

    assert item.status == ItemStatus.SUCCEEDED
    contact = item.result["pages"][1]
    assert (contact["status"], contact["error"]) == (404, "HTTP_ERROR: HTTP 404 Not Found")


def test_default_region_reads_national_numbers(alice, fixture_site, burst_worker):
    homepage = fixture_site.url("/company/minimal/")
    _, items = run_profiles(alice, burst_worker, [homepage], options={"default_region": "de"})
    assert items[homepage].result["phone_region"] == "DE"


def test_hostile_pages_fail_with_the_right_code_or_succeed(alice, fixture_site, burst_worker):
    urls = {
        "binary": fixture_site.url("/binary.html"),  # bytes served as text/html
        "text": fixture_site.url("/notes.txt"),
        "missing": fixture_site.url("/company/nowhere/"),
        "malformed": fixture_site.url("/malformed.html"),
        "hostile": fixture_site.url("/company/hostile/"),
    }
    job, items = run_profiles(alice, burst_worker, list(urls.values()))

    assert job.status == JobStatus.COMPLETED_WITH_ERRORS
    assert job.finished_at is not None
    assert job.count_succeeded + job.count_failed == len(urls)
    failures = {
        key: (items[urls[key]].status, items[urls[key]].error_code)
        for key in ("binary", "text", "missing")
    }
    assert failures == {
        "binary": (ItemStatus.FAILED, "NOT_HTML"),
        "text": (ItemStatus.FAILED, "NOT_HTML"),
        "missing": (ItemStatus.FAILED, "HTTP_ERROR"),
    }
    assert items[urls["missing"]].http_status == 404

    malformed = items[urls["malformed"]]
    assert malformed.status == ItemStatus.SUCCEEDED
    assert malformed.result["name"] == "Broken markup page"
    assert malformed.result["language"] == "en"

    hostile = items[urls["hostile"]]
    assert hostile.status == ItemStatus.SUCCEEDED
    assert hostile.result["emails"] == ["ok@hostile.example"]
    assert (hostile.result["name"], hostile.result["name_source"]) == ("Hostile Page", "title")
    assert hostile.result["address"] is None
    assert hostile.result["contact_page"] is None
