"""Jobs counted per owner, status, processor and priority, kept exact by database triggers.

GET /api/jobs answers its per-status summary from these rows when nothing but processor and
priority narrows the list (no date range, no search: the Jobs page as it first opens), instead
of counting a user's jobs one by one. Triggers on the jobs table (migration 0005) keep them
current on every insert, status change and delete, whoever writes (the ORM, bulk writes, raw
SQL); nothing in Python writes here.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from jobs.models.choices import JobStatus


class JobTally(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    status = models.CharField(max_length=32, choices=JobStatus.choices)
    processor = models.CharField(max_length=100)
    priority = models.PositiveSmallIntegerField()
    jobs = models.IntegerField(default=0)

    class Meta:
        constraints = [
            # The triggers' upsert target, and the summary's index.
            models.UniqueConstraint(
                fields=["owner", "status", "processor", "priority"], name="job_tally_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.status} {self.processor} {self.priority}: {self.jobs}"
