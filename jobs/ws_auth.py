"""Who is on the other end of a socket or an event stream, whether they may open one more, and
whether they read fast enough to keep it.

`AuthStack(inner)` puts the user in ``scope["user"]`` from, in this order: an API key given as
``Authorization: Bearer <key>`` or ``?api_key=<key>`` (a given key wins, as in the REST API; a
wrong one leaves the user anonymous), else the Django session cookie. Consumers refuse anonymous
users themselves (WebSocket close 4401, SSE 401), as the Contract says.

`OriginValidator(app)` is Channels' `AllowedHostsOriginValidator`, except that a client sending no
``Origin`` at all passes: browsers always send it on a WebSocket handshake, and cross-site
hijacking needs a browser, so a missing Origin is a script (with its own credentials), not an
attack. A browser page from another site is still refused.

`Counters` keeps the Redis counters a daphne process holds: sockets per user (the per-user cap,
`BATCHSITE_MAX_SOCKETS_PER_USER`) and sockets watching a job (read by the runner to slow its status
events when many sockets watch). They carry an expiry that every change and a per-process task
refresh, so the share of a daphne process that crashed expires instead of staying forever.

`SendBuffer` measures what the server holds for a client that does not read: past
`BATCHSITE_WS_MAX_BUFFER` bytes the consumer drops it (WebSocket close 4408) rather than buffer more.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter
from urllib.parse import parse_qs

from channels.auth import AuthMiddleware, get_user
from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator as ChannelsOriginValidator
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from jobs.api.auth import LAST_USED_RESOLUTION
from jobs.models import ApiKey

log = logging.getLogger(__name__)

SOCKETS_KEY = "batchsite:sockets:user:{user_id}"
# Seconds a counter outlives the last process that refreshed it.
COUNTER_TTL = 120


# --- authentication -------------------------------------------------------------------------


def api_key_from(scope) -> str:
    """The raw API key a client gave: Bearer header first, then ``?api_key=``."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, raw = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and raw.strip():
                return raw.strip()
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return (query.get("api_key") or [""])[0].strip()


@database_sync_to_async
def user_for_key(raw: str):
    key = ApiKey.lookup(raw)
    if key is None:
        return AnonymousUser()
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key.user


class KeyOrSessionAuthMiddleware(AuthMiddleware):
    """Channels' AuthMiddleware, with an API key taking precedence over the session."""

    async def resolve_scope(self, scope) -> None:
        raw = api_key_from(scope)
        scope["user"]._wrapped = await (user_for_key(raw) if raw else get_user(scope))


def AuthStack(inner):
    return CookieMiddleware(SessionMiddleware(KeyOrSessionAuthMiddleware(inner)))


class ScriptFriendlyOriginValidator(ChannelsOriginValidator):
    def valid_origin(self, parsed_origin) -> bool:
        return parsed_origin is None or super().valid_origin(parsed_origin)


def OriginValidator(application):
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = ["localhost", "127.0.0.1", "[::1]"]
    return ScriptFriendlyOriginValidator(application, allowed_hosts)


# --- counters -------------------------------------------------------------------------------

_INCR = """
local v = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return v
"""
# Never below zero: a counter that expired under live sockets must not go negative on DECR.
_DECR = """
local v = redis.call('DECR', KEYS[1])
if v <= 0 then redis.call('DEL', KEYS[1]) else redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return v
"""


