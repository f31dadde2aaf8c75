"""The SSRF guard: which addresses a fetch may reach.

Private, loopback, link-local, multicast, reserved, unspecified, shared and cloud-metadata
addresses are refused — for every address a name resolves to, at every redirect hop — unless
BATCHSITE_ALLOWED_NETWORKS lists them. IPv6 forms that carry an IPv4 address (mapped, NAT64,
6to4, Teredo) are judged by what they carry, and numeric host forms (2130706433, 0x7f.1) by the
address they mean.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
from collections.abc import Iterable

from aiohttp.abc import AbstractResolver, ResolveResult

from jobs.errors import ErrorCode, ItemError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV6_UNICAST = ipaddress.ip_network("2000::/3")  # all global unicast IPv6 lives here
HOSTNAME_RE = re.compile(r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?$")
_IPV4_NUMBER = re.compile(r"^(?:0[xX][0-9A-Fa-f]*|[0-9]+)$")


# --- SSRF guard -------------------------------------------------------------------------------


def _addresses_to_check(addr: IPAddress) -> list[IPAddress]:
    """The address, or for IPv6 the IPv4 it stands for / carries, each of which must pass.

    IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses reach exactly that IPv4
    address, so they are judged as it; 6to4, Teredo (server and client) and IPv4-compatible
    addresses are judged as themselves and as what they embed.
    """
    if addr.version == 4:
        return [addr]
    if addr.ipv4_mapped is not None:
        return [addr.ipv4_mapped]
    if addr in _NAT64:
        return [ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)]
    found: list[IPAddress] = [addr]
    if addr.sixtofour is not None:
        found.append(addr.sixtofour)
    if addr.teredo is not None:
        found.extend(addr.teredo)
    if int(addr) >> 32 == 0 and int(addr) > 1:  # ::a.b.c.d (deprecated IPv4-compatible)
        found.append(ipaddress.IPv4Address(int(addr)))
    return found


def _block_reason(addr: IPAddress) -> str | None:
    if addr in _METADATA:
        return "a cloud metadata address"
    if addr.is_unspecified:
        return "an unspecified address"
    if addr.is_loopback:
        return "a loopback address"
    if addr.is_link_local:
        return "a link-local address"
    if addr.is_multicast:
        return "a multicast address"
    if addr.version == 4 and addr in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if addr.is_private:
        return "a private address"
    if addr.is_reserved or (addr.version == 6 and addr.is_site_local):
        return "a reserved address"
    if addr.version == 6 and addr not in _IPV6_UNICAST:
        return "a non-global address"
    if not addr.is_global:
        return "a non-global address"
    return None


class AddressGuard:
    """Says whether an IP address may be connected to: public addresses, or inside an allowed network."""

    _CACHE_SIZE = 4096

    def __init__(self, allowed_networks: Iterable[str] = ()) -> None:
        networks = []
        for cidr in allowed_networks:
            try:
                networks.append(ipaddress.ip_network(str(cidr).strip(), strict=False))
            except ValueError as exc:
                raise ValueError(f"invalid allowed network {cidr!r}: {exc}") from exc
        self.allowed_networks = tuple(networks)
        self._cache: dict[str, str | None] = {}

    def _allowed(self, addr: IPAddress) -> bool:
        return any(addr in network for network in self.allowed_networks)

    def reason(self, ip: str) -> str | None:
        """Why `ip` is refused, or None when it may be connected to."""
        try:
            return self._cache[ip]
        except KeyError:
            pass
        try:
            addr = ipaddress.ip_address(ip.split("%", 1)[0])
        except ValueError:
            return "not an IP address"
        found = None
        for candidate in _addresses_to_check(addr):
            if not self._allowed(candidate) and (why := _block_reason(candidate)):
                found = f"{why} (embedded {candidate})" if candidate != addr else why
                break
        if len(self._cache) >= self._CACHE_SIZE:
            self._cache.clear()
        self._cache[ip] = found
        return found

    def is_allowed(self, ip: str) -> bool:
        return self.reason(ip) is None

    def check(self, ip: str, host: str = "") -> None:
        """Raise BLOCKED_ADDRESS unless `ip` (what `host` resolved to) may be connected to."""
        why = self.reason(ip)
        if why is None:
            return
        subject = f"{host} resolves to {ip}," if host and host != ip else f"{ip} is"
        raise ItemError(
            ErrorCode.BLOCKED_ADDRESS, f"{subject} {why} (not in BATCHSITE_ALLOWED_NETWORKS)"
        )


class GuardedResolver(AbstractResolver):
    """Resolves with the loop's getaddrinfo and refuses the name if ANY address it has is blocked."""

    def __init__(self, guard: AddressGuard) -> None:
        self._guard = guard

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        name = host.rstrip(".").lower()
        if name == "invalid" or name.endswith(".invalid"):
            # RFC 6761: .invalid never resolves; answer without asking a DNS server.
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        loop = asyncio.get_running_loop()
        # No AI_ADDRCONFIG: check the whole answer, not just the families this host can reach.
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, family=family)
        results: list[ResolveResult] = []
        for fam, _type, proto, _canon, sockaddr in infos:
            ip = str(sockaddr[0])
            self._guard.check(ip, host)
            results.append(
                ResolveResult(
                    hostname=host,
                    host=ip,
                    port=int(sockaddr[1]),
                    family=fam,
                    proto=proto,
                    flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                )
            )
        if not results:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} has no addresses")
        return results

    async def close(self) -> None:
        return None


@functools.lru_cache(maxsize=4096)
def host_address(host: str) -> IPAddress | None:
    """The IP address a URL host is, or None for a name; ValueError for a malformed number."""
    if ":" in host:
        return ipaddress.ip_address(host)
    return parse_ipv4_literal(host)


def parse_ipv4_literal(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a host means under the WHATWG URL rules (127.1, 0x7f.1, 2130706433, ...).

    None for a domain name; ValueError for a host that looks numeric but is no address (1.2.3.4.5).
    """
    parts = (host[:-1] if host.endswith(".") else host).split(".")
    if not _IPV4_NUMBER.match(parts[-1]):
        return None
    if len(parts) > 4:
        raise ValueError(f"{host} is not a valid IPv4 address")
    numbers = []
    for part in parts:
        if part[:2].lower() == "0x":
            numbers.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            numbers.append(int(part, 8))
        else:
            numbers.append(int(part, 10))  # "" → ValueError
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise ValueError(f"{host} is not a valid IPv4 address")
    value = numbers[-1] + sum(n << (8 * (3 - i)) for i, n in enumerate(numbers[:-1]))
    return ipaddress.IPv4Address(value)
