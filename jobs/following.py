"""What live connections share, WebSocket (jobs.consumers) and SSE (jobs.sse) alike: who may
follow which jobs, the snapshot a subscription starts with, and what each connection already sent,
so that a client never sees a state older than one it has (see jobs.consumers for the protocol).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from channels.db import database_sync_to_async

from jobs import events, fanout
from jobs.access import can_see_all, jobs_for
from jobs.api.filters import PRIORITY_BANDS
from jobs.models import JobStatus
from jobs.processors.registry import processors
from jobs.ws_auth import SEND_TIMEOUT, SendBuffer, admit_connection, counters, max_buffer

FINAL_NAMES = frozenset(events.FINAL_EVENTS.values())
CATCHUP_LINES = 500  # more missed log lines than this: a snapshot with "resync" instead
WATCHES_KEPT = 10_000  # jobs a connection remembers the last sent seq of


def dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"))


_ENCODED: dict[tuple, str] = {}


def encoded(event: dict[str, Any]) -> str:
    """The JSON of a live event, encoded once per process rather than once per socket: every
    follower of a job gets the same event, and an item_update of 500 items takes milliseconds to
    encode. (seq grows with every change of a job, so the key names one content.)"""
    if event.get("seq") is None or event.get("job_id") is None:
        return dumps(event)
    items = event.get("items")
    key = (event["event"], event["job_id"], event["seq"], event.get("id"), len(items or ()))
    text = _ENCODED.get(key)
    if text is None:
        if len(_ENCODED) >= 512:
            del _ENCODED[next(iter(_ENCODED))]
        text = _ENCODED[key] = dumps(event)
    return text


class BadRequest(ValueError):
    pass


def _names(value: Any, field: str) -> list[str]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not value:
        raise BadRequest(f"filters.{field}: a list or a comma-separated string.")
    return [str(v).strip().lower() if field == "priority" else str(v) for v in value]


class Filters:
    """subscribe_all_jobs filters, checked on each event's routing facts (no query)."""

    def __init__(self, raw: Any = None) -> None:
        raw = {} if raw is None else raw
        if not isinstance(raw, dict) or set(raw) - {"status", "priority", "processor"}:
            raise BadRequest("filters: an object with status, priority and/or processor.")
        self.status = self.priority = self.processor = None
        if raw.get("status") is not None:
            self.status = frozenset(_names(raw["status"], "status"))
            if self.status - set(JobStatus.values):
                raise BadRequest(f"filters.status: one or more of {', '.join(JobStatus.values)}.")
        if raw.get("priority") is not None:
            allowed: set[int] = set()
            for value in _names(raw["priority"], "priority"):
                low, high = PRIORITY_BANDS.get(value) or (
                    (int(value), int(value)) if value.isdigit() else (0, 0)
                )
                if not 1 <= low <= high <= 10:
                    raise BadRequest("filters.priority: 1–10 or low, normal, high, urgent.")
                allowed.update(range(low, high + 1))
            self.priority = frozenset(allowed)
        if raw.get("processor") is not None:
            self.processor = frozenset(_names(raw["processor"], "processor"))
            if self.processor - set(processors()):
                raise BadRequest(f"filters.processor: one of {', '.join(sorted(processors()))}.")

    def accepts(self, job: dict[str, Any]) -> bool:
        return (
            (self.status is None or job["status"] in self.status)
            and (self.priority is None or job["priority"] in self.priority)
            and (self.processor is None or job["processor"] in self.processor)
        )


class Watch:
    """What a connection already sent about one job."""

    __slots__ = ("after_seq", "catchup", "final_seq", "status_seq")

    def __init__(self) -> None:
        self.status_seq = self.final_seq = self.after_seq = -1
        self.catchup: frozenset[int] = frozenset()  # log ids sent in the last catch-up

    def admit(self, event: dict[str, Any]) -> bool:
        name, seq = event.get("event"), event.get("seq", 0)
        if name == "job_status_update":
            if seq <= self.status_seq:
                return False
            self.status_seq = seq
            return True
        if name in FINAL_NAMES:
            if seq <= self.final_seq:
                return False
            self.final_seq = seq
            return True
        if name == "job_log_entry" and event.get("id") in self.catchup:
            return False
        return seq > self.after_seq  # log lines and item updates the client said it has


