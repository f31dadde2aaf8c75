"""A second host for tests: a network namespace joined to this one by a veth pair, and a TCP
forwarder that makes a service listening on 127.0.0.1 here reachable on the veth address.

The namespace has its own loopback and sees this host only at `host_ip`: a process started in it
(`argv()`) reaches PostgreSQL, Redis and the web only through the addresses it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import threading


class NamespaceUnavailable(RuntimeError):
    pass


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if result.returncode != 0:
        raise NamespaceUnavailable(f"ip {' '.join(args)}: {result.stderr.strip() or 'failed'}")


class Namespace:
    """`ip netns add` + a veth pair; this host is `host_ip`, the namespace `peer_ip` (a /30 of
    10.231.0.0/16 chosen by this process's id, so two test runs do not collide)."""

    def __init__(self) -> None:
        pid = os.getpid()
        self.name = f"batchsite-{pid}"
        self.host_if, self.peer_if = f"bsh{pid}", f"bsn{pid}"
        block = 4 * (pid % 16384)
        base = f"10.231.{block // 256}"
        self.host_ip, self.peer_ip = f"{base}.{block % 256 + 1}", f"{base}.{block % 256 + 2}"

    def create(self) -> Namespace:
        if os.geteuid() != 0:
            raise NamespaceUnavailable("network namespaces need root")
        try:
            _ip("netns", "add", self.name)
        except FileNotFoundError as exc:  # no iproute2
            raise NamespaceUnavailable(str(exc)) from exc
        try:
            _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.peer_if)
            _ip("link", "set", self.peer_if, "netns", self.name)
            _ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            _ip("link", "set", self.host_if, "up")
            self.exec_ip("addr", "add", f"{self.peer_ip}/30", "dev", self.peer_if)
            self.exec_ip("link", "set", self.peer_if, "up")
            self.exec_ip("link", "set", "lo", "up")
        except NamespaceUnavailable:
            self.delete()
            raise
        return self

    def exec_ip(self, *args: str) -> None:
        _ip("netns", "exec", self.name, "ip", *args)

    def argv(self, *command: str) -> list[str]:
        """A command line that runs `command` inside the namespace."""
        return ["ip", "netns", "exec", self.name, *command]

    def delete(self) -> None:
        # Deleting the namespace deletes the veth end in it, and with it the pair.
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True, timeout=10)
        subprocess.run(["ip", "link", "delete", self.host_if], capture_output=True, timeout=10)


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class Forwarder:
    """Listens on (`host`, a free port) and pipes every connection to `target`; remembers the
    addresses that connected (to show who reached the service through it)."""

    def __init__(self, host: str, target: tuple[str, int]) -> None:
        self.host, self.target = host, target
        self.port = free_port(host)
        self.peers: set[str] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tcp-forwarder", daemon=True)

    def start(self) -> Forwarder:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("forwarder did not start")
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, self.host, self.port)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            pipes = asyncio.all_tasks(self._loop)
            for task in pipes:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pipes, return_exceptions=True))
            self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.peers.add(writer.get_extra_info("peername")[0])
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()
