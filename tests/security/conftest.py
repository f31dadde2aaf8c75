"""Fixtures for the security tests: a viewer (the read-only role), the five roles by name, and
the live-event tests' private channel prefix."""

from __future__ import annotations

import pytest

from jobs import roles
from tests.events.conftest import private_channels  # noqa: F401 (the fixture, for WS/SSE tests)

ROLES = ("anonymous", "owner", "other", "viewer", "staff")


@pytest.fixture
def viewer(django_user_model):
    user = django_user_model.objects.create_user("vera", "vera@example.com", "vera-pass-123")
    user.groups.add(roles.viewers_group())
    return user


@pytest.fixture
def as_role(alice, bob, viewer, staff):
    """The user for a role name (None for anonymous); alice is the owner of the jobs under test."""
    users = {"anonymous": None, "owner": alice, "other": bob, "viewer": viewer, "staff": staff}
    return users.__getitem__


def pytest_terminal_summary(terminalreporter) -> None:
    """The hostile inputs the matrix tried (tests/security/test_hostile_input.py), when it ran."""
    from tests.security.test_hostile_input import TRIED

    if TRIED:
        parts = ", ".join(f"{name} {n:,}" for name, n in sorted(TRIED.items()))
        terminalreporter.write_line(f"hostile inputs tried: {sum(TRIED.values()):,} ({parts})")
