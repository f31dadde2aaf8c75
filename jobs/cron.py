"""Periodic work, run by `manage.py scheduler` (RQ's CronScheduler, started by ./run)."""

from django.conf import settings
from rq import cron

from jobs.tasks import reconcile

cron.register(
    reconcile,
    queue_name="urgent",
    interval=settings.BATCHSITE_RECONCILE_SECONDS,
    job_timeout=300,
    result_ttl=600,
    name="reconcile",
)
