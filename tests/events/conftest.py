"""Fixtures for live events: a private channel prefix, API keys, and a real daphne server."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from jobs.models import ApiKey
from tests.conftest import ROOT, subprocess_env

# Redis pub/sub channels are shared by every database index: a prefix of this run's own keeps
# other test runs, benchmarks and a running product out of these tests (and these out of them).
CHANNEL_PREFIX = f"asgi-test-{os.getpid()}"
PLUGINS = ["tests.plugins.TitleProbe", "tests.plugins.Instant", "tests.plugins.Sleepy"]
# The daphne of these tests drops a client once this much waits for it (the default is 1 MiB).
DAPHNE_MAX_BUFFER = 256 * 1024
APP = "batchsite.asgi:application"


def channel_layers(redis_url: str) -> dict:
    return {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": CHANNEL_PREFIX},
        }
    }


@pytest.fixture(autouse=True)
def private_channels(settings):
    settings.CHANNEL_LAYERS = channel_layers(settings.REDIS_URL)
    settings.BATCHSITE_PROCESSORS = PLUGINS


@pytest.fixture
def alice_key(alice) -> str:
    return ApiKey.issue(alice, "live events")[1]


@pytest.fixture
def bob_key(bob) -> str:
    return ApiKey.issue(bob, "live events")[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"daphne exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError("daphne did not listen in time")


@contextlib.contextmanager
def running_daphne(*options: str, **env: str) -> Iterator[str]:
    """``daphne [options] batchsite.asgi:application`` on a free port, with this run's database
    and Redis; yields ``host:port``."""
    port = free_port()
    env = subprocess_env(
        DJANGO_SETTINGS_MODULE="tests.events.daphne_settings",
        BATCHSITE_TEST_CHANNEL_PREFIX=CHANNEL_PREFIX,
        BATCHSITE_PROCESSORS=",".join(PLUGINS),
        BATCHSITE_SSE_HEARTBEAT="0.5",
        BATCHSITE_WS_MAX_BUFFER=str(DAPHNE_MAX_BUFFER),
        **env,
    )
    # Per port: the browser tests import this fixture, so a run can hold two servers at once.
    log_path = ROOT / "var" / f"test-daphne-{os.getpid()}-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), *options, APP],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(port, proc)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    text = log_path.read_text(errors="replace")
    if "Traceback" in text:  # shown with the session's output: an error inside daphne
        sys.stderr.write(f"--- daphne log ({log_path}) ---\n{text[-20000:]}\n")
    else:
        log_path.unlink()


@pytest.fixture(scope="session")
def daphne_server(django_db_setup) -> Iterator[str]:
    with running_daphne() as server:
        yield server
