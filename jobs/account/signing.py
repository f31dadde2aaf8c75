"""The webhook signature: `X-Batchsite-Signature: t=<unix seconds>,v1=<hex>` where `<hex>` is
HMAC-SHA256, keyed with the webhook's secret, of `"<t>.<body>"` (the raw request body, bytes).

A receiver recomputes it over the body it got, compares in constant time, and refuses a `t` too
far from its clock (replays). `verify` below is that check, also used by the tests.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Batchsite-Signature"
DEFAULT_TOLERANCE = 300  # seconds


def signature(secret: str, body: bytes, timestamp: int) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def header_value(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header for `body`, signed now (or at `timestamp`)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={signature(secret, body, t)}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """True when `header` signs `body` with `secret` and its timestamp is within `tolerance`."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(secret, body, timestamp)
    return any(hmac.compare_digest(expected, given) for given in parts.get("v1", []))
