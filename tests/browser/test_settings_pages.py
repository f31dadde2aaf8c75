"""The settings pages in headless Chromium: a key is created and copied, regenerating asks in a
dialog, the theme switch saves the preference, a webhook's delivery log fills in; screenshots at
1280 and 390 px under var/screenshots/, with no console or CSP error and nothing wider than a
phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from jobs.account import notify
from jobs.models import (
    BatchJob,
    DeliveryStatus,
    JobStatus,
    Preferences,
    Quota,
    WebhookDelivery,
)
from tests.browser.conftest import WIDTHS, screenshot
from tests.settings.receiver import Receiver
from tests.settings.workers import work_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_create_copy_and_regenerate_a_key(login_page, server, alice):
    page = login_page(alice)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page.goto(f"{server}/settings")
    page.get_by_label("Name", exact=True).fill("nightly import")
    page.get_by_role("button", name="Create key").click()
    key = page.locator("[data-new-secret]")
    expect(key).to_contain_text("bs_")
    raw = key.inner_text()
    page.locator(".once").get_by_role("button", name="Copy").click()
    expect(page.locator("#toasts")).to_contain_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == raw

    page.locator("tr[data-key-id]").get_by_role("button", name="Regenerate").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Regenerate “nightly import”?")
    screenshot(page, "settings-confirm")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    page.locator("tr[data-key-id]").get_by_role("button", name="Regenerate").click()
    dialog.get_by_role("button", name="Regenerate").click()
    expect(page.locator("[data-new-secret]")).not_to_have_text(raw)
    assert page.locator("[data-new-secret]").inner_text().startswith("bs_")
    assert page.errors == []


def test_the_theme_switch_saves_the_preference(login_page, server, alice):
    page = login_page(alice)
    page.goto(f"{server}/settings")
    with page.expect_response(f"{server}/settings/theme"):
        page.get_by_role("button", name="alice").click()
        page.get_by_role("button", name="Dark").click()
    assert Preferences.objects.get(user=alice).theme == "dark"
    page.reload()
    expect(page.get_by_label("Dark")).to_be_checked()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert page.errors == []


@pytest.mark.parametrize("width", WIDTHS.values())
def test_the_settings_page_at_desktop_and_phone_width(login_page, server, alice, width):
    with Receiver() as receiver:
        settings_pages_at(login_page, server, alice, receiver, width)


def settings_pages_at(login_page, server, alice, receiver, width) -> None:
    Quota.objects.create(user=alice, max_running_jobs=5, jobs_per_hour=20, max_urls_per_batch=1000)
    BatchJob.objects.create(owner=alice, status=JobStatus.RUNNING, total_items=3)
    page = login_page(alice, width=width)
    page.goto(f"{server}/settings")
    page.get_by_label("Name", exact=True).fill("dashboards")
    page.get_by_label("Scope").select_option("read")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("[data-new-secret]")).to_be_visible()

    page.get_by_role("link", name="Add webhook").click()
    page.get_by_label("Payload URL").fill(receiver.url("/hooks/batchsite"))
    page.get_by_label("Description").fill("Ops channel")
    page.get_by_label("Alert").check()
    page.get_by_label("First retry after (s)").fill("1")
    page.get_by_role("button", name="Add webhook").click()
    expect(page.locator("[data-new-secret]")).to_contain_text("whsec_")
    receiver.fail("/hooks/batchsite", times=1)
    notify.notify_alert(alice, "Failure rate", "Over half of the last hour's items failed.")
    work_until(
        lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).exists(),
        timeout=30,
    )
    page.get_by_role("button", name="Send test").click()
    work_until(lambda: WebhookDelivery.objects.filter(event="test", status="succeeded").exists())
    page.goto(page.url.split("#")[0])
    expect(page.locator("tr[data-attempt]")).to_have_count(3)
    screenshot(page, "settings-webhook")
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.goto(f"{server}/settings")
    expect(page.locator(".usage")).to_have_count(3)
    screenshot(page, "settings")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.goto(f"{server}/settings#preferences")
    page.get_by_label("Rows per page").select_option("50")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("Preferences saved.")).to_be_visible()
    assert Preferences.objects.get(user=alice).page_size == 50
    assert page.errors == []
