"""Fetch timings from aiohttp's trace hooks: DNS, connect (TCP + TLS), time to first byte, total.

One TraceConfig serves every request; each request carries its own `Hop` of timing marks through
`trace_request_ctx`, so timing costs no object per request beyond the marks themselves.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import aiohttp


class Hop:
    """Per-request timing marks, filled by the trace hooks through `trace_request_ctx`."""

    __slots__ = ("conn_start", "connect", "dns", "dns_start", "headers", "start")

    def __init__(self) -> None:
        self.start = self.headers = self.dns_start = self.conn_start = 0.0
        self.dns = self.connect = 0.0


async def _on_request_start(session: Any, ctx: SimpleNamespace, params: Any) -> None:
    ctx.trace_request_ctx.start = time.perf_counter()


async def _on_request_end(session: Any, ctx: SimpleNamespace, params: Any) -> None:
    ctx.trace_request_ctx.headers = time.perf_counter()


async def _on_dns_start(session: Any, ctx: SimpleNamespace, params: Any) -> None:
    ctx.trace_request_ctx.dns_start = time.perf_counter()


async def _on_dns_end(session: Any, ctx: SimpleNamespace, params: Any) -> None:
    hop = ctx.trace_request_ctx
    hop.dns += time.perf_counter() - hop.dns_start


async def _on_connection_start(session: Any, ctx: SimpleNamespace, params: Any) -> None:
    hop = ctx.trace_request_ctx
    hop.conn_start = time.perf_counter()


async def _on_connection_end(session: Any, ctx: SimpleNamespace, params: Any) -> None:
    hop = ctx.trace_request_ctx
    hop.connect = time.perf_counter() - hop.conn_start - hop.dns  # DNS happens inside; TCP + TLS


def trace_config() -> aiohttp.TraceConfig:
    config = aiohttp.TraceConfig()
    config.on_request_start.append(_on_request_start)
    config.on_request_end.append(_on_request_end)
    config.on_dns_resolvehost_start.append(_on_dns_start)
    config.on_dns_resolvehost_end.append(_on_dns_end)
    config.on_connection_create_start.append(_on_connection_start)
    config.on_connection_create_end.append(_on_connection_end)
    return config


def timings(hops: list[Hop], started: float) -> dict[str, float]:
    first, final = hops[0], hops[-1]
    return {
        "dns": sum(hop.dns for hop in hops) * 1000,
        "connect": sum(hop.connect for hop in hops) * 1000,
        "redirect": (final.start - first.start) * 1000,
        "ttfb": ((final.headers or final.start) - first.start) * 1000,
        "total": (time.perf_counter() - started) * 1000,
    }
