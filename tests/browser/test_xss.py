"""Markup in what users and fetched pages give us is shown as text, never run: a page titled
`<script>alert(1)</script>` (tests/fixture_site/xss-title.html, with an `<img onerror>` in its
body), processed by page_audit, and a job named with markup, on the job page, its items and an
item's result, the Jobs list and the dashboard, in a real Chromium, live over the WebSocket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from jobs.models import JobItem, JobStatus
from jobs.services import submit_batch
from tests.browser.conftest import run_worker_burst
from tests.conftest import refreshed
from tests.fixture_site.app import FixtureSite

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

NAME = '<img src=x onerror="alert(5)"><script>alert(6)</script>'
TITLE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def hostile_site() -> Iterator[FixtureSite]:
    site = FixtureSite(in_process=False).start()
    yield site
    site.stop()


def watch(page) -> list[str]:
    """Every dialog a script opens (alert, confirm): none may."""
    opened: list[str] = []

    def dismiss(dialog) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return opened


def assert_inert(page, dialogs: list[str]) -> None:
    assert dialogs == []
    assert page.locator('img[src="x"]').count() == 0
    scripts = page.locator("script").evaluate_all("els => els.map(e => e.textContent)")
    assert not [text for text in scripts if "alert(" in text]
    assert not [e for e in page.errors if "Content Security Policy" in e], page.errors


def test_markup_in_names_urls_and_fetched_titles_never_runs(
    login_page, server, alice, hostile_site
):
    urls = [
        hostile_site.url("/xss-title.html"),
        hostile_site.url("/xss-title.html") + "?q=%3Cscript%3Ealert(7)%3C/script%3E",
    ]
    job = submit_batch(alice, urls=urls, name=NAME, processor="page_audit", max_attempts=1).job
    page = login_page(alice)
    dialogs = watch(page)
    page.goto(f"{server}/jobs/{job.pk}")
    expect(page.locator("h1")).to_contain_text(NAME)  # shown as the text it is
    run_worker_burst()  # the page follows it live: rows and log lines arrive over the socket
    assert refreshed(job).status == JobStatus.COMPLETED
    expect(page.locator("[data-job-badge] .badge")).to_have_text("Completed", timeout=30_000)
    assert_inert(page, dialogs)

    item = JobItem.objects.filter(job=job).order_by("position").first()
    assert item.result["title"]["text"] == TITLE
    page.goto(f"{server}/jobs/{job.pk}/items/{item.pk}")  # an item's result, as the row expands
    expect(page.locator("body")).to_contain_text(TITLE)
    assert_inert(page, dialogs)

    for path in (f"/jobs/{job.pk}", "/jobs", "/jobs?search=%3Cimg", "/"):
        page.goto(server + path)
        expect(page.locator("body")).to_contain_text(NAME if path != "/" else "Dashboard")
        page.wait_for_load_state("networkidle")
        assert_inert(page, dialogs)