class Counters:
    """Redis counters of what this process holds open. Best effort: when Redis does not answer,
    nothing is counted (and nothing refused)."""

    def __init__(self) -> None:
        self.held: Counter[str] = Counter()
        self._clients: dict[asyncio.AbstractEventLoop, tuple] = {}

    def _client(self):
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            import redis.asyncio as aioredis

            for old in [lp for lp in self._clients if lp.is_closed()]:
                del self._clients[old]
            redis = aioredis.Redis.from_url(settings.REDIS_URL)
            refresher = loop.create_task(self._refresh(redis), name="batchsite-counters")
            client = (redis, redis.register_script(_INCR), redis.register_script(_DECR), refresher)
            self._clients[loop] = client
        return client

    async def incr(self, key: str) -> int:
        _, incr, _, _ = self._client()
        try:
            value = int(await incr(keys=[key], args=[COUNTER_TTL]))
        except Exception as exc:
            log.warning("Redis counter %s not incremented: %s", key, exc)
            return 0
        self.held[key] += 1
        return value

    async def decr(self, key: str) -> None:
        if self.held[key] <= 0:
            return
        self.held[key] -= 1
        if not self.held[key]:
            del self.held[key]
        _, _, decr, _ = self._client()
        try:
            await decr(keys=[key], args=[COUNTER_TTL])
        except Exception as exc:
            log.warning("Redis counter %s not decremented: %s", key, exc)

    async def _refresh(self, redis) -> None:
        """Keep alive the counters this process holds; the rest expire with their last holder."""
        while True:
            await asyncio.sleep(COUNTER_TTL / 3)
            keys = list(self.held)
            if not keys:
                continue
            try:
                async with redis.pipeline(transaction=False) as pipe:
                    for key in keys:
                        pipe.expire(key, COUNTER_TTL)
                    await pipe.execute()
            except Exception as exc:
                log.warning("Redis counters not refreshed: %s", exc)


counters = Counters()


def max_sockets_per_user() -> int:
    return getattr(settings, "BATCHSITE_MAX_SOCKETS_PER_USER", 50)


async def admit_connection(user) -> str | None:
    """Count one more open socket or stream of `user`; returns the counter key to release, or
    None when the user is over the cap (nothing is kept counted then)."""
    key = SOCKETS_KEY.format(user_id=user.pk)
    if await counters.incr(key) > max_sockets_per_user():
        await counters.decr(key)
        return None
    return key


# --- slow clients ---------------------------------------------------------------------------

SEND_TIMEOUT = 10.0  # seconds a send may take where the server applies backpressure


class SendBuffer:
    """The bytes the server holds for one client, where they can be seen.

    ASGI has no backpressure for ``websocket.send`` or ``http.response.body``, and daphne's send
    returns as soon as autobahn/Twisted took the frame: Twisted's transport buffers without bound.
    So counting events received versus sent inside a consumer measures nothing under daphne (every
    send completes at once); the backlog is the transport's write buffer. Daphne's send callable is
    ``partial(Server.handle_reply, protocol)`` (behind Channels' session middleware, whose wrapper
    keeps it as ``real_send``), so `find` reaches the protocol's TCP transport and `pending` reads
    its buffer. Elsewhere (TLS, another server, the test communicator) `find` returns None and the
    consumer bounds each send with a timeout instead, which is what a server that does apply
    backpressure (awaiting the drain) makes observable.
    """

    def __init__(self, transport, protocol=None) -> None:
        self.transport = transport
        self.protocol = protocol

    def pending(self) -> int:
        t = self.transport
        return len(t.dataBuffer) - t.offset + t._tempDataLen

    def abort(self) -> None:
        self.transport.abortConnection()

    def linger(self, seconds: float) -> None:
        """Wait this long for the client's answer to our close frame. Autobahn's default (its
        closeHandshakeTimeout, 1 s, which daphne does not expose) then aborts the connection,
        and a client that had not read yet loses what it was sent last to the reset: after a
        job's final event, a slow reader would miss that event."""
        if hasattr(self.protocol, "closeHandshakeTimeout"):
            self.protocol.closeHandshakeTimeout = seconds

    @classmethod
    def find(cls, send) -> SendBuffer | None:
        for _ in range(6):
            if isinstance(send, functools.partial):
                protocol = send.args[0] if send.args else None
                transport = getattr(protocol, "transport", None)
                if all(hasattr(transport, a) for a in ("dataBuffer", "offset", "_tempDataLen")):
                    return cls(transport, protocol)
                return None
            send = getattr(getattr(send, "__self__", None), "real_send", None)
        return None


def max_buffer() -> int:
    return getattr(settings, "BATCHSITE_WS_MAX_BUFFER", 1024 * 1024)
