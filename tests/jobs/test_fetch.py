"""jobs.fetch against the real local site: results, redirects, caps, error codes and the SSRF guard.

Only loopback addresses are ever connected to; public addresses appear only in AddressGuard tables.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import psutil
import pytest

from jobs.errors import ErrorCode, ItemError
from jobs.fetch import AddressGuard, Fetcher, FetchResult, parse_retry_after
from tests.site import PROJECT_DIR, LocalSite, gzip_bomb, self_signed_cert

LOCAL = ["127.0.0.1/32"]


@pytest.fixture(scope="module")
def site():
    local_site = LocalSite().start()
    yield local_site
    local_site.stop()


def fetch(url: str, *, fetcher: dict | None = None, **kwargs) -> FetchResult:
    """One fetch with a fresh Fetcher (allowed: 127.0.0.1 only, unless `fetcher` says otherwise)."""

    async def go() -> FetchResult:
        async with Fetcher(**{"allowed_networks": LOCAL, **(fetcher or {})}) as fetcher_:
            return await fetcher_.fetch(url, **kwargs)

    return asyncio.run(go())


def fetch_error(url: str, **kwargs) -> ItemError:
    with pytest.raises(ItemError) as info:
        fetch(url, **kwargs)
    return info.value


def unused_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- results ----------------------------------------------------------------------------------


def test_ok_page_result_has_every_field_and_timings(site):
    result = fetch(site.url("/ok"))

    assert result.url == result.final_url == site.url("/ok")
    assert (result.status, result.reason, result.http_version) == (200, "OK", "1.1")
    assert result.content_type == "text/html"
    assert result.charset == "utf-8"
    assert result.content_encoding == ""
    assert b"<title>Local test page</title>" in result.body
    assert result.bytes_body == result.bytes_wire == len(result.body)
    assert result.headers["Content-Type"].startswith("text/html")
    assert result.redirects == []
    assert result.remote_ip == "127.0.0.1"
    assert result.tls is None
    assert set(result.timings) >= {"dns", "connect", "ttfb", "total"}
    assert all(value >= 0 for value in result.timings.values())
    assert 0 < result.timings["ttfb"] <= result.timings["total"]
    assert result.timings["connect"] > 0  # a fresh Fetcher opens a new connection


def test_default_user_agent_and_accept_encoding_are_sent(site):
    sent = json.loads(fetch(site.url("/headers"), fetcher={"user_agent": "probe/1.0"}).body)

    assert sent["User-Agent"] == "probe/1.0"
    assert sent["Accept-Encoding"] == "gzip, deflate"


def test_caller_headers_override_defaults(site):
    sent = json.loads(fetch(site.url("/headers"), headers={"User-Agent": "custom"}).body)

    assert sent["User-Agent"] == "custom"


def test_gzip_body_is_decompressed_and_wire_bytes_counted(site):
    result = fetch(site.url("/gzip"))

    assert result.content_encoding == "gzip"
    assert b"<title>Local test page</title>" in result.body
    assert result.bytes_body == len(result.body) > result.bytes_wire > 0


@pytest.mark.parametrize(
    ("path", "content_type", "charset"),
    [("/binary", "application/octet-stream", None), ("/text", "text/plain", "utf-8")],
)
def test_content_type_is_the_bare_lower_case_mime_type(site, path, content_type, charset):
    result = fetch(site.url(path))

    assert (result.content_type, result.charset) == (content_type, charset)


@pytest.mark.parametrize(("path", "status"), [("/404", 404), ("/500", 500), ("/status/418", 418)])
def test_http_error_statuses_are_results_not_errors(site, path, status):
    result = fetch(site.url(path))

    assert result.status == status
    assert result.body


def test_retry_after_of_a_503_is_in_the_headers(site):
    result = fetch(site.url("/flaky/fetch-503?fails=1&retry_after=7"))

    assert result.status == 503
    assert parse_retry_after(result.headers.get("Retry-After")) == 7.0
    assert fetch(site.url("/flaky/fetch-503?fails=1")).status == 200


def test_read_body_false_and_head_requests_skip_the_body(site):
    assert fetch(site.url("/huge"), read_body=False, max_bytes=1000).body == b""
    head = fetch(site.url("/huge?content_length=1"), method="HEAD", max_bytes=1000)
    assert (head.status, head.body, head.bytes_wire) == (200, b"", 0)


# --- redirects --------------------------------------------------------------------------------


def test_redirect_chain_is_recorded_hop_by_hop(site):
    result = fetch(site.url("/redirect/3"))

    assert result.status == 200
    assert result.url == site.url("/redirect/3")
    assert result.final_url == site.url("/ok")
    assert result.redirects == [
        {"url": site.url("/redirect/3"), "status": 302, "location": "/redirect/2"},
        {"url": site.url("/redirect/2"), "status": 302, "location": "/redirect/1"},
        {"url": site.url("/redirect/1"), "status": 302, "location": "/ok"},
    ]
    assert result.timings["redirect"] > 0


def test_redirect_loop_is_too_many_redirects(site):
    error = fetch_error(site.url("/redirect-loop"), fetcher={"max_redirects": 5})

    assert error.code == ErrorCode.TOO_MANY_REDIRECTS
    assert "more than 5 redirects" in error.message
    assert not error.retryable


def test_exactly_max_redirects_hops_are_followed(site):
    assert len(fetch(site.url("/redirect/4"), fetcher={"max_redirects": 4}).redirects) == 4
    error = fetch_error(site.url("/redirect/5"), fetcher={"max_redirects": 4})
    assert error.code == ErrorCode.TOO_MANY_REDIRECTS


@pytest.mark.parametrize(("status", "method"), [(302, "GET"), (303, "GET"), (307, "POST")])
def test_post_becomes_get_on_301_302_303_only(site, status, method):
    result = fetch(site.url(f"/redirect-to?url=/ok&status={status}"), method="POST")

    # /redirect-to and /ok answer GET only: a POST that was kept gets 405.
    assert result.status == (200 if method == "GET" else 405)


def test_cookies_set_on_a_redirect_go_back_to_the_same_host(site):
    result = fetch(site.url("/cookie-check"))

    assert result.status == 200
    assert len(result.redirects) == 1


def test_redirect_to_a_non_http_scheme_is_invalid_url(site):
    error = fetch_error(site.url("/redirect-to?url=ftp://127.0.0.1/file"))

    assert error.code == ErrorCode.INVALID_URL


# --- caps -------------------------------------------------------------------------------------


def test_huge_streamed_body_is_response_too_large(site):
    error = fetch_error(site.url("/huge"), max_bytes=100_000)

    assert error.code == ErrorCode.RESPONSE_TOO_LARGE
    assert not error.retryable


def test_content_length_above_the_cap_fails_before_reading(site):
    error = fetch_error(site.url("/huge?content_length=1"), max_bytes=100_000)

    assert error.code == ErrorCode.RESPONSE_TOO_LARGE
    assert "Content-Length: 12582912" in error.message


def test_gzip_bomb_is_response_too_large_without_inflating_it(site):
    gzip_bomb()  # the site builds it once; do that before measuring
    process = psutil.Process()
    before = process.memory_info().rss
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        error = fetch_error(site.url("/gzip-bomb"), max_bytes=5 * 1024 * 1024)
    finally:
        done.set()
        sampler.join()

    assert error.code == ErrorCode.RESPONSE_TOO_LARGE
    assert "after decompression" in error.message
    assert peak - before < 50 * 1024 * 1024, f"RSS grew by {(peak - before) >> 20} MB"


# --- connection errors ------------------------------------------------------------------------


def test_connection_reset_is_a_retryable_connection_error(site):
    error = fetch_error(site.url("/reset"))

    assert error.code == ErrorCode.CONNECTION_ERROR
    assert error.retryable


def test_connection_refused_is_a_connection_error():
    error = fetch_error(f"http://127.0.0.1:{unused_loopback_port()}/")

    assert error.code == ErrorCode.CONNECTION_ERROR
    assert error.retryable


def test_unknown_host_name_is_a_dns_error():
    # .invalid never resolves (RFC 6761): the resolver answers without asking a DNS server.
    error = fetch_error("http://nonexistent.invalid/")

    assert error.code == ErrorCode.DNS_ERROR
    assert not error.retryable


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/",
        "http:///path-only",
        "http://1.2.3.4.5/",
        "http://256.1.1.1/",
        "http://exa mple.com/",
        "not a url",
    ],
)
def test_malformed_urls_are_invalid_url(url):
    assert fetch_error(url).code == ErrorCode.INVALID_URL


def test_outer_timeout_propagates_as_timeout_error(site):
    async def go() -> None:
        async with Fetcher(allowed_networks=LOCAL) as fetcher:
            async with asyncio.timeout(0.3):
                await fetcher.fetch(site.url("/hang"))

    with pytest.raises(TimeoutError):
        asyncio.run(go())


def test_cancellation_is_not_swallowed(site):
    async def go() -> None:
        async with Fetcher(allowed_networks=LOCAL) as fetcher:
            task = asyncio.create_task(fetcher.fetch(site.url("/hang")))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(go())


# --- SSRF guard -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://127.0.0.2:{port}/ok", "127.0.0.2"),
        ("http://[::1]:{port}/", "::1"),
        ("http://0.0.0.0:{port}/", "0.0.0.0"),
        ("http://2130706434:{port}/", "127.0.0.2"),  # decimal
        ("http://0x7f000002:{port}/", "127.0.0.2"),  # hex
        ("http://0177.0.0.2:{port}/", "127.0.0.2"),  # octal
        ("http://127.2:{port}/", "127.0.0.2"),  # short form
        ("http://[::ffff:127.0.0.2]:{port}/", "127.0.0.2"),
    ],
)
def test_addresses_outside_the_allowed_networks_are_blocked(site, url, address):
    error = fetch_error(url.format(port=site.port))

    assert error.code == ErrorCode.BLOCKED_ADDRESS
    assert address in error.message
    assert not error.retryable


def test_numeric_host_forms_are_fetched_as_the_address_they_mean(site):
    result = fetch(f"http://2130706433:{site.port}/ok")  # 127.0.0.1

    assert result.status == 200
    assert result.final_url == site.url("/ok")


def test_localhost_is_allowed_only_when_every_address_it_resolves_to_is(site):
    infos = socket.getaddrinfo("localhost", site.port, type=socket.SOCK_STREAM)
    addresses = {info[4][0] for info in infos}
    url = f"http://localhost:{site.port}/ok"

    if addresses <= {"127.0.0.1"}:
        assert fetch(url).status == 200
    else:  # e.g. localhost is also ::1, which 127.0.0.1/32 does not cover
        assert fetch_error(url).code == ErrorCode.BLOCKED_ADDRESS
    if "127.0.0.1" in addresses:
        error = fetch_error(url, fetcher={"allowed_networks": ["::1/128"]})
        assert error.code == ErrorCode.BLOCKED_ADDRESS
        assert "localhost resolves to 127.0.0.1, a loopback address" in error.message


def test_redirect_to_a_blocked_address_is_refused(site):
    target = f"http://127.0.0.2:{site.port}/ok"
    error = fetch_error(site.url(f"/redirect-to?url={target}"))

    assert error.code == ErrorCode.BLOCKED_ADDRESS
    assert "127.0.0.2" in error.message


def test_without_allowed_networks_even_127_0_0_1_is_blocked(site):
    error = fetch_error(site.url("/ok"), fetcher={"allowed_networks": ()})

    assert error.code == ErrorCode.BLOCKED_ADDRESS
    assert "loopback" in error.message


def test_an_allowed_network_admits_the_whole_range(site):
    result = fetch(
        f"http://127.0.0.1:{site.port}/ok", fetcher={"allowed_networks": ["127.0.0.0/8"]}
    )

    assert result.status == 200


@pytest.mark.parametrize(
    ("ip", "allowed", "reason"),
    [
        ("169.254.169.254", False, "cloud metadata"),
        ("fd00:ec2::254", False, "cloud metadata"),
        ("10.0.0.1", False, "private"),
        ("192.168.1.1", False, "private"),
        ("172.16.0.1", False, "private"),
        ("100.64.0.1", False, "shared"),
        ("224.0.0.1", False, "multicast"),
        ("ff02::1", False, "multicast"),
        ("127.0.0.1", False, "loopback"),
        ("::1", False, "loopback"),
        ("0.0.0.0", False, "unspecified"),
        ("::", False, "unspecified"),
        ("169.254.1.1", False, "link-local"),
        ("fe80::1", False, "link-local"),
        ("fc00::1", False, "private"),
        ("fec0::1", False, "reserved"),
        ("240.0.0.1", False, ""),
        ("255.255.255.255", False, ""),
        ("::ffff:127.0.0.1", False, "loopback"),
        ("::ffff:10.0.0.1", False, "private"),
        ("2002:7f00:1::1", False, "embedded 127.0.0.1"),  # 6to4 of 127.0.0.1
        ("2002:a00:1::1", False, "embedded 10.0.0.1"),  # 6to4 of 10.0.0.1
        ("64:ff9b::7f00:1", False, "embedded 127.0.0.1"),  # NAT64 of 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False, ""),  # Teredo
        ("not-an-ip", False, "not an IP address"),
        ("8.8.8.8", True, None),
        ("1.1.1.1", True, None),
        ("2606:4700::1111", True, None),
        ("64:ff9b::808:808", True, None),  # NAT64 of 8.8.8.8
    ],
)
def test_address_guard_table(ip, allowed, reason):
    # Only checked by the guard: none of these addresses is ever connected to.
    guard = AddressGuard()

    assert guard.is_allowed(ip) is allowed
    if allowed:
        guard.check(ip, "example.com")
        return
    with pytest.raises(ItemError) as info:
        guard.check(ip, "example.com")
    assert info.value.code == ErrorCode.BLOCKED_ADDRESS
    assert f"example.com resolves to {ip}" in info.value.message
    assert reason in info.value.message


def test_address_guard_allowed_networks():
    guard = AddressGuard(["127.0.0.1/32", "10.1.0.0/16", "fd00::/8"])

    assert guard.is_allowed("127.0.0.1")
    assert guard.is_allowed("::ffff:127.0.0.1")
    assert guard.is_allowed("10.1.2.3")
    assert guard.is_allowed("fd00::1")
    assert not guard.is_allowed("127.0.0.2")
    assert not guard.is_allowed("10.2.0.1")


def test_address_guard_check_message_for_a_literal_address():
    with pytest.raises(ItemError, match=r"^127\.0\.0\.2 is a loopback address"):
        AddressGuard(["127.0.0.1/32"]).check("127.0.0.2", "127.0.0.2")


def test_address_guard_rejects_a_bad_cidr_by_name():
    with pytest.raises(ValueError, match="not-a-network"):
        AddressGuard(["127.0.0.1/32", "not-a-network"])


# --- TLS --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_site(tmp_path_factory):
    pytest.importorskip("cryptography")
    certfile, keyfile = self_signed_cert(tmp_path_factory.mktemp("tls"))
    local_site = LocalSite(certfile=certfile, keyfile=keyfile).start()
    yield local_site
    local_site.stop()


def test_untrusted_certificate_is_a_tls_error(tls_site):
    error = fetch_error(tls_site.url("/ok"))

    assert error.code == ErrorCode.TLS_ERROR
    assert not error.retryable


def test_tls_version_is_reported_without_verification(tls_site):
    result = fetch(tls_site.url("/ok"), fetcher={"verify_tls": False})

    assert result.status == 200
    assert result.tls is not None
    assert result.tls["version"].startswith("TLSv1.")


def test_trusted_certificate_reports_its_expiry(tls_site):
    # aiohttp builds its verifying SSL context at import, so trusting the test certificate needs
    # a fresh interpreter with SSL_CERT_FILE set.
    code = (
        "import asyncio, json; from jobs.fetch import Fetcher\n"
        "async def go():\n"
        "    async with Fetcher(allowed_networks=['127.0.0.1/32']) as f:\n"
        f"        print(json.dumps((await f.fetch({tls_site.url('/ok')!r})).tls))\n"
        "asyncio.run(go())\n"
    )
    env = {**os.environ, "SSL_CERT_FILE": tls_site.certfile, "PYTHONPATH": str(PROJECT_DIR)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    tls = json.loads(done.stdout)

    assert tls["version"].startswith("TLSv1.")
    assert datetime.fromisoformat(tls["cert_not_after"]) > datetime.now(UTC)
    assert tls["cert_days_left"] in (29, 30)


# --- misc -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("120", 120.0),
        (" 5 ", 5.0),
        ("0", 0.0),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),
        ("Wed, 21 Oct 2015 07:26:00 GMT", 0.0),  # in the past: never negative
        ("Wednesday, 21-Oct-15 07:28:00 GMT", 60.0),  # RFC 850 form
    ],
)
def test_parse_retry_after(value, seconds):
    now = datetime(2015, 10, 21, 7, 27, 0, tzinfo=UTC)

    assert parse_retry_after(value, now=now) == seconds


def test_parse_retry_after_defaults_to_the_current_time():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_local_site_counts_hits_per_key_and_resets(site):
    site.reset()
    fetch(site.url("/counter/fetch-once"))
    fetch(site.url("/counter/fetch-once"))
    assert json.loads(fetch(site.url("/hits/fetch-once")).body) == {"key": "fetch-once", "hits": 2}

    site.reset()
    assert json.loads(fetch(site.url("/hits/fetch-once")).body)["hits"] == 0


def test_from_settings_reads_the_batchsite_settings(settings):
    settings.BATCHSITE_USER_AGENT = "from-settings/1"
    settings.BATCHSITE_MAX_RESPONSE_BYTES = 1234
    settings.BATCHSITE_MAX_REDIRECTS = 3
    settings.BATCHSITE_ALLOWED_NETWORKS = ["127.0.0.1/32"]

    fetcher = Fetcher.from_settings(max_redirects=7)

    assert (fetcher.user_agent, fetcher.max_bytes, fetcher.max_redirects) == (
        "from-settings/1",
        1234,
        7,
    )
    assert fetcher.guard.is_allowed("127.0.0.1")
    assert not fetcher.guard.is_allowed("127.0.0.2")


def test_throughput_smoke(site):
    count, concurrency = 2000, 200

    async def go() -> float:
        async with Fetcher(concurrency=concurrency, allowed_networks=LOCAL) as fetcher:
            gate = asyncio.Semaphore(concurrency)

            async def one(i: int) -> int:
                async with gate:
                    return (await fetcher.fetch(site.url(f"/ok/{i}"))).status

            started = time.perf_counter()
            statuses = await asyncio.gather(*(one(i) for i in range(count)))
            elapsed = time.perf_counter() - started
        assert statuses == [200] * count
        return elapsed

    elapsed = asyncio.run(go())
    print(f"\nfetch throughput: {count / elapsed:.0f} req/s ({count} requests, concurrency 200)")
