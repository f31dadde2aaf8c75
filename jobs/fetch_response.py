"""Reading one HTTP response for jobs.fetch: its content type and charset, the peer's address
and TLS facts, a body read under a byte cap that also holds after decompression (a gzip bomb
stops at cap + 1 bytes), redirect bodies drained for keep-alive, and aiohttp/OS errors mapped to
ItemError with a public code."""

from __future__ import annotations

import socket
import ssl
import time
import zlib
from datetime import UTC, datetime
from typing import Any

import aiohttp
from yarl import URL

from jobs.errors import ErrorCode, ItemError

_REDIRECT_BODY_DRAIN = 64 * 1024  # read small redirect bodies so the connection can be reused
_READ_CHUNK = 64 * 1024


def content_type_of(header: str) -> tuple[str, str | None]:
    mime, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset" and val.strip():
            charset = val.strip().strip("\"'")
    return mime.strip().lower(), charset


def tls_info(transport: Any) -> dict | None:
    sslobj = transport.get_extra_info("ssl_object")
    if sslobj is None:
        return None
    info: dict[str, Any] = {"version": sslobj.version(), "cert_not_after": None}
    info["cert_days_left"] = None
    cert = sslobj.getpeercert()  # {} when verification is off
    if cert and cert.get("notAfter"):
        expires = ssl.cert_time_to_seconds(cert["notAfter"])
        info["cert_not_after"] = datetime.fromtimestamp(expires, UTC).isoformat()
        info["cert_days_left"] = int((expires - time.time()) // 86400)
    return info


class CappedDecoder:
    """Inflates gzip/deflate with zlib's max_length, so no more than cap + 1 bytes are ever produced."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._zlib: Any = None

    def _new(self, data: bytes) -> Any:
        if self.encoding == "deflate" and len(data) >= 2:
            # "deflate" is meant to be zlib-wrapped, but many servers send raw deflate.
            wrapped = data[0] & 0x0F == 8 and ((data[0] << 8) | data[1]) % 31 == 0
            return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        return zlib.decompressobj(32 + zlib.MAX_WBITS)  # gzip or zlib header, detected

    def feed(self, data: bytes, out: bytearray, cap: int) -> None:
        while data:
            if self._zlib is None:
                self._zlib = self._new(data)
            out += self._zlib.decompress(data, cap - len(out) + 1)
            if len(out) > cap:
                raise too_large(cap, "after decompression")
            if not self._zlib.eof:
                return  # output stayed under max_length, so all input was consumed
            data = self._zlib.unused_data  # a further gzip member, or trailing garbage
            self._zlib = None
            if not data.startswith(b"\x1f\x8b"):
                return

    def finish(self, out: bytearray, cap: int) -> None:
        if self._zlib is not None:
            out += self._zlib.flush()
            if len(out) > cap:
                raise too_large(cap, "after decompression")


def too_large(cap: int, detail: str) -> ItemError:
    return ItemError(ErrorCode.RESPONSE_TOO_LARGE, f"response body exceeds {cap} bytes {detail}")


def map_error(exc: BaseException, url: URL) -> ItemError:
    """An aiohttp/OS exception as an ItemError with a public code."""
    detail = f"{url}: {exc.__class__.__name__}: {exc}".rstrip(": ")
    if len(detail) > 500:  # e.g. a parser error that quotes the garbage it got
        detail = detail[:500] + "…"
    if isinstance(exc, aiohttp.ClientConnectorDNSError | socket.gaierror):
        reason = getattr(exc, "os_error", exc)
        return ItemError(ErrorCode.DNS_ERROR, f"could not resolve {url.host}: {reason}")
    if isinstance(exc, aiohttp.ClientSSLError | aiohttp.ServerFingerprintMismatch | ssl.SSLError):
        return ItemError(ErrorCode.TLS_ERROR, detail)
    if isinstance(exc.__cause__, ssl.SSLError):
        return ItemError(ErrorCode.TLS_ERROR, detail)
    # TimeoutError covers aiohttp's ServerTimeoutError and ConnectionTimeoutError; an outer
    # asyncio.timeout() reaches fetch as CancelledError, which is never caught here.
    if isinstance(exc, TimeoutError):
        return ItemError(ErrorCode.TIMEOUT, f"timed out: {detail}")
    if isinstance(exc, aiohttp.InvalidURL):
        return ItemError(ErrorCode.INVALID_URL, f"invalid URL: {detail}")
    if isinstance(exc, aiohttp.ClientResponseError):  # the server sent something that is not HTTP
        return ItemError(
            ErrorCode.CONNECTION_ERROR, f"invalid HTTP response: {detail}", retryable=False
        )
    return ItemError(ErrorCode.CONNECTION_ERROR, detail)  # refused, reset, disconnected, ...


class PeerResponse(aiohttp.ClientResponse):
    """Notes the peer address and TLS facts while the connection is attached.

    aiohttp releases the connection of a response whose body arrived with its headers before the
    caller ever sees it, so `response.connection` cannot be relied on afterwards.
    """

    peer_ip: str | None = None
    tls: dict | None = None

    async def start(self, connection: Any) -> aiohttp.ClientResponse:
        transport = connection.transport
        if transport is not None:
            peer = transport.get_extra_info("peername")
            self.peer_ip = str(peer[0]) if peer else None
            if self.url.scheme == "https":
                self.tls = tls_info(transport)
        return await super().start(connection)


async def read_capped(
    response: aiohttp.ClientResponse, cap: int, encoding: str
) -> tuple[bytes, int]:
    length = response.content_length
    if length is not None and length > cap:
        raise too_large(cap, f"(Content-Length: {length})")
    decoder = CappedDecoder(encoding) if encoding in ("gzip", "x-gzip", "deflate") else None
    out = bytearray()
    wire = 0
    try:
        while chunk := await response.content.read(_READ_CHUNK):
            wire += len(chunk)
            if wire > cap:
                raise too_large(cap, "on the wire")
            if decoder is None:
                out += chunk
            else:
                decoder.feed(chunk, out, cap)
        if decoder is not None:
            decoder.finish(out, cap)
    except zlib.error as exc:
        raise ItemError(
            ErrorCode.CONNECTION_ERROR, f"could not decode {encoding} body: {exc}", retryable=False
        ) from exc
    return bytes(out), wire


async def discard(response: aiohttp.ClientResponse) -> None:
    """Finish a redirect response: drain a small body so keep-alive can reuse the connection."""
    length = response.content_length
    if length is None or length > _REDIRECT_BODY_DRAIN:
        response.close()
        return
    try:
        await response.read()
    except BaseException as exc:
        response.close()
        if isinstance(exc, aiohttp.ClientError | OSError):
            return  # the redirect itself was received; the next hop opens a new connection
        raise
    response.release()
