"""A local HTTP site that stands for the websites a batch processes (aiohttp.web, loopback only).

Every pipeline test and benchmark fetches from it. Start it in-process (its own event loop in a daemon
thread) or, for benchmarks, as a subprocess so the site does not share the test process's GIL::

    with LocalSite() as site:                      # or LocalSite(in_process=False)
        fetch(site.url("/ok"))

    python -m tests.site --host 127.0.0.1 --port 8765   # serve it in the foreground

With ``certfile``/``keyfile`` (``--certfile``/``--keyfile``; `self_signed_cert()` writes a pair) it
serves the same routes over HTTPS.

Routes
======

==================================  ===========================================================
``/ok``                             200, a small HTML page with a ``<title>``
``/ok/{anything}``                  the same page under unique URLs (bulk tests)
``/private/{anything}``             the same page, but ``/robots.txt`` disallows it
``/slow?ms=N``                      sleeps N ms, then 200 (the HTML page)
``/delay/{ms}/{anything}``          sleeps ms, then 200 with a tiny text body (benchmarks)
``/redirect/{n}``                   a chain of n 302s (relative Locations) ending at ``/ok``
``/redirect-loop``                  302 to itself, forever
``/redirect-to?url=U&status=302``   redirects (302 unless ``status`` says) to U, as given; any
                                    method (the other routes answer GET/HEAD only)
``/status/{code}``                  that status with a small text body (none for 1xx/204/304)
``/404``, ``/500``                  those statuses
``/flaky/{key}?fails=N&             the first N requests per key answer 503 (with
retry_after=S``                     ``Retry-After: S`` when given), later ones 200
``/rate-limited/{key}?fails=N&      the same with 429
retry_after=S``
``/flip/{key}?after=N&status=S``    the first N requests per key answer 200 (the HTML page), later
                                    ones S (default 500): a page that breaks between two runs
``/huge``                           a 12 MB text body, streamed chunked (no Content-Length);
                                    ``?content_length=1`` sends a Content-Length header
``/gzip-bomb``                      ``Content-Encoding: gzip``: ~1 MB on the wire that inflates
                                    to 1 GiB of zeros (built once, streamed)
``/gzip``                           a small HTML page sent gzip-compressed
``/reset``                          closes the connection (TCP RST) without a response
``/hang``                           never answers; the handler ends when the client goes away
``/binary``                         ``application/octet-stream``
``/nested/{depth}``                 HTML with ``<div>`` elements nested ``depth`` deep
``/text``                           ``text/plain``
``/robots.txt``                     ``User-agent: *`` / ``Disallow: /private/``
``/headers``                        the request's headers as a JSON object
``/cookie-check``                   without cookie ``seen=1``: sets it and 302s to itself;
                                    with it: 200 (the HTML page)
``/counter/{key}``                  200, counts hits per key
``/hits/{key}``                     ``{"key": key, "hits": n}`` as JSON
``/_reset``                         POST: clears every per-key counter (what ``reset()`` calls)
==================================  ===========================================================
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from collections import Counter
from pathlib import Path

from aiohttp import web

PROJECT_DIR = Path(__file__).resolve().parent.parent

OK_PAGE = b"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Local test page</title>
<meta name="description" content="A small page served by the batchsite test site.">
</head>
<body>
<h1>Local test page</h1>
<p>This page stands for a website in tests. <a href="/ok/next">Next page</a></p>
<img src="/binary" alt="A test image">
</body>
</html>
"""
ROBOTS_TXT = "User-agent: *\nDisallow: /private/\n"
HUGE_BYTES = 12 * 1024 * 1024
BOMB_BYTES = 1024 * 1024 * 1024
_CHUNK = b"x" * 65536
_MIB = 1024 * 1024
COUNTERS = web.AppKey("counters", Counter[str])
# For talking to the site itself: never through a proxy from the environment (loopback traffic
# only), and accepting the site's self-signed certificate.
_SITE_TLS = ssl.create_default_context()
_SITE_TLS.check_hostname, _SITE_TLS.verify_mode = False, ssl.CERT_NONE
_OPENER = urllib.request.build_opener(
    urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=_SITE_TLS)
)


