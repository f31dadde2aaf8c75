"""The processors' fixture site: static pages with known answers (tests/fixture_site/)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixture_site.app import FixtureSite


@pytest.fixture(scope="session")
def fixture_site() -> Iterator[FixtureSite]:
    site = FixtureSite().start()
    yield site
    site.stop()
