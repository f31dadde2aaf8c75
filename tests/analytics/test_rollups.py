"""The chunk runner's flushes keep the rollups: a job of known durations, run by a real burst
worker against the local site, gives per-minute and per-hour rows whose counts are exact and whose
percentiles (read from the log-scale bins) are within one bin of the exact ones."""

from __future__ import annotations

import math

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from analytics import bins
from analytics.models import HostRollup, ItemRollup, Period
from analytics.record import record_items
from jobs.models import ItemStatus, JobStatus
from jobs.services import submit_batch
from tests.conftest import refreshed

pytestmark = pytest.mark.django_db(transaction=True)

DELAYS_MS = [5, 20, 50, 80, 120, 200, 300, 450, 600, 800]


def exact_percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def hist_of(rows) -> list[int]:
    totals = rows.aggregate(**{f: Sum(f) for f in bins.FIELDS})
    return [totals[f] or 0 for f in bins.FIELDS]


def test_a_job_with_known_durations_rolls_up_exactly(alice, site, burst_worker):
    urls = [site.url(f"/delay/{ms}/{i}") for i in range(3) for ms in DELAYS_MS]
    port = site.base_url.rsplit(":", 1)[1]
    refused = [f"http://127.0.0.2:{port}/blocked/{i}" for i in range(4)]  # BLOCKED_ADDRESS
    job = submit_batch(alice, urls=urls + refused, max_attempts=1, concurrency=40).job
    burst_worker()
    job = refreshed(job)
    assert job.status == JobStatus.COMPLETED_WITH_ERRORS

    items = list(job.items.all())
    ok = [i for i in items if i.status == ItemStatus.SUCCEEDED]
    failed = [i for i in items if i.status == ItemStatus.FAILED]
    assert (len(ok), len(failed)) == (len(urls), len(refused))
    for period in (Period.MINUTE, Period.HOUR):
        rows = ItemRollup.objects.filter(period=period, owner=alice.pk, processor="http_check")
        totals = rows.aggregate(s=Sum("succeeded"), f=Sum("failed"), b=Sum("err_blocked_address"))
        assert totals == {"s": len(ok), "f": len(failed), "b": len(failed)}
        assert sum(hist_of(rows)) == len(ok) + len(failed)

    hist = hist_of(ItemRollup.objects.filter(period=Period.HOUR))
    durations = [i.duration for i in ok + failed]
    for q in (50, 95, 99):
        exact = exact_percentile(durations, q)
        low, high = bins.bounds(bins.bin_of(exact))
        estimate = bins.percentile(hist, q)
        assert abs(estimate - exact) <= high - low, (q, estimate, exact)
    hosts = HostRollup.objects.filter(owner=alice.pk, period=Period.HOUR)
    assert list(hosts.values_list("host", "failed")) == [("127.0.0.2", len(refused))]


def test_bins_put_every_duration_between_its_edges():
    for seconds in (0.0, 0.0004, 0.001, 0.0014142, 0.05, 1.0, 29.9, 600.0, 5000.0):
        low, high = bins.bounds(bins.bin_of(seconds))
        assert low <= seconds < high or bins.bin_of(seconds) == bins.N_BINS - 1


def test_a_flush_is_one_upsert_however_many_items_it_holds(alice):
    from datetime import UTC, datetime

    from jobs.store import Outcome

    at = datetime(2026, 11, 30, 12, 0, 30, tzinfo=UTC)

    def outcome(i: int, status: str = "succeeded") -> Outcome:
        return Outcome(i, status, "", 100, 1, {"bytes_wire": 1000}, "", "", 200, at, at, 0.01 * i)

    with CaptureQueriesContext(connection) as queries:
        record_items(alice.pk, "http_check", [outcome(i) for i in range(1, 501)])
    assert len(queries) == 1
    with CaptureQueriesContext(connection) as queries:
        record_items(alice.pk, "http_check", [outcome(i) for i in range(1, 501)])
    assert len(queries) == 1
    row = ItemRollup.objects.get(period=Period.MINUTE, owner=alice.pk)
    assert (row.succeeded, row.bytes) == (1000, 1_000_000)
    assert ItemRollup.objects.get(period=Period.HOUR, owner=alice.pk).succeeded == 1000
