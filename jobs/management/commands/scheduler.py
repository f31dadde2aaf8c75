"""`manage.py scheduler`: the periodic work of jobs.cron on RQ's cron scheduler (see
jobs.scheduler for how it differs from django-rq's `rqcron`)."""

import contextlib

from django.core.management.base import BaseCommand

from jobs.scheduler import Scheduler


class Command(BaseCommand):
    help = "Run the periodic work (reconcile, …) of jobs.cron; survives Redis restarts."

    def handle(self, *args, **options) -> None:
        scheduler = Scheduler()
        scheduler.load_config_from_file("jobs.cron")
        self.stdout.write(f"Scheduler: {len(scheduler.get_jobs())} periodic jobs")
        with contextlib.suppress(KeyboardInterrupt):
            scheduler.start()
