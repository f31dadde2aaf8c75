"""New batch in a real browser: type or upload URLs, watch the check, submit, land on the job's
page and watch it reach 100 % without a reload, its counts matching the database."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from jobs.models import BatchJob
from tests.browser.conftest import WIDTHS, screenshot
from tests.browser.test_job_detail import expect_counts_match_the_database

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def follow_to_the_end(page, server) -> BatchJob:
    expect(page).to_have_url(re.compile(rf"{server}/jobs/[0-9a-f-]{{36}}$"))
    job = BatchJob.objects.get()
    assert page.url == f"{server}/jobs/{job.pk}"
    expect(page.locator("[data-progress-label]")).to_have_text("100 %", timeout=60_000)
    expect(page.locator("[data-job-badge] .badge")).to_have_text("Completed")
    expect_counts_match_the_database(page, job)
    return job


def test_submit_pasted_urls_and_follow_the_job_to_the_end(
    login_page, server, alice, browser_site, worker
):
    page = login_page(alice)
    page.goto(f"{server}/jobs/new")
    urls = [browser_site.url(f"/delay/100/{i}") for i in range(30)]
    box = page.get_by_role("textbox", name="URLs")
    box.fill("\n".join([*urls, urls[0], "not a url"]))
    preview = page.locator("#preview")
    expect(preview.locator("[data-valid]")).to_have_text("30")
    expect(preview.locator("[data-duplicates]")).to_have_text("1")
    expect(preview.locator("[data-rejected]")).to_have_text("3")  # "not", "a", "url"
    expect(preview).to_contain_text("host needs a dot")
    page.get_by_label("Name", exact=True).fill("Pasted")
    page.get_by_label("Concurrency").fill("5")
    page.get_by_role("button", name="Submit batch").click()

    job = follow_to_the_end(page, server)
    assert (job.name, job.concurrency, job.total_items) == ("Pasted", 5, 30)
    expect(page.locator(".messages")).to_contain_text("Submitted 30 URLs, 1 duplicate dropped")
    assert page.errors == []


def test_upload_a_csv_by_keyboard_and_follow_the_job(
    login_page, server, alice, browser_site, worker, tmp_path
):
    csv = tmp_path / "sites.csv"
    rows = [f"Site {i},{browser_site.url(f'/ok/{i}')}" for i in range(12)]
    csv.write_text("name,website\n" + "\n".join(rows) + "\n")
    page = login_page(alice)
    page.goto(f"{server}/jobs/new")
    page.get_by_label("Or upload a CSV or TXT file").set_input_files(str(csv))
    expect(page.locator("#preview [data-valid]")).to_have_text("12")
    expect(page.get_by_role("button", name="Remove file")).to_be_visible()
    # The processor's options follow the choice; then submit from the keyboard.
    page.get_by_label("Processor").select_option("page_audit")
    expect(page.get_by_label("Strategy")).to_be_visible()
    page.get_by_label("Strategy").select_option("desktop")
    page.get_by_label("Max attempts").focus()
    page.keyboard.type("1")  # appended to "3": 31 is refused, and said so on the field
    page.keyboard.press("Enter")
    expect(page.locator(".field--error")).to_contain_text("less than or equal to 10")
    expect(page.locator(".nb-file")).to_contain_text("Choose the file again")
    # The refused form comes back as a 400, which Chromium notes in the console; nothing else.
    assert [e for e in page.errors if "status of 400" not in e] == []
    page.errors.clear()
    page.get_by_label("Or upload a CSV or TXT file").set_input_files(str(csv))
    page.get_by_label("Max attempts").fill("2")
    page.get_by_label("Max attempts").press("Enter")

    job = follow_to_the_end(page, server)
    assert (job.processor, job.options, job.max_attempts) == (
        "page_audit",
        {"strategy": "desktop"},
        2,
    )
    assert page.errors == []


def test_the_new_batch_page_at_every_size(login_page, server, alice):
    for width in (*WIDTHS.values(), 360):
        for scheme in ("light", "dark"):
            page = login_page(alice, width=width, color_scheme=scheme)
            page.goto(f"{server}/jobs/new")
            page.get_by_role("textbox", name="URLs").fill(
                "example.com\nexample.com\nftp://example.org\n"
            )
            expect(page.locator("#preview [data-rejected]")).to_have_text("1")
            screenshot(page, f"job-new-{scheme}")
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            assert page.errors == []
