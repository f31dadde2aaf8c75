"""Two-host rehearsal (issue 10): the web host runs daphne, Redis and PostgreSQL; a worker host —
a network namespace the test makes, joined by a veth pair — runs `rqworker` configured by
DATABASE_URL and REDIS_URL alone. A job submitted to the web API is processed by that worker.

PostgreSQL listens on 127.0.0.1 only, so a TCP forwarder on the web host's veth address stands in
for its network listener; Redis is a private redis-server bound to that address. The worker host
cannot reach the web host's loopback at all (checked), so whatever it did went over the veth.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

import pytest
from django.db import connection

from jobs.account.keys import create_key
from jobs.models import BatchJob, ItemStatus, JobStatus
from tests.conftest import refreshed, wait_until
from tests.faults.conftest import assert_settled_exactly_once, processes, redis_server_binary
from tests.scale.netns import Forwarder, Namespace, NamespaceUnavailable, free_port
from tests.site import LocalSite

__all__ = ["processes"]  # the fixture, used by name below

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

URLS = 40
QUEUES = ("urgent", "high", "default", "low")
ASGI_APP = "batchsite.asgi:application"
NO_DISK = ("--save", "", "--appendonly", "no", "--protected-mode", "no")


@pytest.fixture
def worker_host():
    if connection.vendor != "postgresql":
        pytest.skip(
            "a worker on another host needs a database server: run with DATABASE_URL=postgres://…"
        )
    try:
        namespace = Namespace().create()
    except NamespaceUnavailable as exc:
        pytest.skip(f"cannot make a network namespace here ({exc}); needs root and iproute2")
    try:
        yield namespace
    finally:
        namespace.delete()


def in_namespace_connects(processes, host: Namespace, address: str, port: int) -> bool:
    code = f"import socket; socket.create_connection(({address!r}, {port}), timeout=2)"
    proc = processes.start("probe", host.argv(sys.executable, "-c", code))
    return proc.wait(timeout=30) == 0


def test_a_worker_on_another_host_processes_a_job_submitted_to_the_web(
    worker_host, processes, alice
):
    web_ip = worker_host.host_ip
    db = connection.settings_dict
    pg = Forwarder(web_ip, (db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))).start()
    site = LocalSite(host=web_ip).start()
    redis_port = free_port(web_ip)
    try:
        processes.start(
            "redis",
            [redis_server_binary(), "--bind", web_ip, "--port", str(redis_port), *NO_DISK],
        )
        redis_url = f"redis://{web_ip}:{redis_port}/0"
        # The web host: daphne on its veth address, with the same Redis.
        web_port = free_port(web_ip)
        common = {"REDIS_URL": redis_url, "BATCHSITE_ALLOWED_NETWORKS": f"{web_ip}/32"}
        daphne = processes.start(
            "daphne",
            [sys.executable, "-m", "daphne", "-b", web_ip, "-p", str(web_port), ASGI_APP],
            **common,
            DJANGO_ALLOWED_HOSTS=web_ip,
        )
        wait_until(lambda: daphne.poll() is None and _answers(web_ip, web_port), timeout=60)
        _, key = create_key(alice, "two hosts", "full")
        urls = [site.url(f"/ok/two-hosts-{i}") for i in range(URLS)]
        job_id = _submit(f"http://{web_ip}:{web_port}/api/jobs", key, urls)

        # The worker host knows the others only by URL; its own loopback has no PostgreSQL.
        assert not in_namespace_connects(
            processes, worker_host, "127.0.0.1", int(db["PORT"] or 5432)
        )
        database_url = f"postgres://{db['USER']}@{web_ip}:{pg.port}/{db['NAME']}"
        worker = processes.start(
            "worker",
            worker_host.argv(sys.executable, "manage.py", "rqworker", *QUEUES, "--burst"),
            **{**common, "DATABASE_URL": database_url},
        )
        assert worker.wait(timeout=120) == 0

        job = BatchJob.objects.get(pk=job_id)
        wait_until(lambda: refreshed(job).status in JobStatus.TERMINAL, timeout=30)
        job = assert_settled_exactly_once(job)
        assert job.status == JobStatus.COMPLETED
        assert job.items.filter(status=ItemStatus.SUCCEEDED, http_status=200).count() == URLS
        # The database connections the worker made came from the worker host's address.
        assert worker_host.peer_ip in pg.peers
    finally:
        site.stop()
        pg.stop()


def _answers(host: str, port: int) -> bool:
    """daphne serves requests (health is 503 until a worker and the scheduler are up)."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/api/health", timeout=2):
            return True
    except urllib.error.HTTPError as exc:
        return exc.code == 503
    except OSError:
        return False


def _submit(url: str, key: str, urls: list[str]) -> str:
    body = json.dumps({"urls": urls, "processor": "http_check", "concurrency": 10}).encode()
    request = urllib.request.Request(
        url,
        data=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as response:
        assert response.status == 201
        return json.loads(response.read())["job_id"]
