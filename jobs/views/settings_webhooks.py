"""Settings → a webhook: add, edit, send a test, rotate the secret, delete, and its delivery
log (each attempt, newest first, with a redeliver button; refreshed while deliveries are due)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jobs.account import webhooks
from jobs.account.forms import WebhookForm, add_service_errors
from jobs.account.preferences import preferences_for
from jobs.account.signing import HEADER
from jobs.models import DeliveryAttempt, DeliveryStatus, Webhook
from jobs.services import ServiceError
from jobs.views.settings import unconfirmed


def _detail(webhook: Webhook) -> str:
    return reverse("settings-webhook", args=[webhook.pk])


def log_context(request: HttpRequest, webhook: Webhook) -> dict[str, Any]:
    """One page of the delivery log (the user's page size) and the deliveries still due."""
    attempts = (
        DeliveryAttempt.objects.filter(webhook=webhook).select_related("delivery").order_by("-id")
    )
    paginator = Paginator(attempts, preferences_for(request.user).page_size)
    due = webhook.deliveries.filter(status__in=DeliveryStatus.ACTIVE).order_by("next_attempt_at")
    return {
        "webhook": webhook,
        "log": paginator.get_page(request.GET.get("page")),
        "due": list(due[:5]),
        "due_count": due.count(),
    }


def _render(
    request: HttpRequest, webhook: Webhook | None, form: WebhookForm, *, status: int = 200, **extra
) -> HttpResponse:
    context = {"form": form, "webhook": webhook, "signature_header": HEADER, **extra}
    if webhook is not None:
        context.update(log_context(request, webhook))
    return render(request, "settings/webhook.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def new(request: HttpRequest) -> HttpResponse:
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            webhook, secret = webhooks.create_webhook(request.user, **form.cleaned_data)
        except ServiceError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Webhook added. Copy its signing secret now.")
            return _render(request, webhook, WebhookForm.for_webhook(webhook), new_secret=secret)
    return _render(request, None, form, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = webhooks.get_webhook_for_user(request.user, pk)
    if request.method == "GET":
        return _render(request, webhook, WebhookForm.for_webhook(webhook))
    form = WebhookForm(request.POST)
    if form.is_valid():
        try:
            webhooks.update_webhook(webhook, **form.cleaned_data)
        except ServiceError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Webhook saved.")
            return redirect(_detail(webhook))
    webhook.refresh_from_db()
    return _render(request, webhook, form, status=400)


@login_required
@require_GET
def log(request: HttpRequest, pk: int) -> HttpResponse:
    """The delivery log alone (htmx refreshes it while deliveries are due)."""
    webhook = webhooks.get_webhook_for_user(request.user, pk)
    return render(request, "settings/webhook.html#log", log_context(request, webhook))


@login_required
@require_POST
def send_test(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = webhooks.get_webhook_for_user(request.user, pk)
    webhooks.send_test(webhook)
    messages.success(request, "Test event queued: it shows in the log below once sent.")
    return redirect(_detail(webhook) + "#log")


@login_required
@require_POST
def redeliver(request: HttpRequest, pk: int, delivery: str) -> HttpResponse:
    webhook = webhooks.get_webhook_for_user(request.user, pk)
    original = webhooks.get_delivery_for_user(request.user, webhook, delivery)
    webhooks.redeliver(original)
    messages.success(request, f"{original.get_event_display()} event queued again.")
    return redirect(_detail(webhook) + "#log")


@login_required
@require_POST
def rotate(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = webhooks.get_webhook_for_user(request.user, pk)
    question = "Rotate the signing secret?"
    detail = "Deliveries are signed with the new secret from now on; update your receiver."
    if (asking := unconfirmed(request, question, detail, _detail(webhook))) is not None:
        return asking
    secret = webhooks.rotate_secret(webhook)
    return _render(request, webhook, WebhookForm.for_webhook(webhook), new_secret=secret)


@login_required
@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = webhooks.get_webhook_for_user(request.user, pk)
    question = f"Delete the webhook to {webhook.url}?"
    detail = "Its delivery log goes with it. This cannot be undone."
    if (asking := unconfirmed(request, question, detail, _detail(webhook))) is not None:
        return asking
    webhooks.delete_webhook(webhook)
    messages.success(request, "Webhook deleted.")
    return redirect(reverse("settings") + "#webhooks")


urlpatterns = [
    path("settings/webhooks/new", new, name="settings-webhook-new"),
    path("settings/webhooks/<int:pk>", detail, name="settings-webhook"),
    path("settings/webhooks/<int:pk>/log", log, name="settings-webhook-log"),
    path("settings/webhooks/<int:pk>/test", send_test, name="settings-webhook-test"),
    path("settings/webhooks/<int:pk>/rotate", rotate, name="settings-webhook-rotate"),
    path("settings/webhooks/<int:pk>/delete", delete, name="settings-webhook-delete"),
    path(
        "settings/webhooks/<int:pk>/deliveries/<uuid:delivery>/redeliver",
        redeliver,
        name="settings-webhook-redeliver",
    ),
]
