"""Fixtures of the alert tests: the settings tests' webhook receiver and signed-in clients."""

from tests.settings.conftest import alice_client, bob_client, receiver

__all__ = ["alice_client", "bob_client", "receiver"]
