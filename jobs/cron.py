"""Periodic work, run by `manage.py scheduler` (RQ's CronScheduler, started by ./run)."""

from django.conf import settings
from rq import cron

from jobs.account.delivery import requeue_stale
from jobs.alerts import check_stuck
from jobs.tasks import reconcile, refresh_planner_stats

cron.register(
    reconcile,
    queue_name="urgent",
    interval=settings.BATCHSITE_RECONCILE_SECONDS,
    job_timeout=300,
    result_ttl=600,
    name="reconcile",
)

# Webhook deliveries whose RQ job was lost (a Redis restart) go back on the queue.
(
    cron.register(
        requeue_stale,
        queue_name=settings.BATCHSITE_WEBHOOK_QUEUE,
        interval=60,
        job_timeout=120,
        result_ttl=600,
        name="webhook-requeue",
    ),
)

cron.register(
    refresh_planner_stats,
    queue_name="low",
    interval=3600,
    job_timeout=600,
    result_ttl=600,
    name="planner-stats",
)

cron.register(
    check_stuck,
    queue_name="high",
    interval=settings.BATCHSITE_ALERT_STUCK_CHECK_SECONDS,
    job_timeout=120,
    result_ttl=600,
    name="alerts-stuck",
)
