"""The Jobs page in a real browser: filters, sorting and paging put their state in the URL and the
back button walks it back; bulk-cancel everything matching a filter after being told how many;
rows in view follow their jobs live; screenshots at both widths in both themes."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from jobs.models import BatchJob, JobStatus
from jobs.services import submit_batch
from tests.browser.conftest import WIDTHS, screenshot
from tests.conftest import kill_process_group, refreshed
from tests.seed import seed_jobs, worker_process

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def rows(page):
    return page.locator("tr[data-job-id]")


def make_jobs(owner, n: int, **fields) -> None:
    BatchJob.objects.bulk_create(
        BatchJob(owner=owner, name=f"job {i:02d}", total_items=i, **fields) for i in range(n)
    )


def test_filters_sorting_and_pages_live_in_the_url_and_the_back_button_works(
    login_page, server, alice
):
    make_jobs(alice, 14, status=JobStatus.FAILED, priority=8)
    make_jobs(alice, 6, status=JobStatus.COMPLETED, priority=2)
    page = login_page(alice)
    page.goto(f"{server}/jobs")
    expect(rows(page)).to_have_count(20)

    page.get_by_role("link", name=re.compile(r"^Failed")).click()
    expect(page).to_have_url(f"{server}/jobs?status=failed")
    expect(rows(page)).to_have_count(14)
    page.get_by_label("Priority").select_option("low")
    expect(page).to_have_url(f"{server}/jobs?status=failed&priority=low")
    expect(page.get_by_text("No job matches these filters")).to_be_visible()
    page.go_back()
    expect(page).to_have_url(f"{server}/jobs?status=failed")
    expect(page.get_by_label("Priority")).to_have_value("")

    page.get_by_role("link", name="Items").click()
    expect(page).to_have_url(f"{server}/jobs?status=failed&sort_by=total_items&sort_order=desc")
    expect(rows(page).first).to_contain_text("job 13")
    page.get_by_role("link", name="Items").click()
    expect(page.get_by_role("columnheader", name="Items")).to_have_attribute(
        "aria-sort", "ascending"
    )
    expect(rows(page).first).to_contain_text("job 00")

    page.get_by_label("Rows").select_option("10")
    expect(page).to_have_url(re.compile(r"limit=10"))
    expect(rows(page)).to_have_count(10)
    page.get_by_role("link", name="Next").click()
    expect(page).to_have_url(re.compile(r"limit=10&page=2$"))
    expect(rows(page)).to_have_count(4)
    expect(rows(page).first).to_contain_text("job 10")
    page.get_by_label("Page", exact=True).fill("1")
    page.get_by_label("Page", exact=True).press("Enter")
    expect(page).to_have_url(re.compile(r"page=1$"))

    page.go_back()
    expect(page).to_have_url(re.compile(r"page=2$"))
    expect(rows(page)).to_have_count(4)
    page.go_back()
    page.go_back()
    expect(page).to_have_url(re.compile(r"sort_order=asc$"))
    expect(rows(page)).to_have_count(14)
    assert page.errors == []


def test_bulk_cancel_everything_matching_a_filter_after_seeing_how_many(
    login_page, server, alice, bob
):
    urls = ["https://example.com/a", "https://example.com/b"]
    urgent = [submit_batch(alice, urls=urls, priority="urgent").job for _ in range(12)]
    low = [submit_batch(alice, urls=urls, priority="low").job for _ in range(3)]
    bobs = submit_batch(bob, urls=urls, priority="urgent").job
    page = login_page(alice)
    page.goto(f"{server}/jobs?priority=urgent&limit=10")
    expect(rows(page)).to_have_count(10)
    bar = page.locator("[data-bulkbar]")
    expect(bar).to_be_hidden()

    page.get_by_label("Select every job on this page").check()
    expect(bar).to_contain_text("10 selected")
    page.get_by_role("button", name="Select all 12 matching").click()
    expect(bar).to_contain_text("All 12 jobs matching this filter are selected")

    page.get_by_role("button", name="Cancel jobs").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Cancel 12 jobs?")
    page.keyboard.press("Escape")  # changed my mind: nothing happens
    expect(dialog).to_be_hidden()
    assert {refreshed(job).status for job in urgent} == {JobStatus.QUEUED}

    page.get_by_role("button", name="Cancel jobs").click()
    dialog.get_by_role("button", name="Cancel 12 jobs").click()
    expect(page.get_by_role("status").filter(has_text="Cancelled 12 jobs.")).to_be_visible()
    expect(page).to_have_url(f"{server}/jobs?priority=urgent&limit=10")
    assert {refreshed(job).status for job in urgent} == {JobStatus.CANCELLED}
    assert {refreshed(job).status for job in low} == {JobStatus.QUEUED}
    assert refreshed(bobs).status == JobStatus.QUEUED
    expect(rows(page).first.locator('[data-cell="status"]')).to_have_text("Cancelled")
    assert page.errors == []


@pytest.mark.slow
def test_rows_in_view_follow_their_jobs_live(login_page, server, alice):
    urls = [f"https://example.com/item/{i}" for i in range(8)]
    job = submit_batch(alice, urls=urls, processor="sleepy", concurrency=2, name="watched").job
    page = login_page(alice)
    page.goto(f"{server}/jobs")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    row = page.locator(f'tr[data-job-id="{job.pk}"]')
    expect(row.locator('[data-cell="status"]')).to_have_text("Queued")
    expect(row.locator('[data-action="cancel"]')).to_be_visible()
    worker = worker_process()
    try:
        expect(row.locator('[data-cell="status"]')).to_have_text("Completed", timeout=60_000)
    finally:
        kill_process_group(worker)
    expect(row.locator('[data-cell="percent"]')).to_have_text("100 %")
    expect(row.locator('[data-action="cancel"]')).to_be_hidden()
    assert refreshed(job).status == JobStatus.COMPLETED
    assert page.errors == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [WIDTHS["desktop"], WIDTHS["mobile"], 360])
def test_the_job_list_fits_the_screen_in_both_themes(login_page, server, staff, width, scheme):
    seed_jobs(staff)
    page = login_page(staff, width=width, color_scheme=scheme)
    page.goto(f"{server}/jobs?sort_by=created_at")
    expect(rows(page)).to_have_count(8)
    rows(page).nth(1).locator("input[data-select]").check()
    expect(page.locator("[data-bulkbar]")).to_contain_text("1 selected")
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "nothing overflows"
    if width != 360:
        screenshot(page, f"jobs-{scheme}")
    assert page.errors == []


def test_filters_work_from_the_keyboard_without_jumping_at_every_arrow_key(
    login_page, server, alice
):
    make_jobs(alice, 3, status=JobStatus.FAILED, priority=2)
    page = login_page(alice)
    page.goto(f"{server}/jobs")
    page.get_by_label("Priority").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("Priority")).to_have_value("normal")
    assert page.url == f"{server}/jobs", "arrowing through the options does not navigate"
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{server}/jobs?priority=low")
    expect(rows(page)).to_have_count(3)
    page.get_by_label("Processor").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    expect(page).to_have_url(f"{server}/jobs?priority=low&processor=http_check")
