"""Roles, in Django's own terms.

- An owner sees and acts on their own jobs.
- Staff (`is_staff`) see and act on every job.
- Viewers — members of the "viewers" group, which holds the `jobs.view_all_jobs` permission
  (created by migration 0008; give it to any group or user in the admin) — see every job and
  act on none: no submit, cancel, retry or delete, not even on jobs they once owned.

jobs.access applies these to querysets and single jobs; pages, API, WebSocket and SSE all go
through it.
"""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.db.models import Q

VIEWERS_GROUP = "viewers"
VIEW_ALL_PERMISSION = "view_all_jobs"
VIEW_ALL = f"jobs.{VIEW_ALL_PERMISSION}"
READ_ONLY_MESSAGE = "Your account is read-only (viewer): it can look at jobs but not change them."


def is_signed_in(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def is_staff(user) -> bool:
    return is_signed_in(user) and bool(user.is_staff or user.is_superuser)


def is_viewer(user) -> bool:
    """Holds the view-all permission without being staff: looks, never touches."""
    if not is_signed_in(user) or user.is_staff or user.is_superuser:
        return False
    cached = getattr(user, "_batchsite_viewer", None)
    if cached is None:
        # One query, kept on the user object for the request (ModelBackend.has_perm would load
        # every permission of the user and their groups: two queries).
        cached = (
            Permission.objects.filter(Q(user=user) | Q(group__user=user))
            .filter(content_type__app_label="jobs", codename=VIEW_ALL_PERMISSION)
            .exists()
        )
        user._batchsite_viewer = cached
    return cached


def sees_all(user) -> bool:
    return is_staff(user) or is_viewer(user)


def may_act(user) -> bool:
    """May change anything at all (submit, cancel, retry, delete): signed in and no viewer."""
    return is_signed_in(user) and not is_viewer(user)


def viewers_group():
    """The "viewers" group with its permission (made by migration 0008; made again here when a
    test database was flushed, or for `manage.py shell` users)."""
    from django.contrib.auth.models import Group
    from django.contrib.contenttypes.models import ContentType

    from jobs.models import BatchJob

    permission, _ = Permission.objects.get_or_create(
        content_type=ContentType.objects.get_for_model(BatchJob),
        codename=VIEW_ALL_PERMISSION,
        defaults={"name": "Can view every user's jobs (read-only)"},
    )
    group, _ = Group.objects.get_or_create(name=VIEWERS_GROUP)
    group.permissions.add(permission)
    return group
