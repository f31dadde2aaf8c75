"""The job page in a real browser against a real daphne and a real worker: it follows a job to
its end without a reload, keeps moving while the sockets are down, and is usable by keyboard."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from jobs.models import ItemStatus, JobLogEntry
from jobs.services import submit_batch
from tests.browser.conftest import WIDTHS, run_worker_burst, screenshot
from tests.browser.test_live_connection import SocketSwitch
from tests.conftest import refreshed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def expect_counts_match_the_database(page, job) -> None:
    job = refreshed(job)
    for status in ItemStatus.values:
        legend = page.locator(f'[data-legend="{status}"] [data-legend-count]')
        expect(legend).to_have_text(f"{job.counts[status]:,}")
    expect(page.locator("[data-done]")).to_have_text(f"{job.done_items:,}")


def test_the_page_follows_a_job_while_sockets_drop_and_come_back(
    login_page, server, alice, browser_site, worker
):
    urls = [browser_site.url(f"/delay/250/{i}") for i in range(100)] + [browser_site.url("/reset")]
    job = submit_batch(alice, urls=urls, concurrency=2, max_attempts=1, processor="title_probe").job
    page = login_page(alice)
    switch = SocketSwitch(page.context)
    page.goto(f"{server}/jobs/{job.pk}")
    indicator = page.locator("#conn")
    expect(indicator).to_have_attribute("data-state", "live")
    expect(page.locator("[data-job-badge] .badge")).to_have_text("Running", timeout=20_000)
    screenshot(page, "job-detail-running")
    # Pausing the log holds new lines back; resuming shows them.
    pause = page.get_by_role("button", name="Pause")
    pause.click()
    expect(page.locator("[data-log-pause]")).to_have_text(re.compile(r"Resume \(\d+ new\)"))
    page.locator("[data-log-pause]").click()
    expect(page.locator("[data-log-pause]")).to_have_text("Pause")

    switch.cut()
    expect(indicator).to_have_attribute("data-state", "reconnecting")
    expect(indicator).to_have_attribute("data-state", "polling", timeout=20_000)
    before = page.locator("[data-done]").inner_text()
    # Polling keeps the numbers moving.
    expect(page.locator("[data-done]")).not_to_have_text(before, timeout=15_000)

    switch.restore()
    expect(indicator).to_have_attribute("data-state", "live", timeout=30_000)
    expect(page.locator("[data-progress-label]")).to_have_text("100 %", timeout=60_000)
    expect(page.locator("[data-job-badge] .badge")).to_have_text("Completed with errors")
    expect_counts_match_the_database(page, job)
    # No gap in the log: every line the job wrote is on the page, once, in order.
    ids = list(JobLogEntry.objects.filter(job=job).order_by("id").values_list("id", flat=True))
    shown = [
        int(i)
        for i in page.locator("[data-log] .log__line").evaluate_all(
            "lines => lines.map(l => l.dataset.id)"
        )
    ]
    assert shown == ids
    assert page.errors == []


def test_the_job_page_by_keyboard_and_at_every_size(login_page, server, alice, browser_site):
    urls = [browser_site.url(p) for p in ("/ok", "/ok/a", "/404", "/status/500", "/reset")]
    job = submit_batch(
        alice, urls=urls, processor="page_audit", max_attempts=1, name="Spring audit"
    ).job
    run_worker_burst()
    for width in WIDTHS.values():
        for scheme in ("light", "dark"):
            page = login_page(alice, width=width, color_scheme=scheme)
            page.goto(f"{server}/jobs/{job.pk}")
            expect(page.locator("#conn")).to_have_attribute("data-state", "live")
            screenshot(page, f"job-detail-{scheme}")
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            assert page.errors == []

    page = login_page(alice)
    page.goto(f"{server}/jobs/{job.pk}")
    # Failures by cause: the tabs answer to the arrow keys and load their grouping.
    page.get_by_role("tab", name="Error code").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="HTTP status")).to_be_focused()
    expect(page.get_by_role("tabpanel")).to_contain_text("HTTP 404")
    # An item row opens with Enter and shows its attempts.
    toggle = page.locator("[data-item-toggle]").nth(2)
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator(".jd-item-detail")).to_contain_text("Attempts")
    # The log filters by level and by text.
    lines = page.locator("[data-log] .log__line:visible")
    expect(lines).to_have_count(JobLogEntry.objects.filter(job=job).count())
    page.get_by_label("Level").select_option("warning")
    expect(lines).to_have_count(3)  # the three failures
    page.get_by_label("Search the log").fill("404")
    expect(lines).to_have_count(1)
    # Retry one group: the job is queued again.
    page.get_by_role("tab", name="Error code").click()
    page.locator('[data-retry-key="HTTP_ERROR"]').click()
    expect(page.locator("#toasts")).to_contain_text("2 items queued again")
    expect(page.locator("[data-job-badge] .badge")).to_have_text(re.compile("Queued|Running"))
    assert page.errors == []


def test_cancel_and_delete_go_through_a_confirmation(login_page, server, alice):
    job = submit_batch(alice, urls=[f"https://example.com/{i}" for i in range(3)]).job
    page = login_page(alice, width=360)
    page.on("response", lambda r: r.status == 404 and print("R404", r.request.method, r.url))
    page.goto(f"{server}/jobs/{job.pk}")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    page.get_by_role("button", name="Cancel", exact=True).click()
    dialog = page.get_by_role("dialog", name="Cancel this job?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Keep running")).to_be_focused()
    page.keyboard.press("Escape")  # keeps it running
    expect(dialog).to_be_hidden()
    assert refreshed(job).status == "queued"

    page.get_by_role("button", name="Cancel", exact=True).click()
    dialog.get_by_role("button", name="Cancel job").click()
    expect(page.locator("[data-job-badge] .badge")).to_have_text("Cancelled")
    expect(page.locator('[data-legend="cancelled"] [data-legend-count]')).to_have_text("3")
    expect(page.get_by_role("button", name="Delete")).to_be_enabled()
    assert page.errors == []

    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog", name="Delete this job?").get_by_role(
        "button", name="Delete job"
    ).click()
    expect(page).to_have_url(f"{server}/jobs")
    assert not type(job).objects.filter(pk=job.pk).exists()
    # A refresh the cancel's last events started may reach the server just after the delete:
    # its 404 is in the console, and nothing else is.
    assert [e for e in page.errors if "status of 404" not in e] == []
