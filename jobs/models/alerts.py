"""Alerts: something about a job its owner should hear of, raised once per job and kind."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AlertKind(models.TextChoices):
    FAILURE_RATE = "failure_rate", "Failure rate"
    STUCK_ITEMS = "stuck_items", "Items stuck"
    FINISHED = "finished", "Batch finished"


class Alert(models.Model):
    """One alert of a job's owner; the bell lists them, `read_at` is when they saw it."""

    job = models.ForeignKey("jobs.BatchJob", on_delete=models.CASCADE, related_name="alerts")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alerts"
    )
    kind = models.CharField(max_length=16, choices=AlertKind.choices)
    title = models.CharField(max_length=200)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "kind"], name="alert_once_per_job_kind"),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="alert_user_created"),
            models.Index(
                fields=["user"], name="alert_user_unread", condition=models.Q(read_at=None)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"
