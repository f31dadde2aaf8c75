"""Analytics tests reuse the settings tests' receiver and logged-in clients."""

from tests.settings.conftest import alice_client, bob_client, receiver  # noqa: F401 (fixtures)
