"""API keys: shown once, kept as a hash."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiKeyScope(models.TextChoices):
    READ = "read", "Read only"
    FULL = "full", "Full access"


class ApiKey(models.Model):
    """An API key. The key itself is shown once; only its SHA-256 and a short prefix are kept."""

    PREFIX = "bs_"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=8, choices=ApiKeyScope.choices, default=ApiKeyScope.FULL)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def issue(cls, user, name: str, scope: str = ApiKeyScope.FULL) -> tuple[ApiKey, str]:
        """Create a key; returns the row and the raw key, which is never stored."""
        raw = cls._new_raw()
        key = cls.objects.create(
            user=user, name=name, scope=scope, prefix=raw[:10], key_hash=cls.hash(raw)
        )
        return key, raw

    @classmethod
    def _new_raw(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    def rotate(self) -> str:
        """Give this key a new value; the old one stops working at once. Returns the new raw key."""
        raw = self._new_raw()
        self.prefix, self.key_hash = raw[:10], self.hash(raw)
        self.created_at, self.last_used_at = timezone.now(), None
        self.save(update_fields=["prefix", "key_hash", "created_at", "last_used_at"])
        return raw

    @classmethod
    def lookup(cls, raw: str) -> ApiKey | None:
        if not raw or not raw.startswith(cls.PREFIX):
            return None
        return (
            cls.objects.select_related("user")
            .filter(key_hash=cls.hash(raw), revoked_at__isnull=True, user__is_active=True)
            .first()
        )

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
