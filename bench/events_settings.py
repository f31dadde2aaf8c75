"""Settings for the processes bench/events.py starts (daphne, workers): the product's settings, with
the benchmark's own pub/sub channel prefix (Redis pub/sub ignores database indexes), room for
thousands of sockets of one user, and the channel layer under test (BENCH_CHANNEL_LAYER)."""

import os

from batchsite.settings import *  # noqa: F403
from batchsite.settings import REDIS_URL

_LAYERS = {
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "core": "channels_redis.core.RedisChannelLayer",
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": _LAYERS[os.environ.get("BENCH_CHANNEL_LAYER", "pubsub")],
        "CONFIG": {"hosts": [REDIS_URL], "prefix": os.environ.get("BENCH_CHANNEL_PREFIX", "asgib")},
    }
}
BATCHSITE_MAX_SOCKETS_PER_USER = 100_000
