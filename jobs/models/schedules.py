"""Scheduled and recurring batches: a batch request kept once (its URLs, processor and settings)
and when to run it — once at a time, by a cron expression or every N minutes. Each run is an
ordinary BatchJob whose `schedule` points here (jobs.schedules fires them)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from jobs.models.choices import Priority


class ScheduleKind(models.TextChoices):
    ONCE = "once", "Once"
    CRON = "cron", "Cron expression"
    INTERVAL = "interval", "Every N minutes"


class Schedule(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="schedules"
    )
    name = models.CharField(max_length=200, blank=True)
    # The batch request, as the intake accepted it (normalised URLs, in order).
    urls = models.JSONField(default=list)
    url_count = models.PositiveIntegerField(default=0)  # lists show it without loading `urls`
    processor = models.CharField(max_length=100, default="http_check")
    options = models.JSONField(default=dict, blank=True)
    priority = models.PositiveSmallIntegerField(default=Priority.DEFAULT)
    concurrency = models.PositiveIntegerField(default=50)
    item_timeout = models.FloatField(default=30.0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    per_host_limit = models.PositiveIntegerField(default=0)
    host_delay = models.FloatField(default=0.0)

    kind = models.CharField(max_length=8, choices=ScheduleKind.choices)
    run_at = models.DateTimeField(null=True, blank=True, help_text="When a `once` runs.")
    cron = models.CharField(max_length=120, blank=True, help_text="Five fields, e.g. 0 * * * *.")
    interval_minutes = models.PositiveIntegerField(null=True, blank=True)
    # An IANA name: cron expressions are read in it (09:00 stays 09:00 across DST changes).
    time_zone = models.CharField(max_length=64, default="UTC")

    paused = models.BooleanField(default=False)
    # When it runs next; null once a `once` has run. The scheduler claims a run by moving it on
    # with a conditional UPDATE (WHERE next_run_at = what it read), so one process wins.
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, help_text="Why the last run was not submitted.")
    runs = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["next_run_at"], name="schedule_due", condition=Q(paused=False)),
            models.Index(fields=["owner", "-created_at"], name="schedule_owner_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(priority__gte=1, priority__lte=10), name="schedule_priority_1_10"
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"Schedule {str(self.id)[:8]}"

    @property
    def timing(self) -> str:
        """How people read it: "every 60 min", "cron 0 9 * * 1-5 (Europe/Berlin)", "once"."""
        if self.kind == ScheduleKind.INTERVAL:
            minutes = self.interval_minutes or 0
            if minutes % 60 == 0:
                hours = minutes // 60
                return f"every {hours} hour{'s' if hours != 1 else ''}"
            return f"every {minutes} min"
        if self.kind == ScheduleKind.CRON:
            return f"cron {self.cron} ({self.time_zone})"
        return "once"
