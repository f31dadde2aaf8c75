"""The layout in a real browser: the connection goes Live, the theme toggle persists, the sidebar
folds away on a phone, and "/" jumps to the search box."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import WIDTHS, screenshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_the_connection_indicator_goes_live(login_page, server, alice):
    page = login_page(alice)
    page.goto(f"{server}/")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(page.locator("#conn")).to_have_text("Live")
    assert page.errors == []


def test_the_dark_theme_persists_across_pages(login_page, server, alice):
    page = login_page(alice)
    page.goto(f"{server}/")
    page.get_by_role("button", name="alice").click()
    page.get_by_role("button", name="Dark").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.goto(f"{server}/jobs")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 18, 22)"
    screenshot(page, "layout-dark")


def test_on_a_phone_the_sidebar_opens_from_the_menu_button(login_page, server, alice):
    page = login_page(alice, width=WIDTHS["mobile"])
    page.goto(f"{server}/")
    sidebar = page.locator("#sidebar")
    expect(sidebar.get_by_role("link", name="Jobs")).not_to_be_in_viewport()
    page.get_by_role("button", name="Menu").click()
    expect(sidebar.get_by_role("link", name="Jobs")).to_be_in_viewport()
    page.keyboard.press("Escape")
    page.keyboard.press("/")
    expect(page.locator("#global-search")).to_be_focused()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTHS["mobile"], "nothing overflows sideways on a phone"


def test_logging_in_through_the_form_lands_on_the_dashboard(browser, server, alice):
    context = browser.new_context(viewport={"width": WIDTHS["mobile"], "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{server}/jobs")
        expect(page).to_have_url(f"{server}/accounts/login/?next=/jobs")
        screenshot(page, "login")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_contain_text("enter a correct username and password")
        page.get_by_label("Password").fill("alice-pass-123")
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{server}/jobs")
        page.get_by_role("button", name="alice").click()
        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(f"{server}/accounts/login/")
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/", "/jobs", "/jobs/new", "/api/jobs", "/api/docs/", "/admin/"])
def test_pages_run_under_the_content_security_policy_without_violations(
    login_page, server, staff, path
):
    page = login_page(staff)
    response = page.goto(f"{server}{path}")
    assert response.ok
    assert "default-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_load_state("networkidle")
    assert page.errors == []
