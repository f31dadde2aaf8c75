"""SSRF through the whole product: URLs submitted as a batch and run by a real worker are refused
when they point at loopback, unspecified, metadata or private addresses — in any spelling (IPv6,
IPv4-mapped, decimal, octal, hex, a DNS name that resolves to loopback) and through redirects —
unless BATCHSITE_ALLOWED_NETWORKS allows them. Nothing here sends traffic beyond loopback: a
refused address is never connected to (the local site counts every hit)."""

from __future__ import annotations

import json
import urllib.request

import pytest

from jobs.errors import ErrorCode
from jobs.models import ItemStatus
from jobs.services import submit_batch

pytestmark = pytest.mark.django_db(transaction=True)


def hits(site, key: str) -> int:
    with urllib.request.urlopen(site.url(f"/hits/{key}"), timeout=10) as response:
        return json.load(response)["hits"]


def spellings(port: int) -> list[str]:
    """Every way to say "this machine" (and the cloud's metadata service), each on its own
    counter path so the site can tell whether it was reached."""
    hosts = [
        "127.0.0.1",
        "127.0.0.2",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[::]",
        "0.0.0.0",
        "2130706433",
        "0177.0.0.1",
        "0x7f.1",
        "127.1",
        "localhost",
        "LOCALHOST.",
    ]
    urls = [f"http://{host}:{port}/counter/ssrf-{i}" for i, host in enumerate(hosts)]
    return [
        *urls,
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
    ]


def run(owner, urls: list[str], burst_worker) -> dict[str, tuple[str, str]]:
    job = submit_batch(owner, urls=urls, max_attempts=1, processor="http_check").job
    burst_worker()
    rows = job.items.values_list("url", "status", "error_code")
    return {url: (status, code) for url, status, code in rows}


def test_every_spelling_of_loopback_and_metadata_is_refused(alice, site, burst_worker, settings):
    settings.BATCHSITE_ALLOWED_NETWORKS = []
    urls = spellings(site.port)
    found = run(alice, urls, burst_worker)
    assert len(found) == len(urls), "every URL was taken in (none is refused for its spelling)"
    for url, outcome in found.items():
        assert outcome == (ItemStatus.FAILED, ErrorCode.BLOCKED_ADDRESS), url
    assert sum(hits(site, f"ssrf-{i}") for i in range(13)) == 0


def test_redirects_to_refused_addresses_are_not_followed(alice, site, burst_worker):
    # 127.0.0.1/32 is allowed (tests/testenv.py): the first hop is fetched, the next is refused.
    targets = [
        f"http://127.0.0.2:{site.port}/counter/hop-0",
        f"http://[::1]:{site.port}/counter/hop-1",
        f"http://0.0.0.0:{site.port}/counter/hop-2",
        f"http://2130706434:{site.port}/counter/hop-3",
        "http://169.254.169.254/latest/meta-data/",
        f"http://[::ffff:127.0.0.2]:{site.port}/counter/hop-5",
    ]
    urls = [site.url(f"/redirect-to?status={301 + i % 3}&url={t}") for i, t in enumerate(targets)]
    found = run(alice, urls, burst_worker)
    for url in urls:
        assert found[url] == (ItemStatus.FAILED, ErrorCode.BLOCKED_ADDRESS), url
    assert sum(hits(site, f"hop-{i}") for i in range(6)) == 0


def test_allowed_networks_let_the_same_addresses_through(alice, site, burst_worker, settings):
    settings.BATCHSITE_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    urls = [
        f"http://2130706433:{site.port}/counter/allowed-0",
        f"http://0177.0.0.1:{site.port}/counter/allowed-1",
        f"http://[::ffff:127.0.0.1]:{site.port}/counter/allowed-2",
    ]
    found = run(alice, urls, burst_worker)
    assert set(found.values()) == {(ItemStatus.SUCCEEDED, "")}
    assert [hits(site, f"allowed-{i}") for i in range(3)] == [1, 1, 1]
