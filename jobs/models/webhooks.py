"""Webhooks: where a user's job events go, each delivery of an event, and every attempt at it."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from jobs.models.choices import JobStatus


class WebhookEvent(models.TextChoices):
    JOB_COMPLETED = "job_completed", "Job completed"
    JOB_FAILED = "job_failed", "Job failed"
    JOB_COMPLETED_WITH_ERRORS = "job_completed_with_errors", "Job finished with errors"
    ALERT = "alert", "Alert"
    TEST = "test", "Test"  # "Send test": goes to one webhook whatever it subscribes to


# What a webhook can subscribe to (a test is sent on request, never subscribed to).
WebhookEvent.SUBSCRIBABLE = (
    WebhookEvent.JOB_COMPLETED,
    WebhookEvent.JOB_FAILED,
    WebhookEvent.JOB_COMPLETED_WITH_ERRORS,
    WebhookEvent.ALERT,
)
# A job that ends in one of these statuses sends that event (a cancelled job sends none: the
# user did it).
WebhookEvent.FOR_JOB_STATUS = {
    JobStatus.COMPLETED: WebhookEvent.JOB_COMPLETED,
    JobStatus.FAILED: WebhookEvent.JOB_FAILED,
    JobStatus.COMPLETED_WITH_ERRORS: WebhookEvent.JOB_COMPLETED_WITH_ERRORS,
}


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Failed"


DeliveryStatus.ACTIVE = frozenset({DeliveryStatus.PENDING, DeliveryStatus.RETRYING})
DeliveryStatus.TERMINAL = frozenset({DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED})
DeliveryStatus.colors = {
    DeliveryStatus.PENDING: "slate",
    DeliveryStatus.RETRYING: "amber",
    DeliveryStatus.SUCCEEDED: "green",
    DeliveryStatus.FAILED: "red",
}


class Webhook(models.Model):
    SECRET_PREFIX = "whsec_"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks"
    )
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="WebhookEvent values subscribed to.")
    # Kept as is: signing needs it. Shown once, when made; the page shows only its start.
    secret = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    # Retry policy: attempt n+1 waits min(backoff_max, backoff_base × 2^(n-1)) seconds.
    max_attempts = models.PositiveSmallIntegerField(default=5)
    backoff_base = models.PositiveIntegerField(default=30, help_text="Seconds before a retry.")
    backoff_max = models.PositiveIntegerField(default=3600, help_text="Longest wait, seconds.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Denormalised from the last attempt, for the list (jobs.account.delivery.record_outcome).
    last_delivery_at = models.DateTimeField(null=True, blank=True)
    last_delivery_ok = models.BooleanField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["user", "is_active"], name="webhook_user_active")]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_attempts__gte=1, max_attempts__lte=20),
                name="webhook_attempts_1_20",
            ),
        ]

    def __str__(self) -> str:
        return self.description or self.url

    @property
    def secret_hint(self) -> str:
        return self.secret[: len(self.SECRET_PREFIX) + 4] + "…"

    def backoff(self, attempt: int) -> int:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return min(self.backoff_max, self.backoff_base * 2 ** max(0, attempt - 1))

    def event_labels(self) -> list[str]:
        return [WebhookEvent(e).label for e in self.events if e in WebhookEvent.values]


class WebhookDelivery(models.Model):
    """One event for one webhook; its id is the `X-Batchsite-Delivery` header and the payload's
    `id`, so a receiver can tell a retry (same id) from a redelivery (a new one)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, choices=WebhookEvent.choices)
    payload = models.JSONField()
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    redelivery_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="redeliveries"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["webhook", "-created_at"], name="delivery_webhook_created"),
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_active_next",
                condition=Q(status__in=("pending", "retrying")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.webhook_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One HTTP request of a delivery: the rows of the delivery log."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField(default=False)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["webhook", "-id"], name="attempt_webhook_id")]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"
