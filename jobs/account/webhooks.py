"""Webhooks a user manages on the settings page, and the events sent to them. Each change is
one function here (so it can be audited); sending goes through jobs.account.delivery."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from jobs import audit
from jobs.account import delivery as deliveries
from jobs.account.destination import destination_problem
from jobs.models import AuditAction, Webhook, WebhookDelivery, WebhookEvent
from jobs.services import ServiceError

MAX_WEBHOOKS = 20
POLICY_LIMITS = {
    "max_attempts": (1, 20),
    "backoff_base": (1, 86400),
    "backoff_max": (1, 7 * 86400),
}


def webhooks_for(user) -> QuerySet[Webhook]:
    """The user's own webhooks (staff too: webhooks are personal)."""
    return Webhook.objects.filter(user=user)


def get_webhook_for_user(user, pk) -> Webhook:
    """The webhook, or Http404 both when it does not exist and when it is someone else's."""
    try:
        return webhooks_for(user).get(pk=int(pk))
    except (Webhook.DoesNotExist, ValueError, TypeError):
        raise Http404("No such webhook.") from None


def get_delivery_for_user(user, webhook: Webhook, pk) -> WebhookDelivery:
    try:
        return WebhookDelivery.objects.get(pk=pk, webhook=webhook, webhook__user=user)
    except (WebhookDelivery.DoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404("No such delivery.") from None


def new_secret() -> str:
    return Webhook.SECRET_PREFIX + secrets.token_urlsafe(32)


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    """Validate a webhook's fields; ServiceError names every bad one."""
    errors: dict[str, list[str]] = {}
    clean = dict(fields)
    url = str(fields.get("url") or "").strip()
    problem = destination_problem(url) if url else "Enter the URL to send events to."
    if problem:
        errors["url"] = [problem]
    clean["url"] = url
    events = list(dict.fromkeys(fields.get("events") or []))
    if not events:
        errors["events"] = ["Choose at least one event."]
    elif bad := [e for e in events if e not in WebhookEvent.SUBSCRIBABLE]:
        errors["events"] = [f"Unknown event(s): {', '.join(map(str, bad))}."]
    clean["events"] = events
    for name, (low, high) in POLICY_LIMITS.items():
        value = fields.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            errors[name] = [f"A whole number from {low:,} to {high:,}."]
    base, top = fields.get("backoff_base"), fields.get("backoff_max")
    if (
        isinstance(base, int)
        and isinstance(top, int)
        and top < base
        and "backoff_max" not in errors
    ):
        errors["backoff_max"] = ["At least the first wait."]
    clean["description"] = str(fields.get("description") or "").strip()[:200]
    clean["is_active"] = bool(fields.get("is_active", True))
    if errors:
        raise ServiceError(errors)
    return clean


def create_webhook(user, **fields: Any) -> tuple[Webhook, str]:
    """A new webhook; returns it and its signing secret (shown to the user once)."""
    clean = _checked(fields)
    if webhooks_for(user).count() >= MAX_WEBHOOKS:
        raise ServiceError({"url": [f"You have {MAX_WEBHOOKS} webhooks; delete one first."]})
    secret = new_secret()
    with transaction.atomic():
        webhook = Webhook.objects.create(user=user, secret=secret, **clean)
        audit.record(user, AuditAction.WEBHOOK_CREATE, webhook, events=webhook.events)
    return webhook, secret


def update_webhook(webhook: Webhook, **fields: Any) -> Webhook:
    clean = _checked(fields)
    for name, value in clean.items():
        setattr(webhook, name, value)
    webhook.updated_at = timezone.now()
    with transaction.atomic():
        webhook.save(update_fields=[*clean, "updated_at"])
        facts = {"events": webhook.events, "is_active": webhook.is_active}
        audit.record(webhook.user, AuditAction.WEBHOOK_UPDATE, webhook, **facts)
    return webhook


def rotate_secret(webhook: Webhook) -> str:
    """A new signing secret; deliveries from now on are signed with it. Returns it (once)."""
    webhook.secret = new_secret()
    webhook.updated_at = timezone.now()
    with transaction.atomic():
        webhook.save(update_fields=["secret", "updated_at"])
        audit.record(webhook.user, AuditAction.WEBHOOK_ROTATE, webhook)
    return webhook.secret


def delete_webhook(webhook: Webhook) -> None:
    """Delete a webhook with its deliveries and their log."""
    with transaction.atomic():
        audit.record(webhook.user, AuditAction.WEBHOOK_DELETE, webhook)
        webhook.delete()


def send_test(webhook: Webhook) -> WebhookDelivery:
    """A `test` event to this webhook now (one attempt, whatever its policy)."""
    data = {
        "message": "A test event from batchsite: your endpoint receives and verifies webhooks.",
        "webhook": {"id": webhook.pk, "url": webhook.url, "events": webhook.events},
    }
    return _queue(webhook, WebhookEvent.TEST, data)


def redeliver(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a past delivery's event again, as a new delivery (a new id, a fresh retry policy)."""
    return _queue(delivery.webhook, delivery.event, delivery.payload, redelivery_of=delivery)


def send_event(user, event: str, data: dict[str, Any]) -> list[WebhookDelivery]:
    """Queue `event` for every active webhook of `user` that subscribes to it."""
    hooks = [h for h in webhooks_for(user).filter(is_active=True) if event in h.events]
    return [_queue(hook, event, data) for hook in hooks]


def _queue(webhook: Webhook, event: str, data: dict[str, Any], **extra: Any) -> WebhookDelivery:
    with transaction.atomic():
        now = timezone.now()
        delivery = WebhookDelivery.objects.create(
            webhook=webhook, event=event, payload=data, created_at=now, next_attempt_at=now, **extra
        )
        deliveries.enqueue_on_commit([delivery])
    return delivery
