"""Settings → API keys: a key is shown once, then only its prefix; regenerating or revoking
asks first; a regenerated-away or revoked key gets 401 from the API; nobody touches another's."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from jobs.models import ApiKey, ApiKeyScope

pytestmark = pytest.mark.django_db


def api_status(raw: str, method: str = "get") -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    if method == "post":
        return client.post(
            "/api/jobs", {"urls": ["https://example.com/"]}, format="json"
        ).status_code
    return client.get("/api/jobs").status_code


def shown_key(html: str) -> str:
    found = re.search(r"<code data-new-secret>(bs_[^<]+)</code>", html)
    assert found, "the new key is on the page"
    return found.group(1)


def test_a_new_key_is_shown_once_then_only_its_prefix(alice_client):
    response = alice_client.post("/settings/keys", {"name": "nightly import", "scope": "full"})
    assert response.status_code == 200
    raw = shown_key(response.content.decode())
    key = ApiKey.objects.get()
    assert key.name == "nightly import"
    assert key.scope == ApiKeyScope.FULL
    assert key.key_hash == ApiKey.hash(raw)
    assert raw not in (key.prefix, key.key_hash)
    later = alice_client.get("/settings").content.decode()
    assert raw not in later
    assert f"{key.prefix}••••••••" in later
    assert "Never" in later  # not used yet
    assert api_status(raw) == 200
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert "Never" not in alice_client.get("/settings").content.decode()


def test_a_key_needs_a_name_and_a_known_scope(alice_client):
    response = alice_client.post("/settings/keys", {"name": " ", "scope": "full"})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    response = alice_client.post("/settings/keys", {"name": "x", "scope": "admin"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not ApiKey.objects.exists()


def test_a_read_only_key_reads_but_cannot_submit(alice_client):
    response = alice_client.post("/settings/keys", {"name": "dashboards", "scope": "read"})
    raw = shown_key(response.content.decode())
    assert api_status(raw) == 200
    assert api_status(raw, "post") == 403


def test_regenerating_asks_first_then_the_old_key_gets_401(alice, alice_client):
    key, old = ApiKey.issue(alice, "ci")
    unconfirmed = alice_client.post(f"/settings/keys/{key.pk}/regenerate")
    assert unconfirmed.status_code == 200
    assert "Regenerate “ci”?" in unconfirmed.content.decode()
    assert api_status(old) == 200, "nothing changed without a confirmation"

    response = alice_client.post(f"/settings/keys/{key.pk}/regenerate", {"confirm": "yes"})
    new = shown_key(response.content.decode())
    assert new != old
    assert api_status(old) == 401
    assert api_status(new) == 200
    key.refresh_from_db()
    assert (key.name, key.prefix) == ("ci", new[:10])


def test_revoking_asks_first_then_the_key_gets_401(alice, alice_client):
    key, raw = ApiKey.issue(alice, "old laptop")
    assert (
        "Revoke “old laptop”?"
        in alice_client.post(f"/settings/keys/{key.pk}/revoke").content.decode()
    )
    assert api_status(raw) == 200
    response = alice_client.post(f"/settings/keys/{key.pk}/revoke", {"confirm": "yes"})
    assert response.status_code == 302
    assert api_status(raw) == 401
    page = alice_client.get("/settings").content.decode()
    assert "Revoked" in page
    assert f"/settings/keys/{key.pk}/regenerate" not in page, "a revoked key cannot be regenerated"
    again = alice_client.post(f"/settings/keys/{key.pk}/regenerate", {"confirm": "yes"})
    assert again.status_code == 302
    assert api_status(raw) == 401


def test_bob_cannot_see_regenerate_or_revoke_alices_keys(alice, bob_client):
    key, raw = ApiKey.issue(alice, "alice's script")
    assert "alice&#x27;s script" not in bob_client.get("/settings").content.decode()
    for action in ("regenerate", "revoke"):
        response = bob_client.post(f"/settings/keys/{key.pk}/{action}", {"confirm": "yes"})
        assert response.status_code == 404
    assert api_status(raw) == 200


def test_the_settings_pages_need_a_login(client, alice):
    key, _ = ApiKey.issue(alice, "k")
    for path in ("/settings", "/settings/webhooks/new"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert client.post(f"/settings/keys/{key.pk}/revoke", {"confirm": "yes"}).status_code == 302
    assert ApiKey.objects.get().revoked_at is None
