"""The browser fixtures (tests/browser/conftest.py) for the settings pages' browser tests."""

from tests.browser.conftest import browser, login_page, server  # noqa: F401 (fixtures)
from tests.events.conftest import daphne_server, private_channels  # noqa: F401 (fixtures)
