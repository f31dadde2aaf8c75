"""daphne killed and started again while WebSocket clients follow a running job: the clients
reconnect, say what they last saw, and catch up — no log line missed or repeated, seq never goes
back, and the last state they show is the database's."""

from __future__ import annotations

import os

import psutil
import pytest

from jobs import events
from jobs.models import ApiKey, JobLogEntry, JobStatus
from jobs.services import submit_batch
from tests.conftest import refreshed
from tests.faults.conftest import (
    assert_settled_exactly_once,
    family,
    free_port,
    wait_until,
)
from tests.faults.live_clients import ReconnectingClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ITEMS = 400
PROBE = "tests.plugins.TitleProbe"  # one log line per item: something to catch up on


def test_clients_reconnect_and_catch_up_after_daphne_restarts(
    alice, site, settings, processes, stopwatch
):
    settings.BATCHSITE_PROCESSORS = [PROBE]
    live = {"BATCHSITE_CHANNEL_PREFIX": f"faults-{os.getpid()}", "BATCHSITE_PROCESSORS": PROBE}
    port = free_port()
    server = f"127.0.0.1:{port}"
    daphne = processes.daphne("daphne", port, **live)
    key = ApiKey.issue(alice, "faults")[1]
    urls = [site.url(f"/delay/100/live-{i}") for i in range(ITEMS)]
    job = submit_batch(alice, urls=urls, processor="title_probe", concurrency=10).job
    clients = [
        ReconnectingClient(server, "/ws/jobs/", key, str(job.pk)).start(),
        ReconnectingClient(server, f"/ws/job/{job.pk}/", key, str(job.pk)).start(),
    ]
    wait_until(lambda: all(c.messages("job_status_update") for c in clients), timeout=30)
    worker = processes.worker("worker", "--burst", **live)

    wait_until(lambda: refreshed(job).count_succeeded >= ITEMS // 6, timeout=120)
    processes.kill(daphne)
    stopwatch.restart()
    done = refreshed(job).count_succeeded
    wait_until(lambda: refreshed(job).count_succeeded >= done + 40, timeout=60)  # missed
    # Hold the worker while daphne starts, so that the clients come back to a running job.
    held = [psutil.Process(pid) for pid in family(worker)]
    for proc in held:
        proc.suspend()
    try:
        processes.daphne("daphne-restarted", port, **live)
        wait_until(lambda: all(len(c.connections) >= 2 and c.connections[1] for c in clients), 60)
        stopwatch.lap("daphne SIGKILLed and restarted: every client reconnected and caught up")
        assert refreshed(job).status == JobStatus.RUNNING
    finally:
        for proc in held:
            proc.resume()

    for client in clients:
        client.join(timeout=180)
    job = assert_settled_exactly_once(job)
    assert job.status == JobStatus.COMPLETED
    lines = set(
        JobLogEntry.objects.filter(job=job, message__startswith="title of").values_list(
            "id", flat=True
        )
    )
    assert len(lines) == ITEMS
    for client in clients:
        states = client.messages("job_status_update")
        seqs = [m["seq"] for m in states]
        assert seqs == sorted(seqs), "seq never goes back, across reconnects too"
        for connection in client.connections:
            own = [m["seq"] for m in connection if m["event"] == "job_status_update"]
            assert own == sorted(set(own)), "within a connection, seq strictly increases"
        seen = [m["id"] for m in client.messages("job_log_entry")]
        assert len(seen) == len(set(seen)), "no log line twice"
        assert lines <= set(seen), "no log line missed"
        assert states[-1] == events.status_event(job)
        assert client.messages()[-1] == events.status_event(job, event="job_completed")
