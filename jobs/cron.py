"""Periodic work, run by `manage.py scheduler` (RQ's CronScheduler, started by ./run)."""

from django.conf import settings
from rq import cron

from analytics.tasks import compact, sample_queues
from jobs.account.delivery import requeue_stale
from jobs.alerts import check_stuck
from jobs.tasks import (
    fire_schedules,
    publish_queues,
    purge_expired,
    reconcile,
    refresh_planner_stats,
)

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

# Due schedules become jobs; two schedulers may both enqueue this: a run is claimed once.
cron.register(
    fire_schedules,
    queue_name="urgent",
    interval=settings.BATCHSITE_SCHEDULE_TICK_SECONDS,
    job_timeout=300,
    result_ttl=600,
    name="schedules",
)

cron.register(
    purge_expired,
    queue_name="low",
    interval=settings.BATCHSITE_RETENTION_INTERVAL_SECONDS,
    job_timeout=3600,
    result_ttl=600,
    name="retention",
)

# Analytics: queue depth every 10 s; old rollup buckets folded into day rows every hour.
cron.register(
    sample_queues,
    queue_name="urgent",
    interval=settings.BATCHSITE_ANALYTICS_QUEUE_SAMPLE_SECONDS,
    job_timeout=30,
    result_ttl=60,
    name="analytics-queue-sample",
)

cron.register(
    compact,
    queue_name="low",
    interval=3600,
    job_timeout=600,
    result_ttl=600,
    name="analytics-compact",
)

cron.register(
    check_stuck,
    queue_name="high",
    interval=settings.BATCHSITE_ALERT_STUCK_CHECK_SECONDS,
    job_timeout=120,
    result_ttl=600,
    name="alerts-stuck",
)
