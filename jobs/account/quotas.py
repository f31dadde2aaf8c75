"""Per-user quotas: URLs per batch, jobs queued or running at once, jobs per hour. Checked by
services.submit_batch (pages, API and CLI alike) inside the transaction that creates the job,
with the user's quota row locked, so two submissions at once cannot both slip under a limit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Max
from django.utils import timezone

from jobs.models import BatchJob, JobStatus, Quota

WINDOW = timedelta(hours=1)


class QuotaExceeded(Exception):
    """A submission past one of the user's quotas. `field` is the form field it concerns."""

    def __init__(self, message: str, field: str = "detail") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def quota_for(user) -> Quota:
    """The user's quota row, made from the site defaults the first time it is needed."""
    quota, _ = Quota.objects.get_or_create(user=user, defaults=Quota.site_defaults())
    return quota


def check_submission(user, urls: int) -> None:
    """Raise QuotaExceeded if `user` may not submit a batch of `urls` URLs now. Call inside the
    transaction that creates the job: it locks the user's quota row until that commits."""
    quota_for(user)
    quota = Quota.objects.select_for_update().get(user=user)
    if quota.max_urls_per_batch is not None and urls > quota.max_urls_per_batch:
        raise QuotaExceeded(
            f"This batch has {urls:,} URLs; your quota is {quota.max_urls_per_batch:,} "
            "URLs per batch. Split it into smaller batches.",
            field="urls",
        )
    mine = BatchJob.objects.filter(owner=user)
    if quota.max_running_jobs is not None:
        running = mine.filter(status__in=JobStatus.ACTIVE).count()
        if running >= quota.max_running_jobs:
            raise QuotaExceeded(
                f"You have {running:,} jobs queued or running; your quota is "
                f"{quota.max_running_jobs:,} at once. Wait for one to finish or cancel one."
            )
    if quota.jobs_per_hour is not None:
        since = timezone.now() - WINDOW
        recent = mine.filter(created_at__gte=since).order_by("created_at")
        count = recent.count()
        if count >= quota.jobs_per_hour:
            oldest = recent.values_list("created_at", flat=True)[count - quota.jobs_per_hour]
            wait = max(1, int((oldest + WINDOW - timezone.now()).total_seconds() // 60) + 1)
            raise QuotaExceeded(
                f"You have submitted {count:,} jobs in the last hour; your quota is "
                f"{quota.jobs_per_hour:,} per hour. Try again in {wait} min."
            )


@dataclass(frozen=True)
class Usage:
    label: str
    used: int
    limit: int | None
    help: str

    @property
    def percent(self) -> float:
        if not self.limit:
            return 0.0
        return min(100.0, 100.0 * self.used / self.limit)

    @property
    def level(self) -> str:
        """For the bar's colour: ok, high (80 % and up), full."""
        if self.limit is None:
            return "ok"
        if self.used >= self.limit:
            return "full"
        return "high" if self.percent >= 80 else "ok"


def usage(user) -> list[Usage]:
    """The user's quotas next to what they use now, for the settings page's usage bars."""
    quota = quota_for(user)
    now = timezone.now()
    mine = BatchJob.objects.filter(owner=user)
    running = mine.filter(status__in=JobStatus.ACTIVE).count()
    recent = mine.filter(created_at__gte=now - WINDOW).count()
    largest = (
        mine.filter(created_at__gte=now - timedelta(days=1)).aggregate(n=Max("total_items"))["n"]
        or 0
    )
    return [
        Usage("Jobs queued or running", running, quota.max_running_jobs, "at once"),
        Usage("Jobs submitted", recent, quota.jobs_per_hour, "in the last 60 minutes"),
        Usage(
            "Largest batch",
            largest,
            quota.max_urls_per_batch,
            "URLs, in the last 24 hours (the quota is per batch)",
        ),
    ]
