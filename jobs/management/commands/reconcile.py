"""manage.py reconcile: put back items of dead runners and re-enqueue work Redis lost."""

import json

from django.core.management.base import BaseCommand, CommandParser

from jobs.reconcile import reconcile


class Command(BaseCommand):
    help = "Make the queues agree with the database (also runs every 30 s from the scheduler)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--stale-seconds",
            type=float,
            default=None,
            help="Treat runners silent for this long as dead (default: BATCHSITE_RUNNER_STALE_SECONDS).",
        )

    def handle(self, *args, **opts) -> None:
        report = reconcile(stale_seconds=opts["stale_seconds"], min_age_seconds=0)
        self.stdout.write(json.dumps(report))
