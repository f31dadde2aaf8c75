"""End to end: a real daphne, real `websockets` / aiohttp clients and a real burst worker
processing jobs against the local site. The worker runs in the test's thread, the clients in
threads of their own."""

from __future__ import annotations

import socket
import time

import pytest
from asgiref.sync import async_to_sync

from jobs import events
from jobs.models import JobLogEntry
from jobs.services import submit_batch
from jobs.ws_auth import SOCKETS_KEY
from tests.conftest import refreshed
from tests.events.clients import Recorder, SseReader, ends_job
from tests.events.conftest import DAPHNE_MAX_BUFFER
from tests.events.wsclient import make_job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def ws_url(server: str, path: str, key: str) -> str:
    return f"ws://{server}{path}?api_key={key}"


def subscribe(job, **extra) -> dict:
    return {"event": "subscribe_job", "job_id": str(job.pk), **extra}


def title_lines(job) -> list[int]:
    """Ids of the log lines TitleProbe writes, one per item, during the run."""
    return list(
        JobLogEntry.objects.filter(job=job, message__startswith="title of")
        .order_by("id")
        .values_list("id", flat=True)
    )


def test_a_client_follows_a_job_to_its_end_and_ends_where_the_database_is(
    alice, alice_key, bob_key, site, burst_worker, daphne_server
):
    urls = [site.url(f"/delay/40/{i}") for i in range(300)]
    job = submit_batch(alice, urls=urls, concurrency=10).job
    url = f"ws://{daphne_server}/ws/jobs/"
    alices = Recorder(f"{url}?api_key={alice_key}", [subscribe(job)], until=ends_job).start()
    bobs = Recorder(
        f"{url}?api_key={bob_key}", [subscribe(job), {"event": "subscribe_all_jobs"}]
    ).start()
    alices.wait_for(lambda m: m["event"] == "job_status_update")
    bobs.wait_for(lambda m: m["event"] == "error")

    burst_worker()
    job = refreshed(job)
    assert job.status == "completed"
    alices.join()

    states = alices.of("job_status_update")
    seqs = [m["seq"] for m in states]
    progress = [m["overall_progress"] for m in states]
    assert len(states) >= 4, seqs
    assert seqs == sorted(set(seqs)), "seq strictly increases"
    assert progress == sorted(progress), "progress never goes back"
    assert alices.of("item_update"), "items were reported"
    assert alices.messages[-1] == events.status_event(job, event="job_completed")
    assert states[-1] == events.status_event(job)
    assert alices.close_code is None  # /ws/jobs/ stays open; the client left

    time.sleep(0.3)  # anything bob could have been sent has arrived
    assert [(m["event"], m["code"]) for m in bobs.messages] == [("error", "not_found")]


def test_a_client_that_reconnects_with_last_seq_gets_what_it_missed_without_gaps(
    alice, alice_key, site, burst_worker, daphne_server
):
    urls = [site.url(f"/delay/30/{i}") for i in range(300)]
    job = submit_batch(alice, urls=urls, processor="title_probe", concurrency=5).job
    url = ws_url(daphne_server, "/ws/jobs/", alice_key)

    def enough(message, recorder):
        # Leave at a clean point: the item_update that follows a flush's log lines.
        return message["event"] == "item_update" and len(recorder.of("job_log_entry")) >= 20

    first = Recorder(url, [subscribe(job)], until=enough).start()
    first.wait_for(lambda m: m["event"] == "job_status_update")

    def reconnect():
        first.join()
        time.sleep(0.3)  # the job goes on without us
        last_seq = max(m["seq"] for m in first.messages)
        return Recorder(url, [subscribe(job, last_seq=last_seq)], until=ends_job).start()

    import threading

    holder = {}
    thread = threading.Thread(target=lambda: holder.setdefault("second", reconnect()))
    thread.start()
    burst_worker()
    thread.join(30)
    second = holder["second"].join()

    events_after = [m["event"] for m in second.messages]
    caught_up = events_after.index("job_status_update")
    assert caught_up > 0, "lines written while away came first"
    assert set(events_after[:caught_up]) == {"job_log_entry"}
    seen = [m["id"] for m in first.of("job_log_entry") + second.of("job_log_entry")]
    assert sorted(seen) == sorted(set(seen)), "no line twice"
    assert set(title_lines(job)) <= set(seen), "no gap"
    assert second.messages[-1]["event"] == "job_completed"


def follow_run(job, server: str, key: str, burst_worker) -> tuple[Recorder, float]:
    """A client on /ws/job/<id>/ while a burst worker runs the job; (the client, seconds run)."""
    client = Recorder(ws_url(server, f"/ws/job/{job.pk}/", key)).start()
    client.wait_for(lambda m: m["event"] == "job_status_update")
    started = time.monotonic()
    burst_worker()
    took = time.monotonic() - started
    return client.join(), took


