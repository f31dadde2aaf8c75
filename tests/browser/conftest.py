"""Browser tests: Playwright driving Debian's Chromium headless against a real daphne (the same
server fixture as the live-event tests) and real workers.

Without a Chromium on the machine the tests skip and say how to get one. Playwright's own
browser download does not work here, so the browser is the `chromium` on PATH.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import ROOT, kill_process_group, start_worker_process
from tests.events.conftest import (  # noqa: F401 (fixtures)
    CHANNEL_PREFIX,
    PLUGINS,
    daphne_server,
    private_channels,
)
from tests.site import LocalSite

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = ROOT / "var" / "screenshots"
WIDTHS = {"desktop": 1280, "mobile": 390}


def chromium_path() -> str | None:
    return (
        os.environ.get("BATCHSITE_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )


@pytest.fixture(scope="session")
def browser() -> Iterator:
    path = chromium_path()
    if not path:
        pytest.skip(
            "browser tests need Chromium: apt-get update && apt-get install -y chromium "
            "(or set BATCHSITE_CHROMIUM to a Chromium binary)"
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in the test's thread for as long as the browser
    # lives; the ORM calls the tests make between browser steps are still plain synchronous calls
    # on that thread. Set only while the browser is open (tests/conftest.py runs browser tests
    # last), so no other test, and no subprocess, inherits it.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def server(daphne_server) -> str:  # noqa: F811 (the imported fixture)
    return f"http://{daphne_server}"


@pytest.fixture
def login_page(browser, server) -> Iterator[Callable]:
    """`login_page(user, width=1280, color_scheme="light")` → a Playwright page already logged
    in as `user` (a real session, made by Django's test client), console errors collected in
    `page.errors`. Every page and context it made is closed after the test."""
    contexts = []

    def make(user, *, width: int = WIDTHS["desktop"], color_scheme: str = "light"):
        client = Client()
        client.force_login(user)
        context = browser.new_context(
            viewport={"width": width, "height": 900}, color_scheme=color_scheme
        )
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": server,
                }
            ]
        )
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on(
            "console",
            lambda message: message.type == "error" and page.errors.append(message.text),
        )
        page.set_default_timeout(15_000)
        return page

    yield make
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as var/screenshots/<name>-<width>.png (a test artifact)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{page.viewport_size['width']}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# Playwright's event loop runs in the test thread, so what would run asyncio there (the in-thread
# local site, a burst worker in the test's thread) runs in a process of its own instead.


@pytest.fixture(scope="session")
def browser_site() -> Iterator[LocalSite]:
    """The local site (tests/site.py) in a subprocess."""
    local = LocalSite(in_process=False).start()
    yield local
    local.stop()


# Workers publish on the daphne's channel prefix, with the test processors registered.
WORKER_ENV = {
    "DJANGO_SETTINGS_MODULE": "tests.events.daphne_settings",
    "BATCHSITE_TEST_CHANNEL_PREFIX": CHANNEL_PREFIX,
    "BATCHSITE_PROCESSORS": ",".join(PLUGINS),
}


@pytest.fixture
def worker() -> Iterator:
    """A real `manage.py rqworker` process, listening for the whole test."""
    proc = start_worker_process(**WORKER_ENV)
    yield proc
    kill_process_group(proc)


def run_worker_burst(timeout: float = 60) -> None:
    """Run every queued runner in a `manage.py rqworker --burst` process, and wait for it."""
    proc = start_worker_process("--burst", **WORKER_ENV)
    try:
        proc.wait(timeout=timeout)
    finally:
        kill_process_group(proc)