def parse_cursor(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        # Past 30 digits it is no cursor of ours (and int() refuses 4,300+ digits).
        value = int(value) if len(value.strip()) < 30 else -1
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadRequest(f"{name}: a whole number ≥ 0.")
    return value


@database_sync_to_async
def job_snapshot(user, job_id: str, last_seq: int | None, last_log_id: int | None):
    """The payloads that start a subscription, or None when `user` may not see the job."""
    job = jobs_for(user).filter(pk=job_id).first()
    if job is None:
        return None
    status = events.status_event(job)
    lines: list[dict[str, Any]] = []
    # Only lines the state read above has: newer ones reach the client live (it joined the
    # job's group first), after this state rather than before it.
    entries = job.log_entries.filter(seq__lte=job.seq).order_by("id")
    if last_log_id is not None:
        entries = entries.filter(id__gt=last_log_id)
    elif last_seq is not None:
        entries = entries.filter(seq__gt=last_seq)
    else:
        # No cursor: no history, but the lines written with the state shown (they share its
        # seq), so that "I have seq N" always means "I have every line up to seq N" — a client
        # that resumes with that seq as last_seq is not sent them again, and misses none.
        entries = entries.filter(seq=job.seq)
    found = list(entries[: CATCHUP_LINES + 1])
    if len(found) > CATCHUP_LINES or (last_seq or 0) > job.seq:
        status["resync"] = True  # too far behind, or ahead of the database: start over
    else:
        lines = [events.log_event(entry, entry.seq) for entry in found]
    payloads = [*lines, status]
    if job.status in events.FINAL_EVENTS:
        payloads.append(events.status_event(job, event=events.FINAL_EVENTS[job.status]))
    return payloads


class Follower:
    """What WebSocket and SSE consumers share: who the user is, which groups the connection is
    in, which jobs it follows and what it already sent. Subclasses implement `send_event`,
    `finish` (after a followed job's final event, for one-job connections) and `drop`.

    `shares_fanout`: join groups through the process's shared subscription (jobs.fanout), which
    calls `deliver` from its own task, rather than with the connection's own channel. WebSockets
    do on the pub/sub layer; SSE streams (whose `finish` and `drop` end their own task) keep their
    channel."""

    single_job = False
    shares_fanout = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = None
        self.sees_all = False
        self.live = False
        self.released = False
        self.connection_key: str | None = None
        self.buffer: SendBuffer | None = None
        self.joined: set[str] = set()
        self.jobs: set[str] = set()  # followed one by one
        self.all_group: str | None = None  # the owner's (or staff) group, when following all
        self.filters = Filters()
        self.watches: dict[str, Watch] = {}
        self.holding = 0
        self.backlog: list[dict[str, Any]] = []
        self.local_fanout = False

    async def __call__(self, scope, receive, send):
        try:
            return await super().__call__(scope, receive, send)
        finally:
            await asyncio.shield(self.release())

    async def dispatch(self, message):
        # Forwarding needs no database: skip Channels' per-message close_old_connections (a
        # thread hop per event per connection, the largest cost of a fan-out).
        if message["type"] == events.MESSAGE_TYPE:
            return await self.batch_event(message)
        return await super().dispatch(message)

    async def open(self) -> int | None:
        """Authenticate and count the connection; returns a close code when refused."""
        user = self.scope.get("user")
        user = getattr(user, "_wrapped", user)  # Channels' lazy user, resolved by the middleware
        if user is None or not user.is_authenticated:
            return 4401
        self.connection_key = await admit_connection(user)
        if self.connection_key is None:
            return 4429
        self.user, self.live = user, True
        self.local_fanout = self.shares_fanout and fanout.supports(self.channel_layer)
        self.sees_all = await database_sync_to_async(can_see_all)(user)  # staff and viewers
        self.buffer = SendBuffer.find(self.base_send)
        return None

    async def follow_queues(self) -> None:
        """queue_updated: every /ws/jobs/ socket and /api/events stream hears it, with the
        figures of the user's own jobs (staff: everyone's)."""
        await self._join(events.queues_group(self.user))

    async def _join(self, group: str) -> None:
        if group not in self.joined:
            self.joined.add(group)
            if self.local_fanout:
                await fanout.local_groups(self.channel_layer).join(group, self)
            else:
                await self.channel_layer.group_add(group, self.channel_name)

    async def _leave(self, group: str) -> None:
        if group in self.joined:
            self.joined.discard(group)
            if self.local_fanout:
                await fanout.local_groups(self.channel_layer).leave(group, self)
            else:
                await self.channel_layer.group_discard(group, self.channel_name)

    async def deliver(self, message: dict[str, Any]) -> None:
        """An event from the process's shared subscription (jobs.fanout)."""
        if self.holding:
            self.backlog.append(message)
        else:
            await self.batch_event(message)

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """Live events that arrive meanwhile wait, then go out in order: a subscription's
        snapshot goes first (what the connection's own queue did when it joined groups itself)."""
        self.holding += 1
        try:
            yield
        finally:
            self.holding -= 1
            while not self.holding and self.backlog:
                await self.batch_event(self.backlog.pop(0))

    def watch(self, job_id: str) -> Watch:
        watch = self.watches.get(job_id)
        if watch is None:
            if len(self.watches) >= WATCHES_KEPT:
                for old in [j for j in self.watches if j not in self.jobs][: WATCHES_KEPT // 10]:
                    del self.watches[old]
            watch = self.watches[job_id] = Watch()
        return watch

    async def follow_job(self, job_id: Any, last_seq=None, last_log_id=None):
        """Join the job's group, then read its snapshot (so no event falls between the two);
        returns what to send first, or None when the user may not see the job."""
        try:
            key = str(uuid.UUID(str(job_id)))
        except ValueError:
            return None
        group = events.job_group(key)
        joined_now = self.all_group is None and group not in self.joined
        if joined_now:
            await self._join(group)
        payloads = await job_snapshot(self.user, key, last_seq, last_log_id)
        if payloads is None:
            if joined_now:
                await self._leave(group)
            return None
        if key not in self.jobs:
            self.jobs.add(key)
            await counters.incr(events.SUBSCRIBERS_KEY.format(job_id=key))
        watch = self.watch(key)
        lines = [p for p in payloads if p["event"] == "job_log_entry"]
        if last_seq is not None:
            watch.after_seq = last_seq
        elif last_log_id is None:  # the state's own lines: not again to a connection that has it
            lines = [p for p in lines if p["seq"] > watch.status_seq]
        watch.catchup = frozenset(p["id"] for p in lines)
        return lines + [p for p in payloads if p["event"] != "job_log_entry" and watch.admit(p)]

    async def follow_all(self, filters: Filters) -> None:
        self.filters = filters
        if self.all_group is not None:
            return
        self.all_group = events.STAFF_GROUP if self.sees_all else events.owner_group(self.user.pk)
        await self._join(self.all_group)
        await counters.incr(events.ALL_SUBSCRIBERS_KEY)
        # The publisher sends every job's events to its owner's group and the staff group too,
        # so job groups are redundant now (and would deliver each event twice).
        for group in [g for g in self.joined if g.startswith(events.job_group(""))]:
            await self._leave(group)

    async def unfollow_job(self, job_id: Any) -> None:
        try:
            key = str(uuid.UUID(str(job_id)))
        except ValueError:
            return
        if key in self.jobs:
            self.jobs.discard(key)
            await self._leave(events.job_group(key))
            await counters.decr(events.SUBSCRIBERS_KEY.format(job_id=key))

    async def batch_event(self, message: dict[str, Any]) -> None:
        if not self.live:
            return
        job, event = message.get("job"), message["event"]
        if job is None:  # queue_updated, sent to this user's own queues group
            await self.emit(event, dumps(event))
            return
        job_id = job["id"]
        if job_id not in self.jobs and not (
            self.all_group is not None
            and self.filters.accepts(job)
            and (self.sees_all or job["owner_id"] == self.user.pk)
        ):
            return
        if self.watch(job_id).admit(event):
            await self.emit(event, encoded(event))
            if self.single_job and event["event"] in FINAL_NAMES and self.live:
                await self.finish()

    async def emit(self, payload: dict[str, Any], text: str | None = None) -> None:
        """Send, unless the client does not read what it is sent: then it is dropped, rather than
        buffered without bound."""
        if not self.live:
            return
        if self.buffer is not None:
            if self.buffer.pending() > max_buffer():
                await self.drop()
                return
            await self.send_event(payload, text)
            return
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                await self.send_event(payload, text)
        except TimeoutError:
            await self.drop()

    async def release(self) -> None:
        """Leave every group and give back every counter (idempotent; runs however we end)."""
        if self.released:
            return
        self.released, self.live = True, False
        for group in list(self.joined):
            try:
                await self._leave(group)
            except Exception:  # the layer's connection may be gone with the process
                self.joined.discard(group)
        for key in self.jobs:
            await counters.decr(events.SUBSCRIBERS_KEY.format(job_id=key))
        if self.all_group is not None:
            await counters.decr(events.ALL_SUBSCRIBERS_KEY)
        if self.connection_key:
            await counters.decr(self.connection_key)
