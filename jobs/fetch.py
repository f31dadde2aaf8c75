"""The one HTTP client (aiohttp) and its SSRF guard.

Every fetch of every processor goes through `Fetcher.fetch`: one `aiohttp.ClientSession` per Fetcher,
redirects followed by hand so each hop is recorded and checked, a byte cap that also holds after
decompression, timings from aiohttp's trace hooks, and errors raised as `ItemError` with a public code.

Knows no database: settings are read only in `Fetcher.from_settings()`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from jobs.errors import ErrorCode, ItemError
from jobs.fetch_response import (
    PeerResponse,
    content_type_of,
    discard,
    map_error,
    read_capped,
)
from jobs.fetch_timing import Hop, timings, trace_config
from jobs.guard import HOSTNAME_RE, AddressGuard, GuardedResolver, host_address

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
CONNECT_TIMEOUT = 30.0  # generous: the caller's per-item timeout is the real limit
DNS_CACHE_SECONDS = 60

# --- results and helpers ----------------------------------------------------------------------


@dataclass(slots=True)
class FetchResult:
    url: str
    final_url: str
    status: int
    reason: str
    http_version: str
    headers: CIMultiDictProxy[str]
    body: bytes
    content_type: str
    charset: str | None
    content_encoding: str
    bytes_wire: int
    bytes_body: int
    redirects: list[dict]
    remote_ip: str | None
    timings: dict[str, float]
    tls: dict | None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); never negative."""
    if not value or not (value := value.strip()):
        return None
    if value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    now = now or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _invalid(message: str) -> ItemError:
    return ItemError(ErrorCode.INVALID_URL, message)


# --- the client -------------------------------------------------------------------------------


