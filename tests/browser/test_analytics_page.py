"""The Analytics page in a real browser against a real daphne: KPIs and charts drawn from the
API, the hosts table, a CSV download, "no data" states for a user with nothing yet, the range
form; screenshots at 1280 and 390 px in both themes."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.analytics.seed import seed_figures
from tests.browser.conftest import WIDTHS, screenshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_the_charts_draw_from_the_api_at_both_widths(login_page, server, alice):
    seed_figures(alice)
    for width in WIDTHS.values():
        for scheme in ("light", "dark"):
            page = login_page(alice, width=width, color_scheme=scheme)
            page.goto(f"{server}/analytics")
            expect(page.locator('[data-kpi="items"]')).to_have_text("120")
            expect(page.locator('[data-kpi="success-rate"]')).to_have_text("90.0 %")
            expect(page.locator('[data-kpi="webhooks"]')).to_have_text("50.0 %")
            for chart in (
                "success_rate",
                "durations",
                "throughput",
                "error_codes",
                "api_times",
                "webhooks",
            ):
                card = page.locator(f'[data-chart-card="{chart}"]')
                expect(card.locator("canvas")).to_be_visible()
                expect(card.locator("[data-chart-empty]")).to_be_hidden()
            expect(
                page.locator('[data-chart-card="queue_depth"] [data-chart-empty]')
            ).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (
                "no sideways scroll"
            )
            screenshot(page, f"analytics-{scheme}")
            assert page.errors == []


def test_a_new_user_sees_what_to_do_and_can_pick_a_range(login_page, server, bob):
    page = login_page(bob, width=WIDTHS["mobile"])
    page.goto(f"{server}/analytics")
    expect(page.locator('[data-kpi="items"]')).to_have_text("0")
    empty = page.locator('[data-chart-card="success_rate"] [data-chart-empty]')
    expect(empty).to_contain_text("Start a batch from New batch")
    expect(page.locator('[data-chart-card="failing_hosts"] [data-chart-empty]')).to_be_visible()
    screenshot(page, "analytics-empty")

    page.locator("#a-range").select_option("7d")
    expect(page).to_have_url(f"{server}/analytics?range=7d&processor=")
    page.locator("#a-range").select_option("custom")
    page.locator("#a-start").fill("2026-01-01")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(f"{server}/analytics?range=custom&start=2026-01-01&end=&processor=")
    expect(page.locator('[data-kpi="items"]')).to_have_text("0")
    with page.expect_download() as download:
        page.locator('[data-csv="jobs_per_day"]').click()
    assert download.value.suggested_filename == "analytics-jobs_per_day-custom.csv"
    assert page.errors == []
