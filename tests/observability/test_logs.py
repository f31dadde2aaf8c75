"""Structured logs: with BATCHSITE_LOG_FORMAT=json a real worker process writes one JSON object
per line, naming the job and the item a line is about."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest
from django.conf import settings

from jobs import logcontext
from jobs.models import JobStatus
from jobs.services import submit_batch
from tests.conftest import ROOT, refreshed, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True)

BROKEN = "tests.plugins.Broken"


def test_a_worker_logs_json_lines_with_the_job_and_item(alice, site, settings):
    settings.BATCHSITE_PROCESSORS = [BROKEN]
    job = submit_batch(alice, urls=[site.url("/ok/log")], processor="broken", name="logs").job
    item = job.items.get()
    done = subprocess.run(
        [sys.executable, "manage.py", "rqworker", *settings.JOB_QUEUES, "--burst"],
        cwd=ROOT,
        env=subprocess_env(
            BATCHSITE_LOG_FORMAT="json",
            BATCHSITE_LOG_LEVEL="INFO",
            BATCHSITE_PROCESSORS=BROKEN,
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert refreshed(job).status == JobStatus.FAILED
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    assert all(r["time"].endswith("Z") for r in records)
    [crash] = [r for r in records if r["message"].startswith("Processor broken crashed")]
    assert (crash["level"], crash["logger"]) == ("ERROR", "jobs.runner")
    assert (crash["job_id"], crash["item_id"]) == (str(job.pk), item.pk)
    assert "ZeroDivisionError: bug in user code" in crash["exc"]
    [alert] = [r for r in records if r["logger"] == "jobs.alerts"]
    assert alert["job_id"] == str(job.pk)
    assert "item_id" not in alert


def test_the_plain_format_is_the_default_and_context_never_leaks():
    assert settings.BATCHSITE_LOG_FORMAT == "plain"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    context = logcontext.ContextFilter()
    with logcontext.bound(job="j-1", item=7):
        context.filter(record)
    assert (record.job_id, record.item_id) == ("j-1", 7)
    after = logging.LogRecord("x", logging.INFO, __file__, 1, "bye", (), None)
    context.filter(after)
    assert (after.job_id, after.item_id) == (None, None)
    line = json.loads(logcontext.JsonFormatter().format(record))
    assert line["message"] == "hello you"
    assert (line["job_id"], line["item_id"], line["level"]) == ("j-1", 7, "INFO")
