"""Per request, for a signed-in user: their time zone (dates on pages, the API's date_range) and
their theme, so the layout's theme cookie follows them to a browser that has none yet.

API requests that authenticate with a Bearer key are not known here (DRF authenticates in the
view); jobs.api.auth activates the key owner's time zone itself. The zone is reset after every
request either way.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from jobs.account.preferences import (
    THEME_COOKIE,
    THEME_COOKIE_AGE,
    layout_preferences,
    zone_of,
)


def theme_cookie(response: HttpResponse, theme: str) -> None:
    """The cookie the layout (jobs.context_processors, static/js/app.js) reads the theme from."""
    response.set_cookie(THEME_COOKIE, theme, max_age=THEME_COOKIE_AGE, samesite="Lax")


class PreferencesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        prefs = layout_preferences(user) if user is not None and user.is_authenticated else None
        request.layout_preferences = prefs
        needs_cookie = prefs is not None and THEME_COOKIE not in request.COOKIES
        if prefs is not None:
            timezone.activate(zone_of(prefs.time_zone))
            if needs_cookie:  # this very page is drawn in the user's theme already
                request.COOKIES[THEME_COOKIE] = prefs.theme
        try:
            response = self.get_response(request)
        finally:
            timezone.deactivate()
        if needs_cookie and THEME_COOKIE not in response.cookies:  # the view may set it anew
            theme_cookie(response, prefs.theme)
        return response
