"""What each user sets for themselves (preferences) and what staff set for them (quotas)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from jobs.models.choices import Priority


class Theme(models.TextChoices):
    LIGHT = "light", "Light"
    DARK = "dark", "Dark"
    SYSTEM = "system", "System"


PAGE_SIZES = (10, 25, 50, 100)


class Preferences(models.Model):
    """One row per user who changed anything; `jobs.account.preferences.preferences_for` gives
    the defaults to everyone else."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences"
    )
    # Initial values of the new-batch form.
    default_processor = models.CharField(max_length=100, default="http_check")
    default_options = models.JSONField(default=dict, blank=True)
    default_priority = models.PositiveSmallIntegerField(default=Priority.DEFAULT)
    default_concurrency = models.PositiveIntegerField(default=50)
    theme = models.CharField(max_length=8, choices=Theme.choices, default=Theme.SYSTEM)
    page_size = models.PositiveSmallIntegerField(
        default=25, choices=[(n, f"{n} rows") for n in PAGE_SIZES]
    )
    # An IANA name (Europe/Berlin); empty means the site's TIME_ZONE.
    time_zone = models.CharField(max_length=64, blank=True)
    notify_in_app = models.BooleanField(
        default=True, help_text="A toast and the bell's count when a batch finishes."
    )
    notify_email = models.BooleanField(
        default=False, help_text="An e-mail when a batch completes or fails."
    )
    notify_webhook = models.BooleanField(
        default=True, help_text="Job events go to your webhooks (off pauses them all)."
    )
    # Alert thresholds; empty means the site's (BATCHSITE_ALERT_FAILURE_PERCENT / _MIN_ITEMS).
    alert_failure_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    alert_min_items = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "preferences"
        constraints = [
            models.CheckConstraint(
                condition=Q(default_priority__gte=1, default_priority__lte=10),
                name="prefs_priority_1_10",
            ),
        ]

    def __str__(self) -> str:
        return f"Preferences of {self.user_id}"


class Quota(models.Model):
    """Per-user limits, edited by staff in the admin and enforced by services.submit_batch.
    An empty limit is no limit (the site-wide limits still hold)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quota"
    )
    max_urls_per_batch = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most URLs in one batch. Empty: the site's limit."
    )
    max_running_jobs = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Most jobs queued or running at once. Empty: no limit.",
    )
    jobs_per_hour = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most jobs submitted in any 60 minutes. Empty: no limit."
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        return f"Quota of {self.user}"

    @staticmethod
    def site_defaults() -> dict[str, int | None]:
        """What a user's quota starts as (settings BATCHSITE_QUOTA_*; 0 there means no limit)."""
        return {
            "max_urls_per_batch": settings.BATCHSITE_QUOTA_MAX_URLS_PER_BATCH or None,
            "max_running_jobs": settings.BATCHSITE_QUOTA_MAX_RUNNING_JOBS or None,
            "jobs_per_hour": settings.BATCHSITE_QUOTA_JOBS_PER_HOUR or None,
        }
