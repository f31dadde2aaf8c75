"""API keys a user manages on the settings page: create, regenerate, revoke. The raw key is
returned once, by create and regenerate, and never stored (jobs.models.keys keeps its hash)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from jobs import audit
from jobs.models import ApiKey, ApiKeyScope, AuditAction
from jobs.services import ServiceError

MAX_KEYS = 50


def keys_for(user) -> QuerySet[ApiKey]:
    """The user's own keys, live ones first (staff too: keys are personal)."""
    return ApiKey.objects.filter(user=user).order_by("revoked_at", "-created_at")


def get_key_for_user(user, pk) -> ApiKey:
    """The key, or Http404 both when it does not exist and when it is someone else's."""
    try:
        return keys_for(user).get(pk=int(pk))
    except (ApiKey.DoesNotExist, ValueError, TypeError):
        raise Http404("No such API key.") from None


def create_key(user, name: str, scope: str) -> tuple[ApiKey, str]:
    name = (name or "").strip()
    if not name:
        raise ServiceError({"name": ["Give the key a name, e.g. the script that uses it."]})
    if scope not in ApiKeyScope.values:
        raise ServiceError({"scope": [f"One of: {', '.join(ApiKeyScope.values)}."]})
    if keys_for(user).filter(revoked_at__isnull=True).count() >= MAX_KEYS:
        raise ServiceError(
            {"name": [f"You have {MAX_KEYS} live keys; revoke one you no longer use first."]}
        )
    with transaction.atomic():
        key, raw = ApiKey.issue(user, name[:100], scope)
        audit.record(user, AuditAction.KEY_CREATE, key, scope=scope, prefix=key.prefix)
    return key, raw


def regenerate_key(key: ApiKey) -> str:
    """A new value for a live key (same name and scope); the old value answers 401 at once."""
    if key.revoked_at is not None:
        raise ServiceError(
            "This key is revoked; create a new one instead.", status=409, code="revoked"
        )
    with transaction.atomic():
        raw = key.rotate()
        audit.record(key.user, AuditAction.KEY_REGENERATE, key, prefix=key.prefix)
    return raw


def revoke_key(key: ApiKey) -> ApiKey:
    """Revoke a key for good (idempotent)."""
    if key.revoked_at is None:
        with transaction.atomic():
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            audit.record(key.user, AuditAction.KEY_REVOKE, key, prefix=key.prefix)
    return key
