"""Connection limits against a real daphne: an idle socket is pinged and one that does not answer
is dropped (its share given back); a socket that answers stays open however quiet it is; a job
socket's close after the final event waits for a client that reads late. (The per-user cap is in
test_websocket.py, the slow reader in test_live.py.)"""

from __future__ import annotations

import base64
import os
import select
import socket
import time
from collections.abc import Iterator

import pytest
from asgiref.sync import async_to_sync

from jobs import events
from jobs.ws_auth import SOCKETS_KEY
from tests.events.clients import Recorder
from tests.events.conftest import running_daphne
from tests.events.wsclient import final, make_job, status

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PING_INTERVAL, PING_TIMEOUT = 1, 1
PING, CLOSE = 0x9, 0x8


@pytest.fixture(scope="module")
def pinging_daphne(django_db_setup) -> Iterator[str]:
    """daphne with the product's ping, made quick: --ping-interval 1 --ping-timeout 1."""
    options = ("--ping-interval", str(PING_INTERVAL), "--ping-timeout", str(PING_TIMEOUT))
    with running_daphne(*options) as server:
        yield server


def mute_client(server: str, path: str, receive_buffer: int = 0) -> socket.socket:
    """A WebSocket handshake by hand, from a client that will never answer a ping
    (`receive_buffer`: the kernel's receive buffer for it, small for a client that reads late)."""
    host, port = server.split(":")
    sock = socket.socket()
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(10)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def opcodes_until_closed(sock: socket.socket, timeout: float) -> tuple[list[int], bool]:
    """The opcodes of the frames the server sends (unmasked, small) until it ends the TCP
    connection or `timeout` passes; and whether it ended it."""
    data, closed = bytes_until_closed(sock, timeout)
    return parse_opcodes(data), closed


def bytes_until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, bool]:
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        return data, False
    except ConnectionResetError:
        pass
    return data, True


def parse_opcodes(data: bytes) -> list[int]:
    opcodes = []
    while len(data) >= 2:
        length, offset = data[1] & 0x7F, 2
        if length == 126:
            length, offset = int.from_bytes(data[2:4]), 4
        elif length == 127:
            length, offset = int.from_bytes(data[2:10]), 10
        opcodes.append(data[0] & 0x0F)
        data = data[offset + length :]
    return opcodes


def test_an_idle_socket_that_does_not_answer_pings_is_dropped(
    alice, alice_key, redis_db, pinging_daphne
):
    key = SOCKETS_KEY.format(user_id=alice.pk)
    sock = mute_client(pinging_daphne, f"/ws/jobs/?api_key={alice_key}")
    deadline = time.monotonic() + 10
    while redis_db.get(key) != b"1" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert redis_db.get(key) == b"1", "the socket is counted while open"
    started = time.monotonic()
    # daphne checks every 2 s: a ping after ≥ 1 s idle, then autobahn drops the connection when
    # no pong comes within 1 s.
    opcodes, closed = opcodes_until_closed(sock, timeout=15)
    sock.close()
    assert PING in opcodes, opcodes
    assert closed, "the server ended the connection"
    assert time.monotonic() - started < 15
    deadline = time.monotonic() + 5
    while redis_db.get(key) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert redis_db.get(key) is None, "its place under the per-user cap is given back"


def test_a_quiet_socket_that_answers_pings_stays_open_and_live(
    alice, alice_key, redis_db, pinging_daphne
):
    job = make_job(alice)
    url = f"ws://{pinging_daphne}/ws/jobs/?api_key={alice_key}"
    subscribe = {"event": "subscribe_job", "job_id": str(job.pk)}
    # The websockets client answers pings on its own; its own pings are turned off, so only the
    # server's keep this quiet socket busy.
    client = Recorder(url, [subscribe], ping_interval=None).start()
    client.wait_for(lambda m: m["event"] == "job_status_update")
    time.sleep(3 * (PING_INTERVAL + PING_TIMEOUT))  # several pings, all answered
    async_to_sync(events.send)(events.routing(job), [status(job, 42)])
    assert client.wait_for(lambda m: m.get("seq") == 42)["event"] == "job_status_update"
    assert client.thread.is_alive(), "still connected"
    assert client.close_code is None
    assert redis_db.get(SOCKETS_KEY.format(user_id=alice.pk)) == b"1"


def test_a_client_that_reads_late_still_gets_the_final_event_and_a_clean_close(
    alice, alice_key, daphne_server
):
    # The server closes a job socket right after the final event. Autobahn gives the client 1 s
    # to answer the close, then aborts the connection, and an abort throws away what daphne still
    # held for a client that reads late: the final event itself. The job socket waits longer.
    job = make_job(alice)
    path = f"/ws/job/{job.pk}/?api_key={alice_key}"
    sock = mute_client(daphne_server, path, receive_buffer=1024)
    assert select.select([sock], [], [], 10)[0], "the snapshot arrives: the socket follows the job"
    # ~100 KB of states: more than the kernel's buffers take, less than the slow-client limit.
    states = [status(job, seq, name="x" * 300) for seq in range(11, 211)]
    async_to_sync(events.send)(events.routing(job), [*states, final(job, 211)])
    time.sleep(3)  # a client busy elsewhere (a phone in the background, a starved process)
    data, _ = bytes_until_closed(sock, timeout=5)
    sock.close()
    assert data.count(b'"job_status_update"') == len(states) + 1  # with the snapshot
    assert b'"job_completed"' in data
    assert CLOSE in parse_opcodes(data)
