"""The audit log: one row per operator action (who, when, what, on which target)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditAction(models.TextChoices):
    JOB_CANCEL = "job.cancel", "Cancelled a job"
    JOB_RETRY = "job.retry", "Retried a job's items"
    JOB_DELETE = "job.delete", "Deleted a job"
    BULK_CANCEL = "bulk.cancel", "Cancelled jobs in bulk"
    BULK_RETRY = "bulk.retry", "Retried jobs in bulk"
    CLEANUP = "cleanup", "Cleaned up old jobs"
    KEY_CREATE = "key.create", "Created an API key"
    KEY_REGENERATE = "key.regenerate", "Regenerated an API key"
    KEY_REVOKE = "key.revoke", "Revoked an API key"
    WEBHOOK_CREATE = "webhook.create", "Added a webhook"
    WEBHOOK_UPDATE = "webhook.update", "Changed a webhook"
    WEBHOOK_ROTATE = "webhook.rotate", "Rotated a webhook's secret"
    WEBHOOK_DELETE = "webhook.delete", "Deleted a webhook"


class AuditEntry(models.Model):
    """Written by the services the action goes through (jobs.audit.record), never edited.

    `actor_name` keeps the username after the user is deleted; `target_label` keeps a job's name
    or a key's name after the target is gone (a deleted job is still in its audit entry)."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"
        indexes = [models.Index(fields=["actor", "-at"], name="audit_actor_at")]

    def __str__(self) -> str:
        return f"{self.actor_name or 'system'} {self.action} {self.target_type} {self.target_id}"
