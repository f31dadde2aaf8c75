"""The API tests' client: alice, signed in."""

import pytest
from rest_framework.test import APIClient

from tests.api.seed import client_for


@pytest.fixture
def api(alice) -> APIClient:
    return client_for(alice)
