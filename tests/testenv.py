"""Loaded by pytest before Django (``-p tests.testenv`` in pyproject): gives the test run its own
Redis database index, so a shared Redis keeps its data, and lets fetches reach the local test site
on 127.0.0.1 (and nothing else private)."""

import os
from urllib.parse import urlsplit, urlunsplit

TEST_REDIS_DB = os.environ.get("BATCHSITE_TEST_REDIS_DB", "13")


def _test_redis_url() -> str:
    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, f"/{TEST_REDIS_DB}", parts.query, ""))


os.environ["REDIS_URL"] = _test_redis_url()
os.environ["BATCHSITE_ALLOWED_NETWORKS"] = "127.0.0.1/32"
# Users are made in nearly every test (and logged in by daphne in the browser tests, which inherit
# this environment): a fast hasher, as Django's own test guidance suggests.
os.environ["BATCHSITE_PASSWORD_HASHERS"] = "django.contrib.auth.hashers.MD5PasswordHasher"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "batchsite.settings")
