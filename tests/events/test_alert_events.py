"""The `alert` live event (jobs.alerts through jobs.events): a real daphne, a real WebSocket
client and a real burst worker; the owner and staff hear it once, other users never."""

from __future__ import annotations

import pytest

from jobs.models import Alert, ApiKey
from jobs.services import submit_batch
from tests.events.clients import Recorder

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# A message the server refuses after the subscription: its error says the subscription is in.
FIRST = [{"event": "subscribe_all_jobs"}, {"event": "no_such_event"}]


def test_an_alert_reaches_its_owner_and_staff_live_once(
    alice, bob, staff, alice_key, bob_key, site, burst_worker, daphne_server
):
    url = f"ws://{daphne_server}/ws/jobs/"
    staff_key = ApiKey.issue(staff, "live events")[1]
    clients = {
        name: Recorder(f"{url}?api_key={key}", FIRST).start()
        for name, key in (("alice", alice_key), ("bob", bob_key), ("staff", staff_key))
    }
    for client in clients.values():
        client.wait_for(lambda m: m["event"] == "error", timeout=15)
    job = submit_batch(alice, urls=[site.url("/ok/live")], name="live alert").job
    burst_worker()

    alert = Alert.objects.get(job=job)
    for name in ("alice", "staff"):
        event = clients[name].wait_for(lambda m: m["event"] == "alert", timeout=15)
        assert event["job_id"] == str(job.pk)
        assert (event["id"], event["kind"], event["user_id"]) == (alert.pk, "finished", alice.pk)
        assert event["title"] == "“live alert” completed"
        assert isinstance(event["seq"], int)
    clients["alice"].wait_for(lambda m: m["event"] == "job_completed", timeout=15)
    assert len(clients["alice"].of("alert")) == 1
    assert clients["bob"].of("alert") == []
