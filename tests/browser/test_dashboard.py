"""The Dashboard in a real browser against a real daphne and a real worker: its figures, chart,
timeline and worker cards move while a job runs, without a reload; a status opens the job list
filtered by it; screenshots at both widths in both themes."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from jobs.models import JobStatus
from jobs.services import submit_batch
from tests.browser.conftest import WIDTHS, screenshot
from tests.conftest import kill_process_group, refreshed
from tests.seed import rq_worker_fixture, seed_jobs, worker_process  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.mark.slow
def test_the_dashboard_numbers_move_live_while_a_worker_runs_a_job(login_page, server, alice):
    page = login_page(alice)
    page.goto(f"{server}/")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(page.locator('[data-kpi="running"]')).to_have_text("0")
    expect(page.locator('[data-kpi="queue-depth"]')).to_have_text("0")
    page.evaluate("window.__notReloaded = true")

    urls = [f"https://example.com/page/{i}" for i in range(20)]
    job = submit_batch(alice, urls=urls, processor="sleepy", concurrency=2, name="live one").job
    # Submitting publishes an event: the queue depth shows the 20 waiting items.
    expect(page.locator('[data-kpi="queue-depth"]')).to_have_text("20")
    expect(page.locator("#timeline")).to_contain_text("live one submitted")

    worker = worker_process()
    try:
        expect(page.locator('[data-kpi="running"]')).to_have_text("1", timeout=30_000)
        card = page.locator(".worker", has_text="live one")
        expect(card).to_be_visible(timeout=15_000)
        expect(card).to_contain_text("example.com/page/")
        expect(page.locator("#timeline")).to_contain_text("live one completed", timeout=60_000)
    finally:
        kill_process_group(worker)
    assert refreshed(job).status == JobStatus.COMPLETED
    expect(page.locator('[data-kpi="running"]')).to_have_text("0")
    expect(page.locator('[data-kpi="success-rate"]')).to_have_text("100.0 %")
    expect(page.locator('#status-legend a[data-status="completed"] [data-count]')).to_have_text("1")
    assert page.evaluate("window.__notReloaded") is True, "the page was never reloaded"
    assert page.errors == []


def test_clicking_a_status_opens_the_job_list_filtered_by_it(login_page, server, alice):
    seed_jobs(alice)
    page = login_page(alice)
    page.goto(f"{server}/")
    page.locator('#status-legend a[data-status="failed"]').click()
    expect(page).to_have_url(f"{server}/jobs?status=failed")
    expect(page.locator("tr[data-job-id]")).to_have_count(2)
    failed_tab = page.get_by_role("navigation", name="Status").get_by_role("link", name="Failed")
    expect(failed_tab).to_have_attribute("aria-current", "page")

    page.go_back()
    canvas = page.locator("#status-chart")
    expect(canvas).to_be_visible()
    page.wait_for_function("window.Chart?.getChart(document.getElementById('status-chart'))")
    # The doughnut's slices are links too: click the middle of "completed".
    x, y = page.evaluate(
        """() => {
          const chart = Chart.getChart(document.getElementById("status-chart"));
          const arc = chart.getDatasetMeta(0).data[chart.$statuses.indexOf("completed")];
          const p = arc.tooltipPosition();
          return [p.x, p.y];
        }"""
    )
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    expect(page).to_have_url(f"{server}/jobs?status=completed")


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [WIDTHS["desktop"], WIDTHS["mobile"], 360])
def test_the_dashboard_fits_the_screen_in_both_themes(
    login_page, server, staff, rq_worker, width, scheme
):
    seed_jobs(staff, runner_worker=rq_worker.name)
    page = login_page(staff, width=width, color_scheme=scheme)
    page.goto(f"{server}/")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(page.locator(".worker")).to_have_count(1)
    page.wait_for_function("document.getElementById('status-chart').width > 0")
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "nothing overflows"
    if width != 360:
        screenshot(page, f"dashboard-{scheme}")
    assert page.errors == []
