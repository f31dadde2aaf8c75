"""Settings for the daphne a test starts: the product's, plus the test run's channel prefix (Redis
pub/sub channels are shared by every database index, so two test runs must not hear each other)
and smaller limits so that tests reach them quickly."""

import os

from batchsite.settings import *  # noqa: F403
from batchsite.settings import REDIS_URL

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": os.environ["BATCHSITE_TEST_CHANNEL_PREFIX"]},
    }
}
BATCHSITE_SSE_HEARTBEAT = float(os.environ.get("BATCHSITE_SSE_HEARTBEAT", "15"))
BATCHSITE_WS_MAX_BUFFER = int(os.environ.get("BATCHSITE_WS_MAX_BUFFER", str(1024 * 1024)))
# As in the test process (tests/conftest.py), so that users made there can log in here.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
