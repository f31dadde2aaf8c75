"""Production settings pass Django's deployment checks, and every response carries the security
headers."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, subprocess_env


def test_check_deploy_is_clean_with_production_settings():
    env = subprocess_env(
        DJANGO_HTTPS="1",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="x" * 20 + "a-long-random-production-secret-key-0123456789",
        DJANGO_ALLOWED_HOSTS="batch.example.com",
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.django_db
def test_pages_send_the_security_headers(client, alice):
    client.force_login(alice)
    response = client.get("/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "script-src 'self';" in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_the_session_cookie_is_http_only_and_same_site(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "alice-pass-123"})
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"


@pytest.mark.django_db
def test_five_wrong_passwords_lock_that_username_out_for_a_while(client, alice, bob):
    for _ in range(5):
        response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    right = client.post("/accounts/login/", {"username": "alice", "password": "alice-pass-123"})
    assert right.status_code == 429, "the right password does not lift the lockout early"
    other = client.post("/accounts/login/", {"username": "bob", "password": "bob-pass-123"})
    assert other.status_code == 302, "another user from the same address still logs in"
