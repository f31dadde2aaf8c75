"""Fan-out inside one daphne process: the process joins each group once, and one task hands every
event to each WebSocket of the process that follows the group.

Channels' own way — every consumer joins the group with a channel of its own — makes the pub/sub
layer put each event in every socket's queue, decode it once per socket and wake every socket's
task to forward it. With 5,000 sockets on one job, that was a quarter of the process's time
(py-spy on bench/events.py); the rest is daphne writing to the sockets, which no consumer avoids.
Here an event is decoded once per process and written to each socket in turn, from one task.

Only with the pub/sub layer (the product's: channels_redis.pubsub), which hands a process every
message of its groups however many wait. Layers with a capacity per channel (RedisChannelLayer,
the in-memory layer: 100 by default) would drop events for all of a process's sockets once its
one channel fell that far behind; with them every socket keeps a channel of its own (`supports`).

The publisher names the group in each message (jobs.events), so the one channel of the process
knows which followers a message is for. Event order per socket is the order the process receives
them, as before. A follower holds what arrives while it sets up a subscription (jobs.following:
`Follower.held`) and sends it after its snapshot, as its own queue used to.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any, Protocol

log = logging.getLogger(__name__)

# Followers served before the task lets the event loop run other work (new connections, pings,
# the writes already queued) during one event's fan-out.
YIELD_EVERY = 100


class Member(Protocol):
    async def deliver(self, message: dict[str, Any]) -> None: ...


class LocalGroups:
    """The groups this event loop's followers are in, on one channel of the layer."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self.members: dict[str, dict[Member, None]] = {}  # group → followers, in joining order
        self.subscribed: set[str] = set()
        self.lock = asyncio.Lock()  # one layer (un)subscription at a time: they cannot cross
        self.channel: str | None = None
        self.reader: asyncio.Task | None = None

    async def join(self, group: str, member: Member) -> None:
        """Returns once the process hears the group (so no event falls before what the caller
        reads next, e.g. a snapshot)."""
        self.members.setdefault(group, {})[member] = None
        await self._sync(group)

    async def leave(self, group: str, member: Member) -> None:
        members = self.members.get(group)
        if not members or member not in members:
            return
        del members[member]
        if not members:
            del self.members[group]
        await self._sync(group)

    def size(self, group: str) -> int:
        return len(self.members.get(group, ()))

    async def _sync(self, group: str) -> None:
        """Subscribe the process's channel to `group` while it has followers, and not after."""
        async with self.lock:
            wanted, heard = bool(self.members.get(group)), group in self.subscribed
            if wanted and not heard:
                if self.channel is None:
                    self.channel = await self.layer.new_channel("fanout.")
                    self.reader = asyncio.create_task(self._read(), name="batchsite-fanout")
                await self.layer.group_add(group, self.channel)
                self.subscribed.add(group)
            elif heard and not wanted:
                self.subscribed.discard(group)
                await self.layer.group_discard(group, self.channel)

    async def _read(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # the layer reconnects by itself; keep listening
                log.exception("Fan-out: receiving from the channel layer failed")
                await asyncio.sleep(1.0)
                continue
            await self.fan_out(message)

    async def fan_out(self, message: dict[str, Any]) -> None:
        members = self.members.get(message.get("group", ""))
        if not members:
            return
        for n, member in enumerate(tuple(members), start=1):
            try:
                await member.deliver(message)
            except asyncio.CancelledError:
                raise
            except Exception:  # one socket's failure is not the others'
                log.exception("Fan-out: delivering an event failed")
            if n % YIELD_EVERY == 0:
                await asyncio.sleep(0)


def supports(layer) -> bool:
    """Whether `layer` delivers every message of a group to the process (no channel capacity)."""
    from channels_redis.pubsub import RedisPubSubChannelLayer

    return isinstance(layer, RedisPubSubChannelLayer)


_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LocalGroups] = (
    weakref.WeakKeyDictionary()
)


def local_groups(layer) -> LocalGroups:
    """This event loop's groups on `layer` (a new set when the layer changed, as in tests)."""
    loop = asyncio.get_running_loop()
    groups = _BY_LOOP.get(loop)
    if groups is None or groups.layer is not layer:
        groups = _BY_LOOP[loop] = LocalGroups(layer)
    return groups
