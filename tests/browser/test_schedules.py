"""Schedules in a real browser: made from the New batch page, listed with next run and last
run, paused and resumed from the list, the detail's "what changed"; screenshots at both widths."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from jobs.models import BatchJob, ItemStatus, JobItem, JobStatus, Schedule
from tests.browser.conftest import WIDTHS, screenshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def finished_run(schedule, codes: dict[str, int]) -> BatchJob:
    job = BatchJob.objects.create(
        owner=schedule.owner, schedule=schedule, status=JobStatus.COMPLETED, total_items=len(codes)
    )
    JobItem.objects.bulk_create(
        JobItem(job=job, position=i, url=url, status=ItemStatus.SUCCEEDED, http_status=code)
        for i, (url, code) in enumerate(codes.items())
    )
    return job


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_make_a_schedule_then_pause_resume_and_read_what_changed(login_page, server, alice, width):
    page = login_page(alice, width=width)
    page.goto(f"{server}/jobs/new")
    page.get_by_role("textbox", name="URLs").fill("https://shop.example\nhttps://blog.example\n")
    page.get_by_role("textbox", name="Name", exact=True).fill("Hourly availability")
    page.get_by_label("Every N minutes or hours").check()
    page.get_by_role("textbox", name="Every", exact=True).fill("1h")
    page.get_by_role("button", name="Submit batch").click()
    expect(page).to_have_url(re.compile(r"/schedules/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", name="Hourly availability")).to_be_visible()
    expect(page.get_by_text("Shown once two runs have finished.")).to_be_visible()
    schedule = Schedule.objects.get()
    assert (schedule.kind, schedule.interval_minutes) == ("interval", 60)

    finished_run(schedule, {"https://shop.example/": 200, "https://blog.example/": 503})
    finished_run(schedule, {"https://shop.example/": 500, "https://blog.example/": 200})
    page.reload()
    changes = page.locator("[data-changes]")
    expect(changes.locator("[data-newly-failing]")).to_have_text("1")
    expect(changes.locator("[data-recovered]")).to_have_text("1")
    expect(changes.locator('tr[data-change="newly_failing"]')).to_contain_text("HTTP 500")
    expect(page.locator("[data-runs] tbody tr")).to_have_count(2)
    screenshot(page, "schedule-detail")

    if width > 900:  # the sidebar (on phones it is behind the menu button)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Schedules").click()
    else:
        page.goto(f"{server}/schedules")
    row = page.locator(f'tr[data-schedule-id="{schedule.pk}"]')
    expect(row).to_contain_text("every 1 hour")
    expect(row.locator("[data-last-run]")).to_contain_text("Completed")
    row.get_by_role("button", name="Pause Hourly availability").click()
    expect(row.locator("[data-next-run]")).to_contain_text("Paused")
    assert Schedule.objects.get().paused is True
    screenshot(page, "schedule-list")
    row.get_by_role("button", name="Resume Hourly availability").click()
    expect(row.locator("[data-next-run] time")).to_be_visible()
    assert Schedule.objects.get().paused is False
    assert page.errors == []
