"""Settings → API keys: create, regenerate, revoke. The raw key is in the one response that
made it (never in a redirect, the session or a log), then only its prefix is shown."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from jobs.account import keys
from jobs.account.forms import ApiKeyForm, add_service_errors
from jobs.services import ServiceError
from jobs.views.settings import render_page, unconfirmed

BACK = "settings"


def _back() -> str:
    return reverse(BACK) + "#keys"


@login_required
@require_POST
def create(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST)
    if form.is_valid():
        try:
            key, raw = keys.create_key(request.user, **form.cleaned_data)
        except ServiceError as exc:
            add_service_errors(form, exc)
        else:
            return render_page(request, new_key=key, new_raw_key=raw)
    return render_page(request, status=400, key_form=form)


@login_required
@require_POST
def regenerate(request: HttpRequest, pk: int) -> HttpResponse:
    key = keys.get_key_for_user(request.user, pk)
    question = f"Regenerate “{key.name}”?"
    detail = f"Scripts using {key.prefix}… get 401 at once and need the new key."
    if (asking := unconfirmed(request, question, detail, _back())) is not None:
        return asking
    try:
        raw = keys.regenerate_key(key)
    except ServiceError as exc:
        messages.error(request, str(exc.errors["detail"][0]))
        return redirect(_back())
    return render_page(request, new_key=key, new_raw_key=raw)


@login_required
@require_POST
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = keys.get_key_for_user(request.user, pk)
    question = f"Revoke “{key.name}”?"
    detail = f"Scripts using {key.prefix}… get 401 from now on. This cannot be undone."
    if (asking := unconfirmed(request, question, detail, _back())) is not None:
        return asking
    keys.revoke_key(key)
    messages.success(request, f"Key “{key.name}” revoked.")
    return redirect(_back())


urlpatterns = [
    path("settings/keys", create, name="settings-key-create"),
    path("settings/keys/<int:pk>/regenerate", regenerate, name="settings-key-regenerate"),
    path("settings/keys/<int:pk>/revoke", revoke, name="settings-key-revoke"),
]
