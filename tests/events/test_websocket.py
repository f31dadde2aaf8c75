"""The WebSocket protocol, in-process (Channels' WebsocketCommunicator against batchsite.asgi)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from jobs import events
from jobs.models import JobLogEntry, JobStatus
from jobs.ws_auth import SOCKETS_KEY
from tests.events.wsclient import (
    close_code,
    connect,
    final,
    make_job,
    publish,
    quiet,
    receive,
    settle,
    status,
    subscribe,
    unknown_id,
)

# Consumers close old connections around each database call (channels.db), which a test inside
# one transaction would not survive: these tests commit.
pytestmark = pytest.mark.django_db(transaction=True)


def run(scenario) -> None:
    async_to_sync(scenario)()


# --- who may connect ------------------------------------------------------------------------


def test_sockets_without_valid_credentials_are_closed_with_4401(alice):
    job = make_job(alice)

    async def scenario():
        for path in ("/ws/jobs/", "/ws/jobs/?api_key=bs_wrong", f"/ws/job/{job.pk}/"):
            comm = await connect(path)
            assert await close_code(comm) == 4401, path
            await comm.disconnect()
        comm = await connect("/ws/jobs/", headers=[(b"authorization", b"Bearer bs_nope")])
        assert await close_code(comm) == 4401

    run(scenario)


def test_api_key_in_header_or_query_and_session_cookie_authenticate(alice, alice_key):
    job = make_job(alice)
    client = Client()
    client.force_login(alice)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def scenario():
        for path, headers in (
            (f"/ws/jobs/?api_key={alice_key}", []),
            ("/ws/jobs/", [(b"authorization", f"Bearer {alice_key}".encode())]),
            ("/ws/jobs/", [(b"cookie", cookie)]),
        ):
            comm = await connect(path, headers=headers)
            snapshot = await subscribe(comm, job)
            assert snapshot[-1]["job_id"] == str(job.pk)
            await comm.disconnect()

    run(scenario)


def test_a_page_from_another_site_is_refused_but_scripts_without_origin_are_not(alice_key):
    async def scenario():
        comm = await connect("/ws/jobs/", alice_key, headers=[(b"origin", b"http://127.0.0.1")])
        await settle(comm)
        await comm.disconnect()
        from channels.testing import WebsocketCommunicator

        from batchsite.asgi import application

        evil = WebsocketCommunicator(
            application,
            f"/ws/jobs/?api_key={alice_key}",
            headers=[(b"origin", b"http://evil.test")],
        )
        connected, _ = await evil.connect(timeout=5)
        assert not connected

    run(scenario)


def test_each_user_has_a_socket_cap(alice, alice_key, settings, redis_db):
    settings.BATCHSITE_MAX_SOCKETS_PER_USER = 2
    key = SOCKETS_KEY.format(user_id=alice.pk)

    async def scenario():
        first = await connect("/ws/jobs/", alice_key)
        second = await connect("/ws/jobs/", alice_key)
        await settle(second)
        third = await connect("/ws/jobs/", alice_key)
        assert await close_code(third) == 4429
        await third.disconnect()
        assert int(redis_db.get(key)) == 2
        assert 0 < redis_db.ttl(key) <= 120
        await first.disconnect()
        fourth = await connect("/ws/jobs/", alice_key)
        await settle(fourth)
        await second.disconnect()
        await fourth.disconnect()

    run(scenario)
    assert redis_db.get(key) is None


# --- subscribing ----------------------------------------------------------------------------


def test_subscribe_job_starts_with_the_jobs_current_state(alice, alice_key):
    job = make_job(alice, count_succeeded=4, count_queued=6, progress=40.0, current_step="fetch")

    async def scenario():
        comm = await connect("/ws/jobs/", alice_key)
        assert await subscribe(comm, job) == [events.status_event(job)]
        await quiet(comm)
        await comm.disconnect()

    run(scenario)


def test_jobs_the_user_may_not_see_are_not_found_and_the_socket_stays_open(alice, bob_key, bob):
    alices = make_job(alice)
    bobs = make_job(bob)

    async def scenario():
        comm = await connect("/ws/jobs/", bob_key)
        for job_id in (str(alices.pk), unknown_id(), "not-a-uuid", 42):
            await comm.send_json_to({"event": "subscribe_job", "job_id": job_id})
            reply = await receive(comm)
            assert (reply["event"], reply["code"]) == ("error", "not_found"), job_id
            assert "detail" in reply
        await publish(alices, status(alices, 11))
        await quiet(comm)
        assert (await subscribe(comm, bobs))[-1]["job_id"] == str(bobs.pk)
        await comm.disconnect()

    run(scenario)


def test_malformed_messages_get_bad_request_and_the_socket_stays_open(alice, alice_key):
    job = make_job(alice)
    bad = [
        "not json",
        "[1, 2]",
        '"subscribe_job"',
        '{"event": "dance"}',
        '{"job_id": "x"}',
        '{"event": "subscribe_job"}',
        f'{{"event": "subscribe_job", "job_id": "{job.pk}", "last_seq": -1}}',
        f'{{"event": "subscribe_job", "job_id": "{job.pk}", "last_seq": "soon"}}',
        '{"event": "unsubscribe_job"}',
        '{"event": "subscribe_all_jobs", "filters": {"status": ["bogus"]}}',
        '{"event": "subscribe_all_jobs", "filters": {"priority": "11"}}',
        '{"event": "subscribe_all_jobs", "filters": {"processor": "nope"}}',
        '{"event": "subscribe_all_jobs", "filters": {"colour": "red"}}',
        '{"event": "subscribe_all_jobs", "filters": []}',
    ]

    async def scenario():
        comm = await connect("/ws/jobs/", alice_key)
        for text in bad:
            await comm.send_to(text_data=text)
            reply = await receive(comm)
            assert (reply["event"], reply["code"]) == ("error", "bad_request"), text
            assert reply["detail"]
        await quiet(comm)  # nothing was subscribed by a bad message
        assert (await subscribe(comm, job))[-1]["seq"] == job.seq
        await comm.disconnect()

    run(scenario)


def log_lines(job, seqs):
    return [JobLogEntry.objects.create(job=job, message=f"line at {s}", seq=s) for s in seqs]


def test_last_seq_sends_the_missed_log_lines_oldest_first_then_the_state(alice, alice_key):
    job = make_job(alice, seq=9)
    lines = log_lines(job, [2, 4, 6, 6, 9])

    async def scenario():
        comm = await connect("/ws/jobs/", alice_key)
        snapshot = await subscribe(comm, job, last_seq=4)
        assert [m["event"] for m in snapshot] == ["job_log_entry"] * 3 + ["job_status_update"]
        assert [m["id"] for m in snapshot[:3]] == [line.pk for line in lines[2:]]
        assert snapshot[0] == events.log_event(lines[2], 6)
        assert "resync" not in snapshot[-1]
        await comm.disconnect()
        # The exact cursor: the last log id the client has.
        comm = await connect("/ws/jobs/", alice_key)
        snapshot = await subscribe(comm, job, last_log_id=lines[2].pk)
        assert [m.get("id") for m in snapshot[:-1]] == [lines[3].pk, lines[4].pk]
        await comm.disconnect()

    run(scenario)


def test_a_line_sharing_the_seq_of_the_state_shown_is_delivered_once(alice, alice_key):
    """A flush commits its log lines and the job's state with one seq; a client may read the
    state (snapshot) before the flush's own publish reaches it. The line still arrives once: in
    the snapshot, not again live, and not again after resuming with that seq as last_seq."""
    job = make_job(alice, seq=10)
    older, line = log_lines(job, [9, 10])
    live_copy = events.log_event(line, 10)
    newer = JobLogEntry(id=line.pk + 100, job=job, message="next", seq=11)

    async def scenario():
        comm = await connect("/ws/jobs/", alice_key)
        snapshot = await subscribe(comm, job)
        assert [m["event"] for m in snapshot] == ["job_log_entry", "job_status_update"]
        assert snapshot[0] == live_copy, "the state's own line, no history before it"
        assert older.pk not in [m.get("id") for m in snapshot]
        await publish(job, live_copy, status(job, 10))  # the flush's publish, late
        await quiet(comm)
        # Subscribing again on the same connection does not repeat it either.
        await comm.send_json_to({"event": "subscribe_job", "job_id": str(job.pk)})
        await settle(comm)
        await comm.disconnect()

        # It left having shown seq 10: resuming from there sends neither the line nor the state
        # it has, and the flush's publish arriving now is not passed on.
        comm = await connect("/ws/jobs/", alice_key)
        snapshot = await subscribe(comm, job, last_seq=10)
        assert [m["event"] for m in snapshot] == ["job_status_update"]
        await publish(job, live_copy)
        await quiet(comm)
        # A line written after the state it showed, with the next seq, is delivered live.
        await publish(job, events.log_event(newer, 11))
        assert (await receive(comm))["id"] == newer.pk
        await comm.disconnect()

    run(scenario)


def test_a_client_too_far_behind_gets_a_resync_snapshot_without_lines(alice, alice_key):
    job = make_job(alice, seq=700)
    JobLogEntry.objects.bulk_create(
        JobLogEntry(job=job, message=f"line {i}", seq=100 + i) for i in range(501)
    )

    async def scenario():
        comm = await connect("/ws/jobs/", alice_key)
        assert await subscribe(comm, job, last_seq=99) == [
            {**events.status_event(job), "resync": True}
        ]
        await quiet(comm)
        # 500 lines is still a catch-up (and the state, sent already, is not sent again).
        await comm.send_json_to({"event": "subscribe_job", "job_id": str(job.pk), "last_seq": 100})
        lines = [await receive(comm) for _ in range(500)]
        assert {m["event"] for m in lines} == {"job_log_entry"}
        await settle(comm)
        await comm.disconnect()
        comm = await connect("/ws/jobs/", alice_key)  # ahead of the database: start over
        assert (await subscribe(comm, job, last_seq=900))[-1]["resync"] is True
        await comm.disconnect()

    run(scenario)


def test_a_client_never_gets_an_older_state_than_one_it_has(alice, alice_key):
    job = make_job(alice, seq=10)

    async def scenario():
        comm = await connect("/ws/jobs/", alice_key)
        assert (await subscribe(comm, job))[-1]["seq"] == 10
        await publish(job, status(job, 9), status(job, 10), status(job, 12))
        assert (await receive(comm))["seq"] == 12
        await publish(job, status(job, 11), status(job, 12), final(job, 12), final(job, 12))
        assert (await receive(comm))["event"] == "job_completed"
        await quiet(comm)
        # Subscribing again does not send the same state twice either.
        assert await subscribe_again(comm, job) == []
        await comm.disconnect()

    async def subscribe_again(comm, job):
        await comm.send_json_to({"event": "subscribe_job", "job_id": str(job.pk)})
        await settle(comm)
        return []

    run(scenario)


def test_live_events_are_forwarded_until_unsubscribed(alice, alice_key):
    job = make_job(alice, seq=3)
    line = JobLogEntry(id=77, job=job, message="hello", seq=4)

    async def scenario():
        comm = await connect("/ws/jobs/", alice_key)
        await subscribe(comm, job)
        items = events.item_event(job.pk, 4, [{"id": 1, "status": "succeeded"}])
        await publish(job, events.log_event(line, 4), items, status(job, 4))
        assert [(await receive(comm))["event"] for _ in range(3)] == [
            "job_log_entry",
            "item_update",
            "job_status_update",
        ]
        await comm.send_json_to({"event": "unsubscribe_job", "job_id": str(job.pk)})
        await settle(comm)
        await publish(job, status(job, 5))
        await quiet(comm)
        await comm.disconnect()

    run(scenario)


def test_subscribe_all_jobs_applies_its_filters_before_sending(alice, alice_key, bob):
    running = make_job(alice, priority=5, processor="http_check")
    urgent = make_job(alice, priority=9, processor="instant", status=JobStatus.QUEUED)
    bobs = make_job(bob)

    async def all_jobs(comm, filters):
        await comm.send_json_to({"event": "subscribe_all_jobs", "filters": filters})
        await settle(comm)
        await publish(running, status(running, running.seq + 1))
        await publish(urgent, status(urgent, urgent.seq + 1))
        await publish(bobs, status(bobs, bobs.seq + 1))
        seen = []
        while not await comm.receive_nothing(0.3):
            seen.append((await receive(comm))["job_id"])
        return seen

    async def scenario():
        comm = await connect("/ws/jobs/", alice_key)
        assert await all_jobs(comm, {}) == [str(running.pk), str(urgent.pk)]
        assert await all_jobs(comm, {"status": "running,completed"}) == [str(running.pk)]
        assert await all_jobs(comm, {"status": ["queued"]}) == [str(urgent.pk)]
        assert await all_jobs(comm, {"priority": "urgent"}) == [str(urgent.pk)]
        assert await all_jobs(comm, {"priority": [4, 5, 6]}) == [str(running.pk)]
        assert await all_jobs(comm, {"processor": ["instant"]}) == [str(urgent.pk)]
        assert await all_jobs(comm, {"processor": "instant", "status": "running"}) == []
        await comm.disconnect()

    run(scenario)


def test_staff_following_all_jobs_see_everyones_once_even_when_also_subscribed(alice, staff, bob):
    from jobs.models import ApiKey

    key = ApiKey.issue(staff, "t")[1]
    alices, bobs = make_job(alice), make_job(bob)

    async def scenario():
        comm = await connect("/ws/jobs/", key)
        await subscribe(comm, alices)
        await comm.send_json_to({"event": "subscribe_all_jobs"})
        await settle(comm)
        line = JobLogEntry(id=5, job=alices, message="once", seq=11)
        await publish(alices, events.log_event(line, 11), status(alices, 11))
        await publish(bobs, status(bobs, 11))
        seen = [await receive(comm) for _ in range(3)]
        assert [(m["event"], m["job_id"]) for m in seen] == [
            ("job_log_entry", str(alices.pk)),
            ("job_status_update", str(alices.pk)),
            ("job_status_update", str(bobs.pk)),
        ]
        await quiet(comm)
        await comm.disconnect()

    run(scenario)


def test_subscriptions_are_counted_for_the_runners_event_interval(alice, alice_key, redis_db):
    job = make_job(alice)
    key = events.SUBSCRIBERS_KEY.format(job_id=job.pk)

    async def scenario():
        one = await connect("/ws/jobs/", alice_key)
        two = await connect("/ws/jobs/", alice_key)
        await subscribe(one, job)
        await subscribe(two, job)
        assert int(redis_db.get(key)) == 2
        assert 0 < redis_db.ttl(key) <= 120
        await two.send_json_to({"event": "subscribe_all_jobs"})
        await settle(two)
        assert events.subscriber_count(job.pk) == 3  # two on the job, one on all jobs
        await one.send_json_to({"event": "unsubscribe_job", "job_id": str(job.pk)})
        await settle(one)
        assert int(redis_db.get(key)) == 1
        await one.disconnect()
        await two.disconnect()

    run(scenario)
    assert redis_db.get(key) is None
    assert redis_db.get(events.ALL_SUBSCRIBERS_KEY) is None


# --- /ws/job/<id>/ --------------------------------------------------------------------------


def test_job_socket_follows_one_job_and_closes_after_its_final_event(alice, alice_key):
    job = make_job(alice, seq=5)

    async def scenario():
        comm = await connect(f"/ws/job/{job.pk}/", alice_key)
        assert (await receive(comm))["seq"] == 5
        await comm.send_json_to({"event": "subscribe_job", "job_id": unknown_id()})
        assert (await receive(comm))["code"] == "bad_request"
        await publish(job, status(job, 6, status=JobStatus.COMPLETED), final(job, 6))
        assert [(await receive(comm))["event"] for _ in range(2)] == [
            "job_status_update",
            "job_completed",
        ]
        assert await close_code(comm) == 1000

    run(scenario)


def test_job_socket_of_a_finished_job_closes_right_after_the_snapshot(alice, alice_key):
    job = make_job(alice, status=JobStatus.FAILED, seq=8)
    JobLogEntry.objects.create(job=job, message="Failed: processor gone", seq=8)

    async def scenario():
        comm = await connect(f"/ws/job/{job.pk}/?last_seq=7", alice_key)
        assert [(await receive(comm))["event"] for _ in range(3)] == [
            "job_log_entry",
            "job_status_update",
            "job_failed",
        ]
        assert await close_code(comm) == 1000

    run(scenario)


def test_job_socket_for_a_job_the_user_may_not_see_says_not_found(alice, bob_key):
    job = make_job(alice)

    async def scenario():
        for path in (f"/ws/job/{job.pk}/", "/ws/job/nope/", f"/ws/job/{job.pk}/?last_seq=x"):
            comm = await connect(path, bob_key)
            reply = await receive(comm)
            assert reply["event"] == "error"
            assert await close_code(comm) in (4404, 4400)

    run(scenario)
