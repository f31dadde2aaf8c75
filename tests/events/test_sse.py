"""Server-sent events, in-process (Channels' ApplicationCommunicator against batchsite.asgi)."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync

from jobs import events
from jobs.models import JobLogEntry, JobStatus
from tests.events.wsclient import Stream, final, make_job, parse_frames, publish, status

pytestmark = pytest.mark.django_db(transaction=True)


def run(scenario) -> None:
    async_to_sync(scenario)()


def bearer(key: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {key}".encode())]


async def refused(path: str, headers=None, method: str = "GET") -> tuple[int, dict]:
    stream = await Stream(path, headers, method).start()
    body = await stream.read_to_end()
    assert stream.headers[b"content-type"] == b"application/json"
    return stream.status, json.loads(body)


def test_streams_refuse_anonymous_clients_and_jobs_they_may_not_see(alice, bob_key):
    job = make_job(alice)

    async def scenario():
        assert (await refused(f"/api/jobs/{job.pk}/events"))[0] == 401
        assert (await refused("/api/events?api_key=bs_wrong"))[0] == 401
        for path in (f"/api/jobs/{job.pk}/events", "/api/jobs/nope/events"):
            status_code, body = await refused(path, bearer(bob_key))
            assert (status_code, body) == (404, {"detail": "No such job."})
        headers = [*bearer(bob_key), (b"last-event-id", b"later")]
        assert (await refused(f"/api/jobs/{job.pk}/events", headers))[0] == 400
        assert (await refused("/api/events?status=bogus", bearer(bob_key)))[0] == 400
        assert (await refused("/api/events", bearer(bob_key), method="POST"))[0] == 405

    run(scenario)


def test_a_job_stream_sends_the_snapshot_then_live_events_and_ends_after_the_final_one(
    alice, alice_key
):
    job = make_job(alice, seq=4)

    async def scenario():
        stream = await Stream(f"/api/jobs/{job.pk}/events?api_key={alice_key}").start()
        assert stream.status == 200
        assert stream.headers[b"content-type"] == b"text/event-stream; charset=utf-8"
        assert stream.headers[b"cache-control"] == b"no-cache"
        await stream.read_until(b"event: job_status_update")
        await publish(job, status(job, 3), status(job, 5, status=JobStatus.COMPLETED))
        await publish(job, final(job, 5))
        body = await stream.read_to_end()
        frames = parse_frames(body)
        assert [(f["id"], f["event"]) for f in frames] == [
            ("4", "job_status_update"),
            ("5", "job_status_update"),
            ("5", "job_completed"),
        ]
        assert json.loads(frames[-1]["data"]) == final(job, 5)
        assert body.startswith(b"retry: ")
        assert b"id: 4\nevent: job_status_update\ndata: {" in body

    run(scenario)


def test_last_event_id_catches_up_on_missed_log_lines(alice, alice_key):
    job = make_job(alice, seq=6, status=JobStatus.COMPLETED)
    lines = [JobLogEntry.objects.create(job=job, message=f"at {s}", seq=s) for s in (2, 3, 5)]

    async def scenario():
        for path, headers in (
            (f"/api/jobs/{job.pk}/events", [*bearer(alice_key), (b"last-event-id", b"2")]),
            (f"/api/jobs/{job.pk}/events?last_event_id=2&api_key={alice_key}", []),
        ):
            stream = await Stream(path, headers).start()
            frames = parse_frames(await stream.read_to_end())  # finished: the snapshot only
            assert [f["event"] for f in frames] == [
                "job_log_entry",
                "job_log_entry",
                "job_status_update",
                "job_completed",
            ]
            assert [json.loads(f["data"])["id"] for f in frames[:2]] == [
                lines[1].pk,
                lines[2].pk,
            ]
            assert [f["id"] for f in frames] == ["3", "5", "6", "6"]

    run(scenario)


def test_a_quiet_stream_gets_a_heartbeat_comment(alice, alice_key, settings):
    settings.BATCHSITE_SSE_HEARTBEAT = 0.05
    job = make_job(alice)

    async def scenario():
        stream = await Stream(f"/api/jobs/{job.pk}/events", bearer(alice_key)).start()
        await stream.read_until(b": ping\n\n", timeout=2)
        await stream.close()

    run(scenario)


def test_the_all_jobs_stream_follows_every_job_of_the_user_through_its_filters(
    alice, alice_key, bob
):
    running = make_job(alice, priority=9)
    queued = make_job(alice, status=JobStatus.QUEUED)
    bobs = make_job(bob)

    async def scenario():
        stream = await Stream(f"/api/events?status=running&api_key={alice_key}").start()
        await stream.read_until(b"retry: ")
        await publish(queued, status(queued, 20))
        await publish(bobs, status(bobs, 20))
        await publish(running, status(running, 20))
        frames = parse_frames(await stream.read_until(b"id: 20"))
        assert [json.loads(f["data"])["job_id"] for f in frames] == [str(running.pk)]
        await stream.close()

    run(scenario)


def test_django_still_serves_the_rest_of_http(alice):
    async def scenario():
        stream = await Stream("/accounts/login/", [(b"host", b"127.0.0.1")]).start()
        await stream.read_to_end()
        assert stream.status == 200
        assert b"<form" in stream.body

    run(scenario)


def test_closing_a_stream_gives_its_counters_back(alice, alice_key, redis_db):
    job = make_job(alice)
    key = events.SUBSCRIBERS_KEY.format(job_id=job.pk)

    async def scenario():
        stream = await Stream(f"/api/jobs/{job.pk}/events", bearer(alice_key)).start()
        await stream.read_until(b"job_status_update")
        assert int(redis_db.get(key)) == 1
        await stream.close()

    run(scenario)
    assert redis_db.get(key) is None
    assert redis_db.keys("batchsite:sockets:*") == []
