"""`/metrics` in Prometheus' text format, right across any number of worker and web processes.

Nothing is kept in a process's memory: the chunk runners and the HTTP middleware add to counters
and histogram buckets in Redis (one pipelined round trip each), and a scrape reads those plus
what Redis and RQ already know (queue lengths, registered workers). A Redis that lost its data
starts the counters again from zero, which Prometheus reads as a counter reset.

- ``batchsite_items_processed_total{processor}``, ``batchsite_items_failed_total{processor}``:
  items that reached a final state in a runner's flush (processed counts failed ones too).
- ``batchsite_event_lag_seconds``: from an item finishing to its ``item_update`` being published.
- ``batchsite_http_request_duration_seconds{method,status}``: the web process's answer time.
- ``batchsite_queue_depth{queue}``, ``batchsite_workers``: RQ's, at scrape time.

The view answers 404 while ``BATCHSITE_METRICS_TOKEN`` is unset and 401 without
``Authorization: Bearer <that token>``.
"""

from __future__ import annotations

import bisect
import hmac
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

import django_rq
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from rq import Worker

from jobs import redis_client
from jobs.models import ItemStatus

log = logging.getLogger(__name__)

PREFIX = "batchsite:metrics:"
ITEMS_KEY = PREFIX + "items"  # hash "<processor>|<processed|failed>" → count
LAG = "event_lag"
HTTP = "http"
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SEP = "|"


def _redis():
    return redis_client.shared()


# --- recording (runners, middleware) --------------------------------------------------------


def _observe(pipe, name: str, labels: str, values: Iterable[float], buckets: Sequence[float]):
    """Histogram `name` (one Redis hash per label set): a count per bucket (not cumulative),
    the sum and the count."""
    values = list(values)
    if not values:
        return
    key = f"{PREFIX}{name}:{labels}"
    for index, n in Counter(bisect.bisect_left(buckets, v) for v in values).items():
        pipe.hincrby(key, str(index), n)
    pipe.hincrbyfloat(key, "sum", sum(values))
    pipe.hincrby(key, "count", len(values))
    pipe.sadd(f"{PREFIX}{name}:labels", labels)


def items_flushed(processor: str, outcomes: Sequence) -> None:
    """A runner wrote these outcomes and published their item_update: count them."""
    now = datetime.now(UTC)
    final = [o for o in outcomes if o.status in ItemStatus.TERMINAL]
    failed = sum(1 for o in final if o.status == ItemStatus.FAILED)
    try:
        pipe = _redis().pipeline(transaction=False)
        if final:
            pipe.hincrby(ITEMS_KEY, f"{processor}{SEP}processed", len(final))
        if failed:
            pipe.hincrby(ITEMS_KEY, f"{processor}{SEP}failed", failed)
        lags = [max(0.0, (now - o.finished_at).total_seconds()) for o in outcomes]
        _observe(pipe, LAG, "", lags, LAG_BUCKETS)
        pipe.execute()
    except Exception as exc:  # metrics are not worth a batch
        log.warning("Could not record metrics: %s", exc)


class RequestTimingMiddleware:
    """HTTP answer time by method and status class, into Redis (settings.MIDDLEWARE, first)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        labels = f"{request.method[:10]}{SEP}{response.status_code // 100}xx"
        try:
            pipe = _redis().pipeline(transaction=False)
            _observe(pipe, HTTP, labels, [elapsed], HTTP_BUCKETS)
            pipe.execute()
        except Exception as exc:
            log.warning("Could not record request metrics: %s", exc)
        return response


# --- reading (the scrape) -------------------------------------------------------------------


def _histogram(conn, name: str, metric: str, doc: str, labels: list[str], buckets: Sequence[float]):
    """Histogram `name` as recorded by `_observe`, cumulated, as the family `metric`."""
    family = HistogramMetricFamily(metric, doc, labels=labels)
    label_names = labels
    for labels in sorted(m.decode() for m in conn.smembers(f"{PREFIX}{name}:labels")):
        raw = {k.decode(): v.decode() for k, v in conn.hgetall(f"{PREFIX}{name}:{labels}").items()}
        running, cumulative = 0, []
        for index, bound in enumerate([*buckets, float("inf")]):
            running += int(raw.get(str(index), 0))
            cumulative.append(("+Inf" if bound == float("inf") else str(bound), running))
        values = labels.split(SEP) if label_names else []
        family.add_metric(values, cumulative, sum_value=float(raw.get("sum", 0)))
    return family


class RedisCollector:
    def collect(self):
        conn = _redis()
        processed = CounterMetricFamily(
            "batchsite_items_processed", "Items that reached a final state.", labels=["processor"]
        )
        failed = CounterMetricFamily(
            "batchsite_items_failed", "Items that failed.", labels=["processor"]
        )
        for field, value in sorted(conn.hgetall(ITEMS_KEY).items()):
            processor, _, what = field.decode().rpartition(SEP)
            family = processed if what == "processed" else failed
            family.add_metric([processor], int(value))
        yield processed
        yield failed
        yield _histogram(
            conn,
            LAG,
            "batchsite_event_lag_seconds",
            "From an item finishing to its live event being published.",
            [],
            LAG_BUCKETS,
        )
        yield _histogram(
            conn,
            HTTP,
            "batchsite_http_request_duration_seconds",
            "HTTP answer time of the web processes.",
            ["method", "status"],
            HTTP_BUCKETS,
        )
        depth = GaugeMetricFamily(
            "batchsite_queue_depth", "Jobs waiting in an RQ queue.", labels=["queue"]
        )
        for name in settings.JOB_QUEUES:
            depth.add_metric([name], len(django_rq.get_queue(name)))
        yield depth
        yield GaugeMetricFamily(
            "batchsite_workers", "RQ workers registered.", value=Worker.count(connection=conn)
        )


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.BATCHSITE_METRICS_TOKEN
    if not token:
        raise Http404("Metrics are off: set BATCHSITE_METRICS_TOKEN.")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = HttpResponse(
            "A bearer token is needed.\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RedisCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
