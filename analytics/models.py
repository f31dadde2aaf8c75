"""Rollups: counters per time bucket, kept up to date as work happens, so the analytics page and
API read a few hundred rows instead of millions of items.

Every rollup row is keyed by (period, start, owner, …): `period` is minute, hour or day; `start`
the bucket's first instant (UTC). Flushes add to minute and hour rows in one upsert (analytics.
record); compaction (analytics.compaction) folds hour rows past the retention into day rows and
drops old minute rows (the hour rows already hold their counts). Hour and day rows never cover the
same time, so a range reads both without counting anything twice.

`owner` is the user's id as a plain integer (0: nobody, e.g. an anonymous API request): metrics
outlive nothing they describe and need no join.
"""

from __future__ import annotations

from django.db import models

from analytics import bins
from jobs.errors import ErrorCode


class Period(models.TextChoices):
    MINUTE = "m", "minute"
    HOUR = "h", "hour"
    DAY = "d", "day"


# One column per error code; codes a plugin invents land in err_other.
ERROR_FIELDS = {code: f"err_{code.lower()}" for code in ErrorCode.values}
ERROR_OTHER = "err_other"


def _counter() -> models.BigIntegerField:
    return models.BigIntegerField(db_default=0)


def _add_histogram(model: type[models.Model]) -> None:
    for name in bins.FIELDS:
        model.add_to_class(name, _counter())


class ItemRollup(models.Model):
    """Items that reached a final state, and jobs submitted, per bucket, owner and processor."""

    period = models.CharField(max_length=1, choices=Period.choices)
    start = models.DateTimeField()
    owner = models.IntegerField()
    processor = models.CharField(max_length=100)
    succeeded = _counter()
    failed = _counter()
    cancelled = _counter()  # cancelled or skipped
    duration_sum = models.FloatField(db_default=0.0)
    bytes = _counter()
    # Jobs submitted (analytics.record.record_job): "jobs per day" outlives the jobs themselves,
    # which retention deletes (BATCHSITE_RETENTION_DAYS) long before their rollups go.
    jobs = _counter()

    class Meta:
        db_table = "analytics_item_rollup"
        constraints = [
            models.UniqueConstraint(
                fields=["period", "owner", "start", "processor"], name="item_rollup_key"
            )
        ]
        indexes = [models.Index(fields=["period", "start"], name="item_rollup_start")]

    def __str__(self) -> str:
        return f"{self.get_period_display()} {self.start:%Y-%m-%d %H:%M} user {self.owner} {self.processor}"


for _code, _field in ERROR_FIELDS.items():
    ItemRollup.add_to_class(_field, _counter())
ItemRollup.add_to_class(ERROR_OTHER, _counter())
_add_histogram(ItemRollup)


class HostRollup(models.Model):
    """Failed items per host (hour and day buckets): the "top failing hosts" table."""

    period = models.CharField(max_length=1, choices=Period.choices)
    start = models.DateTimeField()
    owner = models.IntegerField()
    processor = models.CharField(max_length=100)
    host = models.CharField(max_length=255)
    failed = _counter()

    class Meta:
        db_table = "analytics_host_rollup"
        constraints = [
            models.UniqueConstraint(
                fields=["period", "owner", "start", "processor", "host"], name="host_rollup_key"
            )
        ]
        indexes = [models.Index(fields=["period", "start"], name="host_rollup_start")]

    def __str__(self) -> str:
        return (
            f"{self.get_period_display()} {self.start:%Y-%m-%d %H:%M} user {self.owner} {self.host}"
        )


class ApiRollup(models.Model):
    """API requests per bucket and user, timed by analytics.middleware."""

    period = models.CharField(max_length=1, choices=Period.choices)
    start = models.DateTimeField()
    owner = models.IntegerField()
    requests = _counter()
    client_errors = _counter()  # 4xx
    server_errors = _counter()  # 5xx
    duration_sum = models.FloatField(db_default=0.0)

    class Meta:
        db_table = "analytics_api_rollup"
        constraints = [
            models.UniqueConstraint(fields=["period", "owner", "start"], name="api_rollup_key")
        ]
        indexes = [models.Index(fields=["period", "start"], name="api_rollup_start")]

    def __str__(self) -> str:
        return f"{self.get_period_display()} {self.start:%Y-%m-%d %H:%M} user {self.owner}"


_add_histogram(ApiRollup)


class WebhookRollup(models.Model):
    """Webhook delivery attempts per bucket and owner: delivered (2xx) or not."""

    period = models.CharField(max_length=1, choices=Period.choices)
    start = models.DateTimeField()
    owner = models.IntegerField()
    delivered = _counter()
    failed = _counter()
    duration_sum = models.FloatField(db_default=0.0)

    class Meta:
        db_table = "analytics_webhook_rollup"
        constraints = [
            models.UniqueConstraint(fields=["period", "owner", "start"], name="webhook_rollup_key")
        ]
        indexes = [models.Index(fields=["period", "start"], name="webhook_rollup_start")]

    def __str__(self) -> str:
        return f"{self.get_period_display()} {self.start:%Y-%m-%d %H:%M} user {self.owner}"


class QueueSample(models.Model):
    """Items waiting (pending or queued) and processing, per owner, every 10 s. Owner 0 holds the
    totals, written with every sample, so a sample with nothing waiting is still a point."""

    at = models.DateTimeField()
    owner = models.IntegerField()
    waiting = _counter()
    processing = _counter()

    class Meta:
        db_table = "analytics_queue_sample"
        indexes = [models.Index(fields=["owner", "at"], name="queue_sample_owner_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} user {self.owner}: {self.waiting} waiting"
