"""The Settings page (/settings): API keys, webhooks, preferences and quotas, one section each.

Every user sees and changes only their own (staff change quotas in the admin). Actions that
cannot be undone — regenerate or revoke a key, rotate a webhook's secret, delete a webhook — ask
first: a dialog in the page (static/js/pages/settings.js), or without JavaScript a confirmation
page (`unconfirmed` below), so nothing is lost to a stray click either way.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST

from jobs.account.forms import ApiKeyForm, PreferencesForm
from jobs.account.keys import keys_for
from jobs.account.middleware import theme_cookie
from jobs.account.preferences import preferences_for, save_preferences, set_theme
from jobs.account.quotas import usage
from jobs.account.signing import HEADER
from jobs.account.webhooks import webhooks_for
from jobs.processors.registry import processors


def options_help() -> list[tuple[str, str]]:
    """Each processor and the options it takes, under the options field."""
    found = []
    for name, cls in processors().items():
        form = cls.options_form
        fields = ", ".join(form.base_fields) if form is not None else "no options"
        found.append((name, fields))
    return found


def render_page(request: HttpRequest, *, status: int = 200, **context: Any) -> HttpResponse:
    """The whole page; `context` replaces a section's defaults (a form with errors, a key
    shown once)."""
    user = request.user
    defaults: dict[str, Any] = {
        "keys": keys_for(user),
        "key_form": ApiKeyForm(),
        "webhooks": webhooks_for(user),
        "prefs_form": PreferencesForm.initial_from(
            preferences_for(user), site_time_zone=settings.TIME_ZONE
        ),
        "usage": usage(user),
        "options_help": options_help(),
        "signature_header": HEADER,
        "site_time_zone": settings.TIME_ZONE,
        "email_configured": settings.BATCHSITE_EMAIL_CONFIGURED,
    }
    return render(request, "settings/page.html", {**defaults, **context}, status=status)


def unconfirmed(request: HttpRequest, question: str, detail: str, back: str) -> HttpResponse | None:
    """None when the POST carries the user's confirmation (from the dialog, or from this page);
    else the confirmation page, which posts the same action again, confirmed."""
    if request.POST.get("confirm") == "yes":
        return None
    context = {"question": question, "detail": detail, "action": request.path, "back": back}
    return render(request, "settings/confirm.html", context)


@login_required
@require_GET
def page(request: HttpRequest) -> HttpResponse:
    return render_page(request)


@login_required
@require_POST
def preferences(request: HttpRequest) -> HttpResponse:
    form = PreferencesForm(request.POST, site_time_zone=settings.TIME_ZONE)
    if not form.is_valid():
        return render_page(request, status=400, prefs_form=form)
    prefs = save_preferences(request.user, **form.cleaned_data)
    messages.success(request, "Preferences saved.")
    response = redirect(reverse("settings") + "#preferences")
    theme_cookie(response, prefs.theme)
    return response


@login_required
@require_POST
def theme(request: HttpRequest) -> HttpResponse:
    """The layout's theme switch (static/js/app.js) keeps the preference in step with its cookie."""
    try:
        prefs = set_theme(request.user, request.POST.get("theme", ""))
    except ValueError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    response = HttpResponse(status=204)
    theme_cookie(response, prefs.theme)
    return response


urlpatterns = [
    path("settings", page, name="settings"),
    path("settings/preferences", preferences, name="settings-preferences"),
    path("settings/theme", theme, name="settings-theme"),
]
