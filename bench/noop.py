"""A processor that does nothing, so a benchmark measures the pipeline around the work.

Register them with ``BATCHSITE_PROCESSORS=bench.noop.NoOp,bench.noop.Paced`` (for the process that
submits and for the workers).
"""

from __future__ import annotations

import asyncio
from typing import Any

from jobs.processors.base import Context, Item, Processor


class NoOp(Processor):
    name = "noop"
    label = "No-op (benchmark)"
    description = "Marks each item succeeded without any I/O: measures the pipeline's own cost."
    steps = ("noop",)

    async def process(self, item: Item, ctx: Context) -> dict[str, Any]:
        return {"ok": True}


class Paced(Processor):
    """Waits 100 ms per item, as a remote page would, and does nothing else: the pipeline's own
    cost at a rate the job's concurrency sets (≤ concurrency × 10 items/s) rather than at all the
    CPU it can take, so a benchmark can run a job at a given rate and measure around it."""

    name = "noop_paced"
    label = "No-op, 100 ms per item (benchmark)"
    description = "Waits 100 ms per item without any I/O."
    steps = ("wait",)

    async def process(self, item: Item, ctx: Context) -> dict[str, Any]:
        await asyncio.sleep(0.1)
        return {"ok": True}
