"""Periodic work, run by `manage.py rqcron jobs.cron` (RQ's CronScheduler, started by ./run)."""

from django.conf import settings
from rq import cron

from jobs.tasks import reconcile, refresh_planner_stats

cron.register(
    reconcile,
    queue_name="urgent",
    interval=settings.BATCHSITE_RECONCILE_SECONDS,
    job_timeout=300,
    result_ttl=600,
    name="reconcile",
)
cron.register(
    refresh_planner_stats,
    queue_name="low",
    interval=3600,
    job_timeout=600,
    result_ttl=600,
    name="planner-stats",
)
