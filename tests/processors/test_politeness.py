"""Per-host politeness: at most `per_host_limit` requests to one host at a time, and request starts
to one host at least `host_delay` apart, while other hosts are not held up (jobs.fetch.Fetcher).

The job-level path (the job's options reaching the runner's fetcher through a real worker) is in
tests/jobs/test_pipeline.py::test_politeness_spaces_requests_to_one_host.
"""

from __future__ import annotations

import asyncio
import time

from jobs.fetch import Fetcher

LOCAL = ["127.0.0.1/32", "::1/128"]


def seconds_for(urls: list[str], **options) -> float:
    """Wall time for fetching every URL at once through one Fetcher."""

    async def go() -> float:
        async with Fetcher(allowed_networks=LOCAL, concurrency=20, **options) as fetcher:
            started = time.perf_counter()
            responses = await asyncio.gather(*(fetcher.fetch(url) for url in urls))
            assert {response.status for response in responses} == {200}
            return time.perf_counter() - started

    return asyncio.run(go())


def test_per_host_limit_caps_the_requests_in_flight_to_one_host(site):
    urls = [site.url(f"/slow?ms=200&i={i}") for i in range(6)]
    limited = seconds_for(urls, per_host_limit=2)
    assert limited >= 0.58  # three rounds of two 200 ms requests
    assert seconds_for(urls) < limited - 0.2  # without the limit they overlap


def test_host_delay_spaces_request_starts_to_one_host_only(site):
    one_host = [site.url(f"/ok/delay-{i}") for i in range(4)]
    assert seconds_for(one_host, host_delay=0.15) >= 0.44  # starts at 0, .15, .3, .45
    # Two requests to each of two host names: each pair is spaced, the pairs run side by side.
    port = site.url("/").split(":")[2].split("/")[0]
    two_hosts = [
        f"http://{host}:{port}/ok/pair-{i}" for i in range(2) for host in ("127.0.0.1", "localhost")
    ]
    assert seconds_for(two_hosts, host_delay=0.3) < 0.55  # one host after the other: 0.9 s
