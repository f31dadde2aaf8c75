"""API authentication: `Authorization: Bearer <key>` with an ApiKey (session auth is DRF's)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from jobs.account.preferences import layout_preferences, zone_of
from jobs.models import ApiKey

# last_used_at is written at most this often per key, so a busy client costs no write per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class BearerKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        key = ApiKey.lookup(raw.strip())
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        # The key owner's time zone, as PreferencesMiddleware does for sessions (date_range).
        timezone.activate(zone_of(layout_preferences(key.user).time_zone))
        return key.user, key

    def authenticate_header(self, request) -> str:
        return self.keyword
