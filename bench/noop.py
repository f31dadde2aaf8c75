"""A processor that does nothing, so a benchmark measures the pipeline around the work.

Register it with ``BATCHSITE_PROCESSORS=bench.noop.NoOp`` (for the process that submits and for the
workers).
"""

from __future__ import annotations

from typing import Any

from jobs.processors.base import Context, Item, Processor


class NoOp(Processor):
    name = "noop"
    label = "No-op (benchmark)"
    description = "Marks each item succeeded without any I/O: measures the pipeline's own cost."
    steps = ("noop",)

    async def process(self, item: Item, ctx: Context) -> dict[str, Any]:
        return {"ok": True}
