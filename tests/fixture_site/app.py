"""The fixture site: serves the files of this directory over HTTP on 127.0.0.1 (aiohttp).

Generic on purpose, so every processor's tests can drop pages here: any file under the directory is
served at its path (a directory, or a path ending in "/", serves its ``index.html``), with the
content type its extension gives (``.html`` → ``text/html`` with no charset). ``headers.json`` maps a
path to extra response headers, plus a few pseudo-headers that steer the server::

    {
      "/latin1.html": {"Content-Type": "text/html; charset=iso-8859-1"},
      "/noindex-header.html": {"X-Robots-Tag": "noindex, nofollow"},
      "/bad.html": {":gzip": false},          # never compress (default: gzip text ≥ 1 KB when
                                              # the client accepts it)
      "/slow.html": {":delay-ms": 900},       # wait before answering
      "/moved": {":status": 301, "Location": "/good.html"}   # a path with no file: empty body
    }

``GET /_hits`` answers ``{path: requests so far}`` (e.g. to check robots.txt is fetched once per job);
``GET /_agents`` answers ``{path?query: User-Agent of its last request}``.

Files named ``*.expected.json`` hold the right answers for the page next to them; they are served
too (harmless). Python files and dot/underscore names are not served.

    with FixtureSite() as site:            # a daemon thread; FixtureSite(in_process=False): a subprocess
        site.url("/good.html")

    python -m tests.fixture_site.app --port 8766     # serve in the foreground
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import mimetypes
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parent
PROJECT_DIR = ROOT.parent.parent
HEADERS_FILE = ROOT / "headers.json"
GZIP_MIN_BYTES = 1024
_COMPRESSIBLE = ("text/", "application/xhtml+xml", "application/json", "application/ld+json")
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
_FILES = web.AppKey("files", dict)
_HEADERS = web.AppKey("headers", dict)
_HITS = web.AppKey("hits", Counter)
_AGENTS = web.AppKey("agents", dict)


def load_headers() -> dict[str, dict]:
    if not HEADERS_FILE.exists():
        return {}
    return json.loads(HEADERS_FILE.read_text(encoding="utf-8"))


def _resolve(path: str) -> Path | None:
    """The file a URL path names, or None (missing, outside the directory, or not to be served)."""
    relative = path.lstrip("/")
    target = (ROOT / relative).resolve()
    if not target.is_relative_to(ROOT):
        return None
    if target.is_dir():
        target = target / "index.html"
    name = target.name
    if not target.is_file() or target.suffix in (".py", ".pyc") or name[:1] in "._":
        return None
    if any(part.startswith(("_", ".")) for part in target.relative_to(ROOT).parts[:-1]):
        return None
    return target


def _content_type(target: Path) -> str:
    if target.suffix in (".html", ".htm"):
        return "text/html"
    return mimetypes.guess_type(target.name)[0] or "application/octet-stream"


def _load(app: web.Application, target: Path) -> tuple[bytes, bytes | None]:
    """(body, gzipped body) for a file, cached while its mtime stays the same."""
    mtime = target.stat().st_mtime_ns
    cached = app[_FILES].get(target)
    if cached and cached[0] == mtime:
        return cached[1], cached[2]
    body = target.read_bytes()
    gzipped = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
    app[_FILES][target] = (mtime, body, gzipped)
    return body, gzipped


async def hits(request: web.Request) -> web.Response:
    return web.json_response(dict(request.app[_HITS]))


async def agents(request: web.Request) -> web.Response:
    return web.json_response(request.app[_AGENTS])


async def serve(request: web.Request) -> web.Response:
    path = request.path
    request.app[_HITS][path] += 1
    request.app[_AGENTS][request.path_qs] = request.headers.get("User-Agent")
    extra = dict(request.app[_HEADERS].get(path, {}))
    status = int(extra.pop(":status", 200))
    delay = float(extra.pop(":delay-ms", 0))
    allow_gzip = extra.pop(":gzip", True)
    if delay:
        await asyncio.sleep(delay / 1000)
    target = _resolve(path)
    if target is None:
        if path in request.app[_HEADERS]:
            return web.Response(status=status, headers=extra)
        raise web.HTTPNotFound(text="not found\n")
    body, gzipped = _load(request.app, target)
    headers = {"Content-Type": _content_type(target), **extra}
    accepts = "gzip" in request.headers.get("Accept-Encoding", "")
    compressible = headers["Content-Type"].startswith(_COMPRESSIBLE)
    if allow_gzip and accepts and compressible and gzipped is not None:
        body = gzipped
        headers["Content-Encoding"] = "gzip"
        headers["Vary"] = "Accept-Encoding"
    return web.Response(status=status, body=body, headers=headers)


def make_app() -> web.Application:
    app = web.Application()
    app[_FILES] = {}
    app[_HEADERS] = load_headers()
    app[_HITS] = Counter()
    app[_AGENTS] = {}
    app.router.add_get("/_hits", hits)
    app.router.add_get("/_agents", agents)
    app.router.add_get("/{tail:.*}", serve)
    return app


async def _start(host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(make_app(), access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024, reuse_address=True)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


class FixtureSite:
    """The fixture site in a daemon thread (default) or a subprocess (``in_process=False``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, in_process: bool = True):
        self.host, self.port, self.in_process = host, port, in_process
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._process: subprocess.Popen[str] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def hits(self, path: str) -> int:
        """How many requests `path` has had since the site started."""
        with _OPENER.open(self.url("/_hits"), timeout=10) as response:
            return json.load(response).get(path, 0)

    def user_agent(self, path_qs: str) -> str | None:
        """The User-Agent of the last request for `path_qs` ("/good.html?x=1")."""
        with _OPENER.open(self.url("/_agents"), timeout=10) as response:
            return json.load(response).get(path_qs)

    def start(self) -> FixtureSite:
        if self.in_process:
            loop = asyncio.new_event_loop()
            self._runner, self.port = loop.run_until_complete(_start(self.host, self.port))
            self._loop = loop
            self._thread = threading.Thread(
                target=loop.run_forever, name=f"FixtureSite:{self.port}", daemon=True
            )
            self._thread.start()
        else:
            command = [sys.executable, "-m", "tests.fixture_site.app", "--host", self.host]
            self._process = subprocess.Popen(
                [*command, "--port", str(self.port)],
                cwd=PROJECT_DIR,
                stdout=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
            )
            assert self._process.stdout is not None
            line = self._process.stdout.readline()  # "FixtureSite serving on http://HOST:PORT"
            self._process.stdout.close()
            if not line.startswith("FixtureSite serving on "):
                self.stop()
                raise RuntimeError(f"fixture site did not start: {line!r}")
            self.port = int(line.rsplit(":", 1)[1])
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
            self._loop.close()
            self._loop, self._thread, self._runner = None, None, None

    def __enter__(self) -> FixtureSite:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _wait_until_answers(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with _OPENER.open(self.url("/robots.txt"), timeout=2) as response:
                    response.read()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.05)


async def _serve_forever(host: str, port: int) -> None:
    runner, bound = await _start(host, port)
    print(f"FixtureSite serving on http://{host}:{bound}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the processors' fixture site.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(args.host, args.port))


if __name__ == "__main__":
    main()
