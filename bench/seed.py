"""The seed design, as RQ job functions: one RQ job per URL, fetched synchronously, one DB write.

`fetch_and_record` is what the first version of the product did for every URL: a work horse forks,
fetches the URL with one blocking request and writes the item's row with one UPDATE. `noop` is the
do-nothing job that measures raw RQ overhead (SimpleWorker).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

# Never through a proxy from the environment: the benchmark only talks to 127.0.0.1.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def noop() -> None:
    return None


def fetch_and_record(item_id: int, url: str, timeout: float = 30.0) -> int | None:
    """Fetch one URL, then write its result to its jobs_jobitem row (one UPDATE, autocommit)."""
    from django.db import connection

    started = datetime.now(UTC)
    t0 = time.perf_counter()
    status: int | None = None
    body = b""
    error_code = error = ""
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        error_code, error = "CONNECTION_ERROR", f"{type(exc).__name__}: {exc}"
    duration = time.perf_counter() - t0
    finished = datetime.now(UTC)
    result = None
    if status is not None:
        result = json.dumps(
            {"ok": status < 400, "status_code": status, "bytes": len(body), "total": duration}
        )
    json_param = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE jobs_jobitem SET status = %s, http_status = %s, "
            f"result = {json_param}, error_code = %s, error = %s, attempts = attempts + 1, "
            "progress = 100, started_at = %s, finished_at = %s, duration = %s WHERE id = %s",
            [
                "succeeded" if status is not None else "failed",
                status,
                result,
                error_code,
                error,
                adapt(started),
                adapt(finished),
                duration,
                item_id,
            ],
        )
    return status
