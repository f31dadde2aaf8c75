"""queue_updated: who hears it, what it says, and what sends it."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from jobs import events
from jobs.models import ApiKey, JobStatus
from jobs.services import submit_batch
from tests.events.wsclient import Stream, connect, make_job, parse_frames, quiet, receive

pytestmark = pytest.mark.django_db(transaction=True)


def run(scenario) -> None:
    async_to_sync(scenario)()


def by_name(event) -> dict[str, dict]:
    assert event["event"] == "queue_updated", event
    return {q.pop("name"): q for q in [dict(q) for q in event["queues"]]}


def test_each_user_hears_their_own_queue_figures_and_staff_everyones(
    alice, alice_key, bob, bob_key, staff, redis_db
):
    staff_key = ApiKey.issue(staff, "live")[1]
    # alice: a running normal-priority job (3 waiting, 2 processing, 5 done) and a queued urgent
    # one; bob: a running low-priority job; a finished job counts nowhere.
    job = make_job(
        alice, priority=5, count_queued=3, count_processing=2, count_succeeded=4, count_failed=1
    )
    make_job(alice, priority=10, status=JobStatus.QUEUED, count_queued=7)
    make_job(bob, priority=2, count_queued=1, count_processing=0, count_succeeded=0)
    make_job(bob, priority=2, status=JobStatus.COMPLETED, count_queued=0, count_succeeded=50)

    async def scenario():
        alices = await connect("/ws/jobs/", alice_key)  # no subscription needed
        bobs = await connect("/ws/jobs/", bob_key)
        staffs = await connect("/ws/jobs/", staff_key)
        one_job = await connect(f"/ws/job/{job.pk}/", alice_key)
        await receive(one_job)  # its snapshot
        assert await sync_to_async(events.publish_queues)() == 3  # staff, alice, bob

        mine = await receive(alices)
        assert by_name(mine) == {
            "urgent": {"pending": 7, "processing": 0, "completed": 0, "jobs": 1},
            "high": {"pending": 0, "processing": 0, "completed": 0, "jobs": 0},
            "default": {"pending": 3, "processing": 2, "completed": 5, "jobs": 1},
            "low": {"pending": 0, "processing": 0, "completed": 0, "jobs": 0},
        }
        assert by_name(await receive(bobs))["low"] == {
            "pending": 1,
            "processing": 0,
            "completed": 0,
            "jobs": 1,
        }
        everyone = by_name(await receive(staffs))
        assert (everyone["low"]["jobs"], everyone["default"]["jobs"]) == (1, 1)
        assert everyone["urgent"]["pending"] == 7
        await quiet(one_job)  # a one-job socket follows that job only
        for comm in (alices, bobs, staffs, one_job):
            await quiet(comm)
            await comm.disconnect()
        # seq grows from one publish to the next
        assert mine["seq"] >= 1

    run(scenario)


def test_submitting_and_ending_a_job_send_queue_updated_to_its_owner(
    alice, alice_key, bob_key, burst_worker, site, redis_db
):
    async def scenario():
        alices = await connect("/ws/jobs/", alice_key)
        bobs = await connect("/ws/jobs/", bob_key)
        submission = await sync_to_async(submit_batch)(alice, urls=[site.url("/ok/1")])
        queued = by_name(await receive(alices))
        assert queued["default"] == {"pending": 1, "processing": 0, "completed": 0, "jobs": 1}
        await sync_to_async(burst_worker)()
        seen = []
        while not await alices.receive_nothing(0.5):
            seen.append(await receive(alices))
        ended = by_name(seen[-1])  # the job is no longer active: nothing left in any queue
        assert all(
            q == {"pending": 0, "processing": 0, "completed": 0, "jobs": 0} for q in ended.values()
        )
        assert seen[-1]["seq"] > 1
        await quiet(bobs)  # bob has no job: he hears nothing of alice's
        await alices.disconnect()
        await bobs.disconnect()
        return submission

    run(scenario)


def test_the_all_jobs_stream_carries_queue_updated(alice, alice_key, redis_db):
    make_job(alice, priority=8, count_queued=4)

    async def scenario():
        stream = await Stream(f"/api/events?api_key={alice_key}").start()
        await stream.read_until(b"retry: ")
        await sync_to_async(events.publish_queues)()
        frames = parse_frames(await stream.read_until(b"event: queue_updated"))
        event = json.loads(frames[-1]["data"])
        assert frames[-1]["id"] == str(event["seq"])
        assert by_name(event)["high"]["pending"] == 4
        await stream.close()

    run(scenario)
