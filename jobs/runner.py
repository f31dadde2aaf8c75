"""The chunk runner: one RQ job working through a batch job's items.

A runner claims queued items of its job in the database, runs them concurrently on one event loop
with one HTTP client (the job's share of its concurrency, a per-host limit, a per-item timeout),
retries what is worth retrying, and writes outcomes in batches — every `BATCHSITE_FLUSH_ITEMS`
items or `BATCHSITE_FLUSH_SECONDS`, one short transaction that also claims the next items and
beats the runner's heartbeat. It stops claiming after `BATCHSITE_CHUNK_SIZE` items or
`BATCHSITE_SLICE_SECONDS` (then enqueues a continuation, so other jobs get their turn), when its job
is cancelled, or when nothing is left; the runner that sees the last item finish ends the job.

Runners of one job are interchangeable: any of them claims any queued item. That is what makes a
crash cheap — reconcile puts a dead runner's items back in the queue and makes sure a runner comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import socket
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from jobs import alerts, events, jobstate, logcontext, metrics
from jobs.bridge import DbBridge
from jobs.dbretry import retrying
from jobs.errors import ErrorCode, ItemError
from jobs.fetch import Fetcher
from jobs.models import AttemptOutcome, ItemStatus, JobStatus
from jobs.processors.base import Context, Item, Processor
from jobs.processors.registry import get_processor
from jobs.store import AttemptRow, Claimed, Outcome

log = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(UTC)


class Limiter:
    """A semaphore whose size can change while it is held (a job's share of its concurrency)."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.active = 0
        self._waiters: asyncio.Condition | None = None

    def _cond(self) -> asyncio.Condition:
        if self._waiters is None:
            self._waiters = asyncio.Condition()
        return self._waiters

    async def acquire(self) -> None:
        cond = self._cond()
        async with cond:
            await cond.wait_for(lambda: self.active < self.limit)
            self.active += 1

    async def release(self) -> None:
        cond = self._cond()
        async with cond:
            self.active -= 1
            cond.notify()

    async def resize(self, limit: int) -> None:
        cond = self._cond()
        async with cond:
            self.limit = max(1, limit)
            cond.notify_all()


@dataclass
class Buffers:
    """What happened since the last flush."""

    outcomes: list[Outcome] = field(default_factory=list)
    attempts: list[AttemptRow] = field(default_factory=list)
    logs: list[tuple[int | None, int, str, datetime]] = field(default_factory=list)

    def take(self) -> Buffers:
        taken = Buffers(self.outcomes, self.attempts, self.logs)
        self.outcomes, self.attempts, self.logs = [], [], []
        return taken

    def __bool__(self) -> bool:
        return bool(self.outcomes or self.attempts or self.logs)


def backoff_delay(attempt: int, retry_after: float | None) -> float | None:
    """Seconds to wait before the next attempt; None when the server asks for longer than we wait."""
    cap = settings.BATCHSITE_RETRY_BACKOFF_MAX
    if retry_after is not None:
        return retry_after if retry_after <= cap else None
    base = settings.BATCHSITE_RETRY_BACKOFF_BASE * (2 ** (attempt - 1))
    return min(cap, base * (0.5 + random.random()))  # jitter spreads retries of one host


class ChunkRunner:
    def __init__(self, job_id: str, *, rq_job_id: str = "", worker_name: str = "") -> None:
        self.job_id = str(job_id)
        self.rq_job_id = rq_job_id
        self.worker_name = worker_name
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.db = DbBridge()
        self.buffers = Buffers()
        self.cancelled = False
        self.stop_reason = ""
        self.claimed_total = 0
        self.flushes = 0
        self.done_total = 0
        self.pending: dict[int, Claimed] = {}  # claimed, not yet finished
        self.active: dict[int, Context] = {}  # items in an attempt right now
        self.stats: dict[str, Any] = {"cycles": 0, "claimed": 0, "done": 0}
        self.next_status_at = 0.0
        self.subscribers = 0
        self.subscribers_checked_at = float("-inf")
        self.failure_watch = alerts.FailureWatch(self.job_id)
        # Lines and item changes held for the next state, while many sockets watch the job.
        self.held_lines: list[dict[str, Any]] = []
        self.held_items: dict[int, dict[str, Any]] = {}

    # --- entry point ------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Process the job's items; returns a summary (stored by RQ as the job's result)."""
        snapshot = retrying(
            jobstate.start_runner, self.job_id, self.id, self.worker_name, self.rq_job_id
        )
        if snapshot is None:
            return {"job": self.job_id, "skipped": "job is not active"}
        self.snapshot = snapshot
        try:
            self.db.run(self._drive)
        finally:
            summary = retrying(
                jobstate.finish_runner,
                self.job_id,
                self.id,
                continue_job=self.stop_reason in ("budget", "slice"),
            )
        return {
            "job": self.job_id,
            "runner": self.id,
            "stop": self.stop_reason,
            **self.stats,
            **summary,
        }

    # --- the loop ---------------------------------------------------------------------------

    async def _drive(self) -> None:
        snap = self.snapshot
        self.processor: Processor = get_processor(snap["processor"])(snap["options"])
        self.limiter = Limiter(snap["share"])
        self.wake = asyncio.Event()
        self.cache: dict[str, Any] = {}
        self.flush_items = settings.BATCHSITE_FLUSH_ITEMS
        self.flush_seconds = settings.BATCHSITE_FLUSH_SECONDS
        started = time.monotonic()
        tasks: set[asyncio.Task] = set()
        fetcher = Fetcher.from_settings(
            concurrency=max(1, snap["concurrency"]),
            per_host_limit=snap["per_host_limit"],
            host_delay=snap["host_delay"],
        )
        async with fetcher:
            self.fetcher = fetcher
            await self.processor.setup(self._context(None))
            exhausted = False
            while True:
                self._stop_claiming_if_due(started)
                claim_n = 0 if (exhausted or self.stop_reason) else self._claim_target()
                claimed = await self._cycle(claim_n)
                if claim_n and len(claimed) < claim_n and not self.stop_reason:
                    exhausted = True
                for item in claimed:
                    task = asyncio.create_task(self._run_item(item))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if not tasks and (exhausted or self.stop_reason):
                    break
                await self._wait_for_work()
            if not self.stop_reason:
                self.stop_reason = "cancelled" if self.cancelled else "done"
        await self._cycle(0)  # the last outcomes

    def _stop_claiming_if_due(self, started: float) -> None:
        if self.stop_reason:
            return
        if self.cancelled:
            self.stop_reason = "cancelled"
        elif self.claimed_total >= settings.BATCHSITE_CHUNK_SIZE:
            self.stop_reason = "budget"
        elif time.monotonic() - started >= settings.BATCHSITE_SLICE_SECONDS:
            self.stop_reason = "slice"

    def _claim_target(self) -> int:
        # Keep up to two rounds of work claimed, so a slot that frees up never waits for a flush.
        room = 2 * self.limiter.limit - len(self.pending)
        budget = settings.BATCHSITE_CHUNK_SIZE - self.claimed_total
        if room < max(1, self.limiter.limit // 2) and self.pending:
            return 0
        return max(0, min(room, budget))

    async def _wait_for_work(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), timeout=self.flush_seconds)
        self.wake.clear()

    def _poke(self) -> None:
        """Wake the loop early when a flush is due or more items should be claimed."""
        if (
            len(self.buffers.outcomes) >= self.flush_items
            or len(self.pending) <= self.limiter.limit
            or not self.pending
        ):
            self.wake.set()

    async def _cycle(self, claim_n: int) -> list[Claimed]:
        batch = self.buffers.take()
        heartbeat = {
            "in_flight": self.limiter.active,
            "items_done": self.done_total,
            "current_step": self._current_step(),
            "current_urls": [
                self.pending[i].url for i in list(self.active)[:5] if i in self.pending
            ],
        }
        self.flushes += 1  # numbered, so that a retried flush is never written twice
        result = await self.db.call(
            retrying,
            jobstate.cycle,
            self.job_id,
            self.id,
            batch.outcomes,
            batch.attempts,
            batch.logs,
            claim_n,
            heartbeat,
            self.flushes,
            now(),
        )
        self.stats["cycles"] += 1
        await self._publish(result, batch.outcomes, final=claim_n == 0 and not self.pending)
        if batch.outcomes:
            metrics.items_flushed(self.snapshot["processor"], batch.outcomes)
            await self.failure_watch.check(result.job, self.db)
        if result.status in (JobStatus.CANCELLING, JobStatus.CANCELLED) or result.status is None:
            self.cancelled = True
        if result.share != self.limiter.limit:
            await self.limiter.resize(result.share)
        for item in result.claimed:
            self.pending[item.id] = item
        self.claimed_total += len(result.claimed)
        self.stats["claimed"] += len(result.claimed)
        return result.claimed

    async def _publish(self, result, outcomes: list[Outcome], *, final: bool) -> None:
        """Live events for this cycle: its log lines, one item_update, and the job's state when
        the coalescing interval has passed (or this runner is done). While the interval is
        stretched because many sockets watch the job, the lines and item changes of the flushes
        in between are held and go out with the next state (one item_update, the latest change
        of each item), so a job's fan-out is a few messages per interval, not a few per flush."""
        job = result.job
        if job is None:
            return
        self.held_lines += [events.log_event(entry, entry.seq) for entry in result.logs]
        for outcome in outcomes:
            self.held_items[outcome.id] = _item_payload(outcome)
        clock = time.monotonic()
        interval = events.status_interval(self._subscribers(job.pk, clock))
        with_status = final or clock >= self.next_status_at
        if not with_status and interval > settings.BATCHSITE_EVENT_INTERVAL:
            return
        payloads = self.held_lines
        if self.held_items:
            payloads.append(events.item_event(job.pk, job.seq, list(self.held_items.values())))
        self.held_lines, self.held_items = [], {}
        if with_status:
            payloads.append(events.status_event(job))
            self.next_status_at = clock + interval
        if payloads:
            await events.send(events.routing(job), payloads)

    def _subscribers(self, job_id, clock: float) -> int:
        # Read every few seconds: how many sockets watch this job sets the event interval.
        if clock >= self.subscribers_checked_at + 2.0:
            self.subscribers_checked_at = clock
            self.subscribers = events.subscriber_count(job_id)
        return self.subscribers

    def _current_step(self) -> str:
        steps = Counter(ctx.step_name for ctx in self.active.values() if ctx.step_name)
        return steps.most_common(1)[0][0] if steps else ""

    # --- one item ---------------------------------------------------------------------------

    def _context(self, item_id: int | None) -> Context:
        def sink(level: int, message: str) -> None:
            self.buffers.logs.append((item_id, level, message, now()))

        return Context(
            fetcher=self.fetcher,
            job_id=self.job_id,
            options=self.processor.options,
            cache=self.cache,
            is_cancelled=lambda: self.cancelled,
            log_sink=sink,
            steps=tuple(self.processor.steps),
        )

    async def _run_item(self, claimed: Claimed) -> None:
        logcontext.item_id.set(claimed.id)  # this item's task only: its log lines name it
        first_start: datetime | None = None
        attempt = 0
        error: ItemError | None = None
        result: dict[str, Any] | None = None
        ctx = self._context(claimed.id)
        while True:
            await self.limiter.acquire()
            try:
                if self.cancelled:
                    error = ItemError(ErrorCode.CANCELLED, "Job cancelled", retryable=False)
                    break
                attempt += 1
                started, t0 = now(), time.monotonic()
                first_start = first_start or started
                self.active[claimed.id] = ctx
                result, error = await self._attempt(claimed, attempt, ctx)
                elapsed = time.monotonic() - t0
            finally:
                self.active.pop(claimed.id, None)
                await self.limiter.release()
            self._record_attempt(claimed, attempt, ctx, started, elapsed, error)
            if error is None or not error.retryable or self.cancelled:
                break
            if attempt >= self.snapshot["max_attempts"]:
                break
            delay = backoff_delay(attempt, error.retry_after)
            if delay is None:
                break
            ctx.log(
                f"Attempt {attempt} failed ({error.code}: {error.message}); "
                f"retrying in {delay:.1f} s"
            )
            await asyncio.sleep(delay)
        self._record_outcome(claimed, attempt, ctx, first_start, result, error)

    async def _attempt(
        self, claimed: Claimed, attempt: int, ctx: Context
    ) -> tuple[dict[str, Any] | None, ItemError | None]:
        item = Item(id=claimed.id, url=claimed.url, position=claimed.position, attempt=attempt)
        try:
            async with asyncio.timeout(self.snapshot["item_timeout"]):
                return await self.processor.process(item, ctx), None
        except ItemError as exc:
            return None, exc
        except TimeoutError:
            seconds = self.snapshot["item_timeout"]
            return None, ItemError(ErrorCode.TIMEOUT, f"No result within {seconds:g} s")
        except Exception as exc:  # a processor bug fails the item, never the runner
            log.exception("Processor %s crashed on %s", self.processor.name, claimed.url)
            return None, ItemError(
                ErrorCode.PROCESSOR_ERROR, f"{type(exc).__name__}: {exc}", retryable=False
            )

    def _record_attempt(
        self,
        claimed: Claimed,
        attempt: int,
        ctx: Context,
        started: datetime,
        elapsed: float,
        error: ItemError | None,
    ) -> None:
        if error is None:
            outcome = AttemptOutcome.SUCCEEDED
        elif error.code == ErrorCode.CANCELLED:
            outcome = AttemptOutcome.CANCELLED
        elif error.retryable and attempt < self.snapshot["max_attempts"] and not self.cancelled:
            outcome = AttemptOutcome.RETRY
        else:
            outcome = AttemptOutcome.FAILED
        self.buffers.attempts.append(
            AttemptRow(
                item_id=claimed.id,
                number=claimed.attempts + attempt,
                worker=self.id,
                started_at=started,
                finished_at=now(),
                step=ctx.step_name,
                outcome=outcome,
                error_code=error.code if error else "",
                error=error.message[:2000] if error else "",
                http_status=error.http_status if error else None,
                duration=elapsed,
            )
        )

    def _record_outcome(
        self,
        claimed: Claimed,
        attempt: int,
        ctx: Context,
        started: datetime | None,
        result: dict[str, Any] | None,
        error: ItemError | None,
    ) -> None:
        finished = now()
        if error is not None and error.result is not None and error.code != ErrorCode.CANCELLED:
            # e.g. http_check's 503 after its retries: the response is the result.
            result, error_to_keep = error.result, error
            status, error_code, message = ItemStatus.SUCCEEDED, "", ""
            http_status = error_to_keep.http_status
        elif error is not None:
            cancelled = error.code == ErrorCode.CANCELLED
            status = ItemStatus.CANCELLED if cancelled else ItemStatus.FAILED
            error_code, message, http_status = error.code, error.message[:2000], error.http_status
            if not cancelled:
                ctx.log(f"Failed: {error.code}: {error.message}", logging.WARNING)
        else:
            status, error_code, message = ItemStatus.SUCCEEDED, "", ""
            http_status = (result or {}).get("status_code")
        duration = (finished - started).total_seconds() if started else 0.0
        self.buffers.outcomes.append(
            Outcome(
                id=claimed.id,
                status=status,
                step=ctx.step_name,
                progress=100.0 if status == ItemStatus.SUCCEEDED else ctx.progress,
                attempts=claimed.attempts + attempt,
                result=result,
                error=message,
                error_code=error_code,
                http_status=http_status if isinstance(http_status, int) else None,
                started_at=started or finished,
                finished_at=finished,
                duration=duration,
            )
        )
        self.pending.pop(claimed.id, None)
        self.done_total += 1
        self.stats["done"] += 1
        self._poke()


def _item_payload(outcome: Outcome) -> dict[str, Any]:
    return {
        "id": outcome.id,
        "status": outcome.status,
        "step": outcome.step,
        "http_status": outcome.http_status,
        "error_code": outcome.error_code,
        "duration": round(outcome.duration, 4),
        "attempts": outcome.attempts,
    }


def share_of(concurrency: int, runners: int) -> int:
    """A runner's share of its job's concurrency when `runners` work on the job at once."""
    return max(1, math.ceil(concurrency / max(1, runners)))
