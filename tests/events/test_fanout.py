"""One process, many sockets (jobs.fanout): the process hears each group once, on one channel, and
hands every event to each of its sockets in the group, in order, once; events that arrive while a
socket sets up a subscription go out after its snapshot."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from jobs import events, fanout
from jobs.following import Follower
from tests.events.wsclient import connect, final, make_job, publish, quiet, receive, status

pytestmark = pytest.mark.django_db(transaction=True)

SOCKETS = 25


def run(scenario) -> None:
    async_to_sync(scenario)()


def test_many_sockets_on_one_job_share_one_subscription_and_each_gets_every_event_once(
    alice, alice_key
):
    job = make_job(alice, seq=10)
    group = events.job_group(job.pk)

    async def scenario():
        layer = get_channel_layer()
        comms = [await connect(f"/ws/job/{job.pk}/", alice_key) for _ in range(SOCKETS)]
        for comm in comms:
            assert (await receive(comm))["seq"] == 10  # the snapshot
        shared = fanout.local_groups(layer)
        assert shared.size(group) == SOCKETS
        assert group in shared.subscribed

        await publish(job, status(job, 11), status(job, 12), final(job, 13))
        for comm in comms:
            got = [await receive(comm) for _ in range(3)]
            assert [(m["event"], m["seq"]) for m in got] == [
                ("job_status_update", 11),
                ("job_status_update", 12),
                ("job_completed", 13),
            ]
            assert (await comm.receive_output(3))["type"] == "websocket.close"
        for comm in comms:
            await comm.wait(3)
        # Every socket closed after the final event: the process left the group.
        assert shared.size(group) == 0
        assert group not in shared.subscribed

    run(scenario)


def test_a_socket_that_leaves_gets_nothing_more_and_the_others_carry_on(alice, alice_key):
    job = make_job(alice, seq=10)

    async def scenario():
        staying = await connect("/ws/jobs/", alice_key)
        leaving = await connect("/ws/jobs/", alice_key)
        for comm in (staying, leaving):
            await comm.send_json_to({"event": "subscribe_job", "job_id": str(job.pk)})
            assert (await receive(comm))["seq"] == 10
        await leaving.disconnect()
        await publish(job, status(job, 11))
        assert (await receive(staying))["seq"] == 11
        assert fanout.local_groups(get_channel_layer()).size(events.job_group(job.pk)) == 1
        await quiet(staying)
        await staying.disconnect()

    run(scenario)


def test_on_a_layer_with_channel_capacities_each_socket_keeps_its_own_channel(
    alice, alice_key, settings
):
    # RedisChannelLayer drops what a channel holds past its capacity: one shared channel would
    # lose events for every socket of the process once it fell behind.
    settings.CHANNEL_LAYERS = {
        "default": {
            **settings.CHANNEL_LAYERS["default"],
            "BACKEND": "channels_redis.core.RedisChannelLayer",
        }
    }
    job = make_job(alice, seq=10)

    async def scenario():
        comm = await connect(f"/ws/job/{job.pk}/", alice_key)
        assert (await receive(comm))["seq"] == 10
        assert fanout.local_groups(get_channel_layer()).size(events.job_group(job.pk)) == 0
        await publish(job, status(job, 11))
        assert (await receive(comm))["seq"] == 11
        await comm.disconnect()

    run(scenario)


class Recording(Follower):
    """A follower that records what it would send (the fan-out's and held()'s side only)."""

    def __init__(self, job_id: str, fail: bool = False) -> None:
        super().__init__()
        self.live, self.fail, self.sent = True, fail, []
        self.jobs.add(job_id)

    async def send_event(self, payload: dict[str, Any], text: str | None = None) -> None:
        if self.fail:
            raise ConnectionResetError("gone")
        self.sent.append((payload["event"], payload["seq"]))


def message(job, payload: dict[str, Any]) -> dict[str, Any]:
    group = events.job_group(job.pk)
    return {
        "type": events.MESSAGE_TYPE,
        "event": payload,
        "job": events.routing(job),
        "group": group,
    }


def test_events_that_arrive_while_a_subscription_is_set_up_go_out_after_its_snapshot(alice):
    job = make_job(alice, seq=10)

    async def scenario():
        follower = Recording(str(job.pk))
        async with follower.held():
            await follower.deliver(message(job, status(job, 11)))
            await follower.deliver(message(job, status(job, 12)))
            assert follower.sent == []
            await follower.emit(status(job, 10))  # the snapshot, read meanwhile
        assert follower.sent == [
            ("job_status_update", 10),
            ("job_status_update", 11),
            ("job_status_update", 12),
        ]
        await follower.deliver(message(job, status(job, 13)))
        assert follower.sent[-1] == ("job_status_update", 13)

    run(scenario)


def test_one_failing_socket_does_not_stop_the_others(alice):
    job = make_job(alice, seq=10)

    async def scenario():
        shared = fanout.LocalGroups(get_channel_layer())
        group = events.job_group(job.pk)
        followers = [Recording(str(job.pk), fail=(i == 1)) for i in range(3)]
        for follower in followers:
            shared.members.setdefault(group, {})[follower] = None
        await shared.fan_out(message(job, status(job, 11)))
        assert [f.sent for f in followers] == [
            [("job_status_update", 11)],
            [],
            [("job_status_update", 11)],
        ]
        await shared.fan_out({**message(job, status(job, 12)), "group": "job.someone-else"})
        assert followers[0].sent == [("job_status_update", 11)]

    run(scenario)
