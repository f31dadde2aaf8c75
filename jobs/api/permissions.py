"""API permissions: signed in, and a read-only key reads only."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from jobs.models import ApiKey, ApiKeyScope


class ScopedKeyPermission(BasePermission):
    message = "This API key is read-only."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        key = request.auth
        if isinstance(key, ApiKey) and key.scope == ApiKeyScope.READ:
            return request.method in SAFE_METHODS
        return True
