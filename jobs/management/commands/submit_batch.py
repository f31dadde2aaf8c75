"""manage.py submit_batch FILE|- [--processor P] [--priority P] [--concurrency N] [--wait]
                         [--at TIME | --cron EXPR | --every N[m|h|d] [--at FIRST]]

With --at, --cron or --every the batch becomes a schedule (jobs.schedules) instead of a job now.

Exit status: 0 all items succeeded, 1 some failed or were cancelled, 2 bad input (or past
the user's quota).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs.models import BatchJob, JobStatus
from jobs.schedules import create_schedule
from jobs.services import ServiceError, submit_batch

EXIT_OK, EXIT_FAILURES, EXIT_BAD_INPUT = 0, 1, 2
TIMING_OPTIONS = {"run_at": "at", "cron": "cron", "every": "every", "time_zone": "time_zone"}


class BadInput(CommandError):
    def __init__(self, message: str) -> None:
        super().__init__(message, returncode=EXIT_BAD_INPUT)


class Command(BaseCommand):
    help = "Submit a batch of URLs from a file (CSV or text) or standard input."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="A CSV or text file of URLs, or - for standard input.")
        parser.add_argument(
            "--processor",
            default="http_check",
            help="http_check (default), page_audit, site_profile, or a registered processor.",
        )
        parser.add_argument(
            "--options", default="", help='Processor options as JSON, e.g. \'{"method": "HEAD"}\'.'
        )
        parser.add_argument("--priority", default=None, help="1–10 or low|normal|high|urgent.")
        parser.add_argument("--concurrency", default=None, help="URLs at once, 1–500.")
        parser.add_argument("--item-timeout", default=None, help="Seconds per attempt.")
        parser.add_argument(
            "--max-attempts", default=None, help="Tries per URL (timeouts and 5xx are retried)."
        )
        parser.add_argument("--name", default="", help="Shown on the pages (default: none).")
        parser.add_argument("--user", default=None, help="Owner (default: the only superuser).")
        parser.add_argument("--wait", action="store_true", help="Show progress until the job ends.")
        parser.add_argument(
            "--at", default=None, help="Run once then (ISO 8601; no offset: the user's time zone)."
        )
        parser.add_argument("--cron", default=None, help="Run on a cron expression: '0 9 * * 1-5'.")
        parser.add_argument("--every", default=None, help="Run every N minutes: 30, 30m, 2h, 1d.")
        parser.add_argument("--time-zone", default=None, help="Default: the user's preferences.")

    def handle(self, *args, **opts) -> None:
        owner = self._owner(opts["user"])
        data, filename = self._read(opts["file"])
        try:
            options = json.loads(opts["options"]) if opts["options"] else {}
        except json.JSONDecodeError as exc:
            raise BadInput(f"--options is not valid JSON: {exc}") from None
        batch = {
            "file": data,
            "filename": filename,
            "processor": opts["processor"],
            "options": options,
            "priority": opts["priority"],
            "concurrency": opts["concurrency"],
            "item_timeout": opts["item_timeout"],
            "max_attempts": opts["max_attempts"],
            "name": opts["name"] or filename,
        }
        if opts["at"] or opts["cron"] or opts["every"]:
            self._schedule(owner, batch, opts)
            return
        try:
            submission = submit_batch(owner, **batch)
        except ServiceError as exc:
            raise self._refused(exc) from None
        job, intake = submission.job, submission.intake
        self._show_rejections(intake)
        self.stdout.write(
            f"Submitted job {job.pk}: {len(intake.accepted):,} URLs "
            f"({intake.duplicates:,} duplicates, {len(intake.rejected):,} rejected)"
        )
        if not opts["wait"]:
            return
        job = self._wait(job)
        self.stdout.write(
            f"{job.get_status_display()}: {job.count_succeeded:,} succeeded, "
            f"{job.count_failed:,} failed, {job.count_cancelled:,} cancelled"
        )
        if job.status != JobStatus.COMPLETED:
            sys.exit(EXIT_FAILURES)

    def _refused(self, exc: ServiceError) -> BadInput:
        intake = getattr(exc, "intake", None)
        if intake is not None:
            self._show_rejections(intake)
        if exc.code == "quota_exceeded":  # the message says it all; no field name
            return BadInput(" ".join(m for ms in exc.errors.values() for m in ms))
        return BadInput(str(exc))

    def _schedule(self, owner, batch: dict, opts: dict) -> None:
        if opts["wait"]:
            raise BadInput("--wait is for a batch that runs now, not a schedule.")
        timing = {name: opts[key] for name, key in TIMING_OPTIONS.items()}
        try:
            schedule, intake = create_schedule(owner, **batch, **timing)
        except ServiceError as exc:
            raise self._refused(exc) from None
        self._show_rejections(intake)
        self.stdout.write(
            f"Scheduled {schedule.pk}: {len(schedule.urls):,} URLs, {schedule.timing}, "
            f"next run {schedule.next_run_at.isoformat()}"
        )

    def _owner(self, username: str | None):
        users = get_user_model().objects
        if username:
            user = users.filter(username=username).first()
            if user is None:
                raise BadInput(f"No user named {username!r}.")
            return user
        admins = list(users.filter(is_superuser=True, is_active=True)[:2])
        if len(admins) != 1:
            raise BadInput("Say whose batch this is with --user USERNAME.")
        return admins[0]

    def _read(self, path: str) -> tuple[bytes, str]:
        if path == "-":
            return sys.stdin.buffer.read(), "stdin.txt"
        file = Path(path)
        if not file.is_file():
            raise BadInput(f"No such file: {path}")
        return file.read_bytes(), file.name

    def _show_rejections(self, intake) -> None:
        for rejection in intake.rejected[:20]:
            self.stderr.write(f"line {rejection.line}: {rejection.input!r}: {rejection.reason}")
        if len(intake.rejected) > 20:
            self.stderr.write(f"... and {len(intake.rejected) - 20:,} more rejected lines")

    def _wait(self, job: BatchJob) -> BatchJob:
        tty = self.stderr.isatty()
        last_line = ""
        while True:
            job.refresh_from_db()
            line = _progress_line(job)
            if tty:
                self.stderr.write("\r" + line, ending="")
            elif line != last_line:
                self.stderr.write(line)
            last_line = line
            if job.is_finished:
                if tty:
                    self.stderr.write("")
                return job
            time.sleep(0.5 if tty else 2.0)


def _progress_line(job: BatchJob, width: int = 30) -> str:
    filled = int(width * job.progress / 100)
    bar = "#" * filled + "-" * (width - filled)
    return (
        f"[{bar}] {job.progress:5.1f}% {job.done_items:,}/{job.total_items:,} "
        f"ok {job.count_succeeded:,} failed {job.count_failed:,} ({job.get_status_display()})"
    )
