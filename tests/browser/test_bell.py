"""The header's bell in a real browser: an alert raised by a real worker bumps its count live and
shows a toast; its panel lists the alert; "Mark all read" clears the count for good."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from jobs.models import Alert
from jobs.services import submit_batch
from tests.browser.conftest import run_worker_burst, screenshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def test_the_bell_counts_an_alert_live_and_marks_it_read(login_page, server, alice, browser_site):
    page = login_page(alice)
    page.goto(f"{server}/")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    count = page.locator("[data-bell-count]")
    expect(count).to_be_hidden()

    submit_batch(alice, urls=[browser_site.url("/ok/bell")], name="<i>bell</i> batch")
    run_worker_burst()
    assert Alert.objects.filter(user=alice).count() == 1
    expect(count).to_have_text("1", timeout=15_000)
    expect(page.locator("#toasts")).to_contain_text("“<i>bell</i> batch” completed")

    page.get_by_role("button", name="Notifications (1 unread)").click()
    panel = page.locator("#notice-panel")
    expect(panel.locator("[data-alert=finished]")).to_contain_text("“<i>bell</i> batch” completed")
    screenshot(page, "bell-panel")
    panel.get_by_role("button", name="Mark all read").click()
    expect(count).to_be_hidden()
    expect(panel.locator(".notice--unread")).to_have_count(0)
    page.reload()
    expect(page.locator("[data-bell-count]")).to_be_hidden()
    assert Alert.objects.get(user=alice).read_at is not None