class Fetcher:
    """One aiohttp session with a guarded resolver; use as `async with Fetcher(...) as fetcher:`.

    A Fetcher belongs to the event loop it first fetches in.
    """

    def __init__(
        self,
        *,
        concurrency: int = 100,
        per_host_limit: int = 0,
        host_delay: float = 0.0,
        user_agent: str = "batchsite",
        max_bytes: int = 5 * 1024 * 1024,
        max_redirects: int = 10,
        allowed_networks: Iterable[str] = (),
        verify_tls: bool = True,
    ) -> None:
        self.concurrency = concurrency
        self.per_host_limit = per_host_limit
        # Politeness: at least this many seconds between two requests to one host.
        self.host_delay = host_delay
        self._host_turns: dict[str, tuple[asyncio.Lock, list[float]]] = {}
        self.user_agent = user_agent
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.guard = AddressGuard(allowed_networks)
        self.verify_tls = verify_tls
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, **overrides: Any) -> Fetcher:
        from django.conf import settings

        options: dict[str, Any] = {
            "user_agent": getattr(settings, "BATCHSITE_USER_AGENT", "batchsite"),
            "max_bytes": getattr(settings, "BATCHSITE_MAX_RESPONSE_BYTES", 5 * 1024 * 1024),
            "max_redirects": getattr(settings, "BATCHSITE_MAX_REDIRECTS", 10),
            "allowed_networks": getattr(settings, "BATCHSITE_ALLOWED_NETWORKS", ()),
        }
        options.update(overrides)
        return cls(**options)

    async def __aenter__(self) -> Fetcher:
        self._get_session()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def _wait_for_host(self, host: str) -> None:
        """Space request starts to one host `host_delay` seconds apart."""
        lock, next_start = self._host_turns.setdefault(host, (asyncio.Lock(), [0.0]))
        loop = asyncio.get_running_loop()
        async with lock:
            wait = next_start[0] - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            next_start[0] = loop.time() + self.host_delay

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self.concurrency,
                limit_per_host=self.per_host_limit,
                resolver=GuardedResolver(self.guard),
                ttl_dns_cache=DNS_CACHE_SECONDS,
                ssl=None if self.verify_tls else False,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),  # items never share cookies
                response_class=PeerResponse,
                auto_decompress=False,
                trace_configs=[trace_config()],
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT),
                headers={
                    "User-Agent": self.user_agent,
                    "Accept": ACCEPT,
                    "Accept-Encoding": "gzip, deflate",
                },
                max_line_size=32768,
                max_field_size=32768,
            )
        return self._session

    def _checked_target(self, url: URL) -> URL:
        """Validate one hop's URL; check a literal IP host (aiohttp skips the resolver for those)."""
        if url.scheme not in ("http", "https"):
            raise _invalid(f"{url}: only http and https URLs can be fetched")
        host = url.host
        if not host:
            raise _invalid(f"{url}: no host")
        try:
            addr = host_address(host)
        except ValueError as exc:
            raise _invalid(f"{url}: {exc}") from exc
        if addr is None:
            raw = url.raw_host or ""
            if len(raw) > 253 or not HOSTNAME_RE.match(raw):
                raise _invalid(f"{url}: invalid host name")
            return url
        self.guard.check(str(addr), host)
        if addr.version == 4 and host != str(addr):
            url = url.with_host(str(addr))  # 2130706433 → 127.0.0.1, as browsers do
        return url

    async def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: dict | None = None,
        max_bytes: int | None = None,
        read_body: bool = True,
        data: bytes | None = None,
    ) -> FetchResult:
        """Fetch `url`, following redirects; HTTP error statuses are results, not errors.

        `data` is a request body (webhook deliveries POST one); a 301/302/303 turns the request
        into a GET without it, a 307/308 sends it again to the next hop.

        Timings (ms): dns and connect (TCP + TLS) summed over all hops, redirect (time before the final
        hop started), ttfb (first request start → final response headers), total (including the body).
        """
        session = self._get_session()
        started = time.perf_counter()
        method = method.upper()
        request_headers = dict(headers or {})
        redirects: list[dict] = []
        cookies: dict[str, dict[str, str]] = {}
        hops: list[Hop] = []
        try:
            current = URL(url)
        except (ValueError, TypeError) as exc:
            raise _invalid(f"invalid URL {url!r}: {exc}") from exc
        while True:
            hop = Hop()
            hops.append(hop)
            try:
                current = self._checked_target(current)
                if self.host_delay:
                    await self._wait_for_host(current.host or "")
                response = await _send(
                    session, method, current, request_headers, cookies, hop, data
                )
            except ItemError as exc:
                if not redirects:
                    raise
                message = f"{exc.message} (redirected to {current})"
                raise ItemError(exc.code, message, retryable=exc.retryable) from exc
            if response.status not in REDIRECT_STATUSES or "Location" not in response.headers:
                break
            next_url = self._next_hop(response, current, redirects, cookies)
            await discard(response)
            if response.status in (301, 302, 303) and method not in ("GET", "HEAD"):
                method, data = "GET", None
            if next_url.origin() != current.origin():
                request_headers = {
                    k: v
                    for k, v in request_headers.items()
                    if k.lower() not in ("authorization", "cookie")
                }
            current = next_url
        try:
            cap = self.max_bytes if max_bytes is None else max_bytes
            result = await _result(response, url, current, cap, read_body)
        except BaseException as exc:
            response.close()  # never return a half-read connection to the pool
            if isinstance(exc, aiohttp.ClientError | OSError):
                raise map_error(exc, current) from exc
            raise
        result.redirects = redirects
        result.timings = timings(hops, started)
        return result

    def _next_hop(
        self,
        response: aiohttp.ClientResponse,
        current: URL,
        redirects: list[dict],
        cookies: dict[str, dict[str, str]],
    ) -> URL:
        location = response.headers["Location"]
        if len(redirects) >= self.max_redirects:
            response.close()
            raise ItemError(
                ErrorCode.TOO_MANY_REDIRECTS,
                f"more than {self.max_redirects} redirects (last: {current} → {location})",
            )
        try:
            next_url = current.join(URL(location))
        except (ValueError, TypeError) as exc:
            response.close()
            raise _invalid(f"invalid redirect Location {location!r} from {current}") from exc
        redirects.append({"url": str(current), "status": response.status, "location": location})
        # Cookies set on a redirect go back to the same host for the rest of this fetch only
        # (sites that set a cookie and redirect to themselves would otherwise loop).
        for header in response.headers.getall("Set-Cookie", ()):
            try:
                parsed = SimpleCookie(header)
            except CookieError:
                continue
            jar = cookies.setdefault(current.host or "", {})
            jar.update({name: morsel.value for name, morsel in parsed.items()})
        return next_url


async def _result(
    response: aiohttp.ClientResponse, url: str, final: URL, cap: int, read_body: bool
) -> FetchResult:
    content_type, charset = content_type_of(response.headers.get("Content-Type", ""))
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding == "identity":
        encoding = ""
    body, wire = b"", 0
    has_body = (
        response.method != "HEAD" and response.status >= 200 and response.status not in (204, 304)
    )
    if read_body and has_body:
        body, wire = await read_capped(response, cap, encoding)
    response.release()
    version = response.version
    return FetchResult(
        url=url,
        final_url=str(final),
        status=response.status,
        reason=response.reason or "",
        http_version=f"{version.major}.{version.minor}" if version else "",
        headers=response.headers,
        body=body,
        content_type=content_type,
        charset=charset,
        content_encoding=encoding,
        bytes_wire=wire,
        bytes_body=len(body),
        redirects=[],
        remote_ip=getattr(response, "peer_ip", None),
        timings={},
        tls=getattr(response, "tls", None),
    )


async def _send(
    session: aiohttp.ClientSession,
    method: str,
    url: URL,
    headers: dict[str, str],
    cookies: dict[str, dict[str, str]],
    hop: Hop,
    data: bytes | None = None,
) -> aiohttp.ClientResponse:
    """One request, no redirects followed; errors mapped to ItemError."""
    if jar := cookies.get(url.host or ""):
        headers = {**headers, "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}
    try:
        return await session.request(
            method, url, headers=headers, data=data, allow_redirects=False, trace_request_ctx=hop
        )
    except (aiohttp.ClientError, OSError) as exc:
        raise map_error(exc, url) from exc