@functools.cache
def gzip_bomb() -> bytes:
    """One gzip member of 1 GiB of zeros, ~1 MB compressed, in ~0.3 s.

    After a full flush the deflate state is reset, so every further MiB of zeros compresses to the
    same bytes: compress two MiB, repeat the second, close with an empty final block and the trailer.
    """
    zeros = bytes(_MIB)
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    unit = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(BOMB_BYTES // _MIB):
        crc = zlib.crc32(zeros, crc)
    final_block = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    trailer = struct.pack("<II", crc, BOMB_BYTES & 0xFFFFFFFF)
    return first + unit * (BOMB_BYTES // _MIB - 1) + final_block + trailer


def _ok_page() -> web.Response:
    return web.Response(body=OK_PAGE, content_type="text/html", charset="utf-8")


def _int_arg(request: web.Request, name: str, default: int = 0) -> int:
    try:
        return int(request.query.get(name, default))
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"{name} must be an integer") from exc


async def ok(request: web.Request) -> web.Response:
    return _ok_page()


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(_int_arg(request, "ms") / 1000)
    return _ok_page()


async def delay(request: web.Request) -> web.Response:
    await asyncio.sleep(int(request.match_info["ms"]) / 1000)
    return web.Response(text="ok")


async def redirect_chain(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    if n <= 0:
        return _ok_page()
    raise web.HTTPFound(f"/redirect/{n - 1}" if n > 1 else "/ok")


async def redirect_loop(request: web.Request) -> web.Response:
    raise web.HTTPFound("/redirect-loop")


async def redirect_to(request: web.Request) -> web.Response:
    status = _int_arg(request, "status", 302)
    return web.Response(status=status, headers={"Location": request.query.get("url", "/ok")})


async def status(request: web.Request) -> web.Response:
    code = int(request.match_info.get("code", request.path.strip("/")))
    if not 100 <= code <= 999:
        raise web.HTTPBadRequest(text="status must be 100-999")
    if code < 200 or code in (204, 304):
        return web.Response(status=code)
    return web.Response(status=code, text=f"status {code}\n")


def _failing(fail_status: int):
    async def handler(request: web.Request) -> web.Response:
        counters = request.app[COUNTERS]
        key = f"{fail_status}:{request.match_info['key']}"
        counters[key] += 1
        if counters[key] <= _int_arg(request, "fails", 1):
            headers = {}
            if "retry_after" in request.query:
                headers["Retry-After"] = request.query["retry_after"]
            return web.Response(
                status=fail_status, text=f"attempt {counters[key]}\n", headers=headers
            )
        return _ok_page()

    return handler


async def flip(request: web.Request) -> web.Response:
    counters = request.app[COUNTERS]
    key = f"flip:{request.match_info['key']}"
    counters[key] += 1
    if counters[key] <= _int_arg(request, "after", 1):
        return _ok_page()
    code = _int_arg(request, "status", 500)
    return web.Response(status=code, text=f"request {counters[key]}\n")


async def huge(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    if request.query.get("content_length"):
        response.content_length = HUGE_BYTES
    else:
        response.enable_chunked_encoding()
    await response.prepare(request)
    if request.method == "HEAD":
        return response
    with contextlib.suppress(ConnectionResetError):  # the client gave up early: expected here
        for _ in range(HUGE_BYTES // len(_CHUNK)):
            await response.write(_CHUNK)
        await response.write_eof()
    return response


async def gzip_bomb_route(request: web.Request) -> web.StreamResponse:
    body = await asyncio.to_thread(gzip_bomb)
    response = web.StreamResponse(headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})
    response.content_length = len(body)
    await response.prepare(request)
    if request.method == "HEAD":
        return response
    view = memoryview(body)
    with contextlib.suppress(ConnectionResetError):
        for start in range(0, len(body), 65536):
            await response.write(view[start : start + 65536])
        await response.write_eof()
    return response


async def gzip_page(request: web.Request) -> web.Response:
    body = zlib.compress(OK_PAGE, wbits=31)
    headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
    return web.Response(body=body, content_type="text/html", charset="utf-8", headers=headers)


async def reset(request: web.Request) -> web.Response:
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Linger 0: close() sends RST instead of FIN, like a crashing server or a firewall.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    raise asyncio.CancelledError


async def hang(request: web.Request) -> web.Response:
    # The runner cancels handlers when their client disconnects (handler_cancellation=True).
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def binary(request: web.Request) -> web.Response:
    return web.Response(body=bytes(range(256)) * 16, content_type="application/octet-stream")


async def text(request: web.Request) -> web.Response:
    return web.Response(text="plain text, not HTML\n", content_type="text/plain")


async def robots(request: web.Request) -> web.Response:
    return web.Response(text=ROBOTS_TXT, content_type="text/plain")


async def headers(request: web.Request) -> web.Response:
    return web.json_response(dict(request.headers))


async def cookie_check(request: web.Request) -> web.Response:
    if request.cookies.get("seen") == "1":
        return _ok_page()
    return web.Response(
        status=302, headers={"Location": "/cookie-check", "Set-Cookie": "seen=1; Path=/"}
    )


async def counter(request: web.Request) -> web.Response:
    request.app[COUNTERS][f"counter:{request.match_info['key']}"] += 1
    return _ok_page()


async def hits(request: web.Request) -> web.Response:
    key = request.match_info["key"]
    return web.json_response({"key": key, "hits": request.app[COUNTERS][f"counter:{key}"]})


async def clear_counters(request: web.Request) -> web.Response:
    request.app[COUNTERS].clear()
    return web.Response(text="ok")


async def nested(request: web.Request) -> web.Response:
    """HTML nesting <div>s `depth` deep: a page whose parse time grows with the square of it."""
    depth = min(int(request.match_info["depth"]), 1_000_000)
    body = "<!doctype html><html><body>" + "<div>" * depth + "deep" + "</div>" * depth
    return web.Response(text=body + "</body></html>", content_type="text/html")


def make_app() -> web.Application:
    app = web.Application()
    app[COUNTERS] = Counter()
    app.router.add_routes(
        [
            web.get("/ok", ok),
            web.get("/ok/{tail:.*}", ok),
            web.get("/private/{tail:.*}", ok),
            web.get("/slow", slow),
            web.get(r"/delay/{ms:\d+}/{tail:.*}", delay),
            web.get(r"/redirect/{n:\d+}", redirect_chain),
            web.get("/redirect-loop", redirect_loop),
            web.route("*", "/redirect-to", redirect_to),  # any method: tests POST → GET
            web.get(r"/status/{code:\d+}", status),
            web.get("/404", status),
            web.get("/500", status),
            web.get("/flaky/{key}", _failing(503)),
            web.get("/rate-limited/{key}", _failing(429)),
            web.get("/flip/{key}", flip),
            web.get("/huge", huge),
            web.get("/gzip-bomb", gzip_bomb_route),
            web.get("/gzip", gzip_page),
            web.get("/reset", reset),
            web.get("/hang", hang),
            web.get("/binary", binary),
            web.get(r"/nested/{depth:\d+}", nested),
            web.get("/text", text),
            web.get("/robots.txt", robots),
            web.get("/headers", headers),
            web.get("/cookie-check", cookie_check),
            web.get("/counter/{key}", counter),
            web.get("/hits/{key}", hits),
            web.post("/_reset", clear_counters),
        ]
    )
    return app


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def self_signed_cert(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """Write a self-signed certificate for `host` (valid 30 days) and its key; needs `cryptography`."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certfile, keyfile


def _ssl_context(certfile: str | None, keyfile: str | None) -> ssl.SSLContext | None:
    if not certfile:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    return context


async def _start(sock: socket.socket, context: ssl.SSLContext | None = None) -> web.AppRunner:
    runner = web.AppRunner(
        make_app(), access_log=None, handler_cancellation=True, shutdown_timeout=0.5
    )
    await runner.setup()
    # A deep backlog: benchmarks open a few hundred connections at once.
    await web.SockSite(runner, sock, backlog=4096, ssl_context=context).start()
    return runner


class LocalSite:
    """The local site, started in a daemon thread (default) or a subprocess (``in_process=False``)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        in_process: bool = True,
        certfile: str | Path | None = None,
        keyfile: str | Path | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.in_process = in_process
        # With a certificate (see self_signed_cert) the site speaks HTTPS only.
        self.certfile = str(certfile) if certfile else None
        self.keyfile = str(keyfile) if keyfile else None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._process: subprocess.Popen[str] | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.certfile else 'http'}://{host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def start(self) -> LocalSite:
        if self.in_process:
            self._start_thread()
        else:
            self._start_process()
        self._wait_until_answers()
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._loop is not None and self._thread is not None:
            if self._runner is not None:
                future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
                with contextlib.suppress(Exception):
                    future.result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop, self._thread, self._runner = None, None, None

    def reset(self) -> None:
        """Clear the per-key counters (flaky, rate-limited, counter)."""
        request = urllib.request.Request(self.url("/_reset"), method="POST", data=b"")
        with _OPENER.open(request, timeout=10) as response:
            response.read()

    def __enter__(self) -> LocalSite:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _start_thread(self) -> None:
        # The loop is made, and the app set up, on the site's own thread: the calling thread may
        # already run a loop (Playwright's sync API does, in the browser tests).
        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        context = _ssl_context(self.certfile, self.keyfile)
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._runner = loop.run_until_complete(_start(sock, context))
            except BaseException as exc:
                failure.append(exc)
                loop.close()
                return
            finally:
                ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name=f"LocalSite:{self.port}", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        self._loop = loop

    def _start_process(self) -> None:
        command = [sys.executable, "-m", "tests.site", "--host", self.host]
        command += ["--port", str(self.port)]
        if self.certfile:
            command += ["--certfile", self.certfile, "--keyfile", self.keyfile or self.certfile]
        self._process = subprocess.Popen(
            command, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()  # "LocalSite serving on http(s)://HOST:PORT"
        self._process.stdout.close()
        if not line.startswith("LocalSite serving on "):
            self.stop()
            raise RuntimeError(f"tests.site did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])

    def _wait_until_answers(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with _OPENER.open(self.url("/ok"), timeout=2) as response:
                    response.read()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.05)


async def _serve_forever(host: str, port: int, context: ssl.SSLContext | None) -> None:
    sock = _bind(host, port)
    runner = await _start(sock, context)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    scheme = "https" if context else "http"
    print(f"LocalSite serving on {scheme}://{shown}:{bound}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the batchsite local test site.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--certfile", help="serve HTTPS with this PEM certificate")
    parser.add_argument("--keyfile", help="its private key (PEM)")
    args = parser.parse_args(argv)
    context = _ssl_context(args.certfile, args.keyfile)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(args.host, args.port, context))


if __name__ == "__main__":
    main()
