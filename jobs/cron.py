"""Periodic work, run by `manage.py scheduler` (RQ's CronScheduler, started by ./run)."""

from django.conf import settings
from rq import cron

from jobs.account.delivery import requeue_stale
from jobs.tasks import publish_queues, reconcile, refresh_planner_stats

cron.register(
    reconcile,
    queue_name="urgent",
    interval=settings.BATCHSITE_RECONCILE_SECONDS,
    job_timeout=300,
    result_ttl=600,
    name="reconcile",
)

# Live queue figures (queue_updated) for dashboards; also sent when a job is enqueued or ends.
cron.register(
    publish_queues,
    queue_name="urgent",
    interval=settings.BATCHSITE_QUEUE_EVENT_SECONDS,
    job_timeout=60,
    result_ttl=60,
    name="queue-events",
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
