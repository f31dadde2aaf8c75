"""The scheduler process (`manage.py scheduler`): RQ's cron scheduler running jobs.cron, made to
ride out a Redis that restarts.

RQ's CronScheduler stops at the first Redis connection error; under ./run (honcho) one process
that stops stops them all, so a Redis restart would take the whole product down. This one logs,
waits a second and goes on: reconcile is what re-enqueues the work a restarted Redis forgot, so the
scheduler must be there when Redis comes back.
"""

from __future__ import annotations

import contextlib
import time

from django_rq.cron import DjangoCronScheduler
from redis import exceptions

REDIS_DOWN = (exceptions.ConnectionError, exceptions.TimeoutError)
RETRY_SECONDS = 1.0


class Scheduler(DjangoCronScheduler):
    def enqueue_jobs(self):
        try:
            return super().enqueue_jobs()
        except REDIS_DOWN as exc:
            self.log.warning("Scheduler: Redis unavailable (%s); retrying", exc)
            time.sleep(RETRY_SECONDS)  # its jobs are still due: the next loop enqueues them
            return []

    def heartbeat(self) -> None:
        # Said by enqueue_jobs; once Redis is back, a heartbeat registers the scheduler again.
        with contextlib.suppress(*REDIS_DOWN):
            super().heartbeat()

    def save(self, pipeline=None) -> None:
        with contextlib.suppress(*REDIS_DOWN):
            super().save(pipeline)
