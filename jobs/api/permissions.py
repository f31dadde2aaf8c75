"""API permissions: signed in, a read-only key reads only, and a viewer (jobs.roles) reads only."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from jobs import roles
from jobs.models import ApiKey, ApiKeyScope


class ScopedKeyPermission(BasePermission):
    message = "This API key is read-only."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return True
        key = request.auth
        if isinstance(key, ApiKey) and key.scope == ApiKeyScope.READ:
            return False
        if roles.is_viewer(request.user):
            self.message = roles.READ_ONLY_MESSAGE
            return False
        return True
