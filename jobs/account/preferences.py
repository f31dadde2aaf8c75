"""A user's preferences: the new-batch form's defaults, theme, page size, time zone and
notifications. `preferences_for(user)` is what other pages read; users who never saved any get
the defaults, without a row being written."""

from __future__ import annotations

import contextlib
import logging
import zoneinfo
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.core.cache import cache as django_cache
from django.utils import timezone

from jobs.models import Preferences, Theme

log = logging.getLogger(__name__)

THEME_COOKIE = "theme"
THEME_COOKIE_AGE = 365 * 86400
_LAYOUT_KEY = "prefs:layout:{}"
_LAYOUT_SECONDS = 3600


def preferences_for(user) -> Preferences:
    """The user's preferences, or the defaults (unsaved) when they never changed any."""
    if not (user and user.is_authenticated):
        return Preferences()
    try:
        return user.preferences
    except Preferences.DoesNotExist:
        return Preferences(user=user)


def new_batch_initial(user) -> dict[str, Any]:
    """Initial values for the new-batch form, from the user's preferences."""
    prefs = preferences_for(user)
    return {
        "processor": prefs.default_processor,
        "options": dict(prefs.default_options or {}),
        "priority": prefs.default_priority,
        "concurrency": prefs.default_concurrency,
    }


def save_preferences(user, **fields: Any) -> Preferences:
    """Store validated preferences (jobs.account.forms.PreferencesForm cleans them)."""
    prefs = preferences_for(user)
    for name, value in fields.items():
        setattr(prefs, name, value)
    prefs.updated_at = timezone.now()
    prefs.save()
    user.preferences = prefs
    _forget_layout(user)
    return prefs


def set_theme(user, theme: str) -> Preferences:
    """The layout's theme switch: only the theme changes."""
    if theme not in Theme.values:
        raise ValueError(f"theme is one of {', '.join(Theme.values)}")
    return save_preferences(user, theme=theme)


@cache
def time_zones() -> tuple[str, ...]:
    """Every IANA time zone this machine knows, for the time zone field."""
    return tuple(sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC"))


def zone_of(name: str) -> zoneinfo.ZoneInfo:
    """The named zone; the site's TIME_ZONE for an empty or unknown name."""
    try:
        return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


@dataclass(frozen=True)
class LayoutPreferences:
    """What every request needs of a user's preferences (kept in the cache, see below)."""

    theme: str = Theme.SYSTEM
    time_zone: str = ""
    notify_in_app: bool = True
    page_size: int = 25


def layout_preferences(user) -> LayoutPreferences:
    """The user's layout preferences from the shared cache; the database only on a miss, so
    pages and the API pay no query for them. Redis being down costs a query, not the page."""
    key = _LAYOUT_KEY.format(user.pk)
    try:
        cached = django_cache.get(key)
    except Exception:  # the cache is Redis: down means "ask the database"
        log.warning("preferences cache unavailable", exc_info=True)
        cached = None
    if cached is not None:
        with contextlib.suppress(TypeError):  # a shape cached by an older release: read anew
            return LayoutPreferences(**cached)
    row = (
        Preferences.objects.filter(user_id=user.pk)
        .values("theme", "time_zone", "notify_in_app", "page_size")
        .first()
    )
    found = LayoutPreferences(**row) if row else LayoutPreferences()
    try:
        django_cache.set(key, asdict(found), _LAYOUT_SECONDS)
    except Exception:
        log.warning("preferences cache unavailable", exc_info=True)
    return found


def _forget_layout(user) -> None:
    try:
        django_cache.delete(_LAYOUT_KEY.format(user.pk))
    except Exception:
        log.warning("preferences cache unavailable", exc_info=True)
