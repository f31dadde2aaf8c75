"""The job's DNS cache: a runner's fetcher resolves a host name once, not once per connection
(the other per-job cache, robots.txt, is in test_pages.py and test_page_audit.py)."""

from __future__ import annotations

import asyncio

from jobs.fetch import Fetcher


def test_a_host_name_is_resolved_once_for_many_connections(site):
    port = site.url("/").split(":")[2].split("/")[0]
    urls = [f"http://localhost:{port}/ok/dns-{i}" for i in range(5)]

    async def go() -> list[float]:
        async with Fetcher(allowed_networks=["127.0.0.1/32", "::1/128"]) as fetcher:
            # "Connection: close": every fetch opens a new connection, so each one needs the
            # address; only the first asks the resolver.
            results = [await fetcher.fetch(url, headers={"Connection": "close"}) for url in urls]
            return [result.timings["dns"] for result in results]

    dns = asyncio.run(go())
    assert dns[0] > 0
    assert dns[1:] == [0.0] * 4
