"""live.js against a real daphne: when the sockets are cut the indicator says so and the page
falls back to polling; when they come back it is Live again."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


class SocketSwitch:
    """Routes the page's WebSockets through Playwright: passed to the server while on, closed
    (as a dropped connection would be) while off."""

    def __init__(self, context):
        self.on = True
        self.open = []
        context.route_web_socket("**/ws/**", self.route)

    def route(self, ws) -> None:
        if not self.on:
            ws.close(code=1011, reason="cut by the test")
            return
        ws.connect_to_server()
        self.open.append(ws)

    def cut(self) -> None:
        self.on = False
        for ws in self.open:
            ws.close(code=1011, reason="cut by the test")
        self.open.clear()

    def restore(self) -> None:
        self.on = True


def test_cut_sockets_go_reconnecting_then_polling_and_back_to_live(login_page, server, alice):
    page = login_page(alice)
    switch = SocketSwitch(page.context)
    page.goto(f"{server}/")
    indicator = page.locator("#conn")
    expect(indicator).to_have_attribute("data-state", "live")

    switch.cut()
    expect(indicator).to_have_attribute("data-state", "reconnecting")
    expect(indicator).to_have_attribute("data-state", "polling", timeout=20_000)
    expect(indicator).to_have_text("Polling")

    switch.restore()
    expect(indicator).to_have_attribute("data-state", "live", timeout=30_000)
    expect(page.locator("[data-conn-detail]")).to_have_text("")