def test_a_20000_item_job_sends_a_bounded_number_of_status_events(
    alice, alice_key, burst_worker, daphne_server
):
    urls = [f"https://example.com/item/{i}" for i in range(20_000)]
    # Concurrency 500: a runner claims up to 1,000 items per cycle, so the run is a few dozen
    # flushes (seconds), not thousands of 20-item cycles.
    job = submit_batch(alice, urls=urls, processor="instant", concurrency=500).job
    client, took = follow_run(job, daphne_server, alice_key, burst_worker)

    states = client.of("job_status_update")
    assert client.messages[-1]["event"] == "job_completed"
    assert client.close_code == 1000
    assert states[-1]["overall_progress"] == 100.0
    # The runner publishes a job's state at most every BATCHSITE_EVENT_INTERVAL (0.25 s), plus
    # once when each chunk runner starts and ends (20 chunks of 1,000 items here).
    runners = 20_000 // 1000
    assert len(states) <= took / 0.25 + 2 * runners + 2, (len(states), took)
    assert len(client.of("item_update")) < 20_000 / 50, "items are reported in batches"


def test_a_job_many_sockets_watch_sends_fewer_states_and_holds_items_for_them(
    alice, alice_key, site, redis_db, settings, burst_worker, daphne_server
):
    """The interval adapts to the audience (jobs.events.status_interval): with 10,000 sockets
    counted on the job, its state goes out every ~1.25 s instead of 0.25 s, and the item changes of
    the flushes in between ride along with it — every item still reported, none dropped."""
    settings.BATCHSITE_FLUSH_SECONDS = 0.1
    urls = [site.url(f"/delay/100/{i}") for i in range(300)]
    job = submit_batch(alice, urls=urls, concurrency=10).job
    watched = 10_000
    redis_db.set(events.SUBSCRIBERS_KEY.format(job_id=job.pk), watched - 1)
    interval = events.status_interval(watched)
    assert 1.0 < interval <= settings.BATCHSITE_EVENT_MAX_INTERVAL < 2.0
    client, took = follow_run(job, daphne_server, alice_key, burst_worker)

    assert client.messages[-1]["event"] == "job_completed"
    states = client.of("job_status_update")[1:]  # after the snapshot
    updates = client.of("item_update")
    assert took > 2 * interval, took  # long enough for the rule to show (0.25 s: 4× as many)
    # One per interval, plus each runner's first and last (up to 3 runners of 100+ items).
    bound = took / interval + 2 * 3 + 2
    assert len(states) <= bound, (len(states), took)
    assert len(updates) <= bound, (len(updates), took)
    reported = {item["id"] for update in updates for item in update["items"]}
    assert reported == set(job.items.values_list("id", flat=True)), "every item, none dropped"
    assert states[-1]["overall_progress"] == 100.0


def test_an_sse_client_resumes_with_last_event_id(
    alice, alice_key, site, burst_worker, daphne_server
):
    urls = [site.url(f"/delay/30/{i}") for i in range(200)]
    job = submit_batch(alice, urls=urls, processor="title_probe", concurrency=5).job
    url = f"http://{daphne_server}/api/jobs/{job.pk}/events"
    auth = {"Authorization": f"Bearer {alice_key}"}

    def enough(frame, reader):
        return frame["event"] == "item_update" and len(reader.payloads("job_log_entry")) >= 10

    first = SseReader(url, auth, until=enough).start()
    holder = {}

    def reconnect():
        first.join()
        time.sleep(0.3)
        last = first.frames[-1]["id"]
        holder["second"] = SseReader(url, {**auth, "Last-Event-ID": last}).start()

    import threading

    thread = threading.Thread(target=reconnect)
    thread.start()
    burst_worker()
    thread.join(30)
    second = holder["second"].join()

    assert (first.status, second.status) == (200, 200)
    assert second.ended_by_server, "the stream ends after the job's final event"
    assert second.frames[-1]["event"] == "job_completed"
    assert second.frames[0]["event"] == "job_log_entry", "missed lines first"
    seen = [p["id"] for p in first.payloads("job_log_entry") + second.payloads("job_log_entry")]
    assert sorted(seen) == sorted(set(seen))
    assert set(title_lines(job)) <= set(seen)
    ids = [int(f["id"]) for f in second.frames]
    assert ids == sorted(ids), "ids are seqs, in order"


def test_a_client_that_does_not_read_is_dropped_rather_than_buffered(
    alice, alice_key, redis_db, daphne_server
):
    job = make_job(alice)
    host, port = daphne_server.split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    sock.connect((host, int(port)))
    # max_queue=1: the client stops reading from the socket once one message waits for it.
    client = Recorder(
        ws_url(daphne_server, "/ws/jobs/", alice_key), [subscribe(job)], sock=sock, max_queue=1
    )
    client.until = lambda message, recorder: time.sleep(30) or True  # then never reads again
    client.start()
    client.wait_for(lambda m: m["event"] == "job_status_update")
    key = SOCKETS_KEY.format(user_id=alice.pk)
    assert redis_db.get(key) == b"1"

    line = JobLogEntry(id=1, job=job, message="x" * 100_000, seq=11)
    total = 150  # 15 MB: more than the kernel's socket buffers and the server's allowance
    assert total * 100_000 > 10 * DAPHNE_MAX_BUFFER
    async_to_sync(events.send)(events.routing(job), [events.log_event(line, 11)] * total)

    deadline = time.monotonic() + 15
    while redis_db.get(key) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert redis_db.get(key) is None, "the server let the slow client go"
    assert len(client.messages) < total
