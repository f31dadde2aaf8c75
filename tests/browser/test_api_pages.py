"""The API as a person meets it in a browser: the browsable /api/jobs and job pages, their 400s,
and the Swagger UI at /api/docs/, all under the site's Content Security Policy, loading nothing
from anywhere but the site itself."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from jobs.models import ItemStatus, JobStatus
from tests.api.seed import make_job
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_page(login_page, user, server: str, path: str):
    """The page at `path`, with every request it made (`page.requested`)."""
    page = login_page(user)
    page.requested = []
    page.on("request", lambda request: page.requested.append(request.url))
    page.goto(server + path)
    return page


def assert_stayed_home(page, server: str, status: int = 200) -> None:
    origins = {
        urlsplit(url)._replace(path="", query="", fragment="").geturl() for url in page.requested
    }
    assert origins <= {server}, origins
    # A CSP violation is a console error too; a 4xx page logs its own status as one.
    own_status = f"the server responded with a status of {status}"
    assert [error for error in page.errors if own_status not in error] == []


def test_the_browsable_job_list_and_a_job(login_page, server, alice):
    job = make_job(alice, 3, name="Quarterly sites", item_status=ItemStatus.SUCCEEDED)
    make_job(alice, name="Still waiting", status=JobStatus.QUEUED)
    page = open_page(login_page, alice, server, "/api/jobs")
    body = page.locator(".response-info").inner_text()
    assert '"summary"' in body
    assert "Quarterly sites" in body
    # The form to submit a batch starts from an example body.
    assert '"urls"' in page.locator("textarea[name=_content]").input_value()
    assert page.locator(".navbar-brand").get_attribute("href") == "/"
    screenshot(page, "api-jobs")
    assert_stayed_home(page, server)

    page.goto(f"{server}/api/jobs/{job.pk}")
    assert '"sequential_seconds"' in page.locator(".response-info").inner_text()
    screenshot(page, "api-job")
    page.locator(f'a[href$="/api/jobs/{job.pk}/items"]').click()
    page.wait_for_url(f"**/api/jobs/{job.pk}/items")
    assert "site0.example/page/0" in page.locator(".response-info").inner_text()
    assert_stayed_home(page, server)


def test_a_bad_filter_shows_what_each_parameter_accepts(login_page, server, alice):
    page = open_page(login_page, alice, server, "/api/jobs?status=done&limit=ten")
    text = page.locator(".response-info").inner_text()
    assert "400 Bad Request" in text
    assert '"accepts"' in text
    assert "completed" in text
    screenshot(page, "api-jobs-400")
    assert_stayed_home(page, server, status=400)


def test_swagger_ui_lists_every_operation_from_vendored_assets(login_page, server, alice):
    page = open_page(login_page, alice, server, "/api/docs/")
    page.locator(".opblock").first.wait_for()
    operations = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/jobs" in operations
    assert "/api/jobs/{job_id}/items" in operations
    page.locator(".opblock-summary", has_text="/api/jobs").first.click()
    page.locator(".parameters").first.wait_for()
    assert page.get_by_text("sort_by").count() > 0
    screenshot(page, "api-docs")
    assert_stayed_home(page, server)
