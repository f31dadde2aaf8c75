"""What every page's layout needs: the theme, the product version, whether the user may only
look (a viewer: pages leave out the buttons that change things)."""

from __future__ import annotations

import functools
import tomllib
from importlib import metadata

from django.conf import settings
from django.http import HttpRequest

from jobs.roles import is_viewer

THEMES = ("light", "dark", "system")


def _version() -> str:
    try:
        return metadata.version("batchsite")
    except metadata.PackageNotFoundError:  # run from the checkout (uv does not install the project)
        with open(settings.BASE_DIR / "pyproject.toml", "rb") as f:
            return tomllib.load(f)["project"]["version"]


VERSION = _version()


def layout(request: HttpRequest) -> dict:
    theme = request.COOKIES.get("theme", "system")
    return {
        "theme": theme if theme in THEMES else "system",
        "version": VERSION,
        # Called by the template only where a page asks (one cached query for non-staff users).
        "read_only": lambda: is_viewer(getattr(request, "user", None)),
        "unread_alerts": functools.partial(_unread_alerts, request),  # read when shown
    }


def _unread_alerts(request: HttpRequest) -> int:
    """The bell's count: 0 for anonymous users and for those who turned in-app notices off."""
    user = getattr(request, "user", None)
    prefs = getattr(request, "layout_preferences", None)
    if user is None or not user.is_authenticated or (prefs and not prefs.notify_in_app):
        return 0
    from jobs.alerts import unread_count

    return unread_count(user)
