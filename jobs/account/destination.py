"""Where a webhook may point: checked when it is saved, with the same SSRF guard every fetch
uses (jobs.guard). Delivery checks again, at every redirect hop, through jobs.fetch."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from django.conf import settings

from jobs.errors import ItemError
from jobs.guard import HOSTNAME_RE, AddressGuard, host_address


def destination_problem(url: str) -> str | None:
    """Why a webhook may not be sent to `url`, or None when it may."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"Not a valid URL: {exc}."
    if parts.scheme not in ("http", "https"):
        return "Only http:// and https:// URLs can receive webhooks."
    host = parts.hostname
    if not host:
        return "The URL has no host."
    guard = AddressGuard(settings.BATCHSITE_ALLOWED_NETWORKS)
    try:
        literal = host_address(host)
    except ValueError as exc:
        return f"{exc}."
    if literal is not None:
        addresses = [str(literal)]
    elif not HOSTNAME_RE.match(host) or len(host) > 253:
        return f"{host} is not a valid host name."
    else:
        try:
            infos = socket.getaddrinfo(
                host, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
            )
        except (socket.gaierror, UnicodeError):
            return f"{host} does not resolve to any address."
        addresses = sorted({str(info[4][0]) for info in infos})
    for address in addresses:
        try:
            guard.check(address, host)
        except ItemError as exc:
            return f"Refused: {exc.message}."
    return None
