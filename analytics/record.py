"""What the pipeline calls to count its work: one small call per chunk-runner flush, per webhook
attempt, per batch of timed API requests. Each is one upsert into minute and hour rows (failed
items add one more, for their hosts); compaction makes day rows later.

Called inside the caller's transaction: a flush that rolls back counts nothing, and a flush retried
after its commit (jobs.jobstate) is not counted twice, because it writes nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from analytics import bins
from analytics.models import (
    ERROR_FIELDS,
    ERROR_OTHER,
    ApiRollup,
    HostRollup,
    ItemRollup,
    Period,
    WebhookRollup,
)
from analytics.upsert import Rows, floor, upsert

LIVE_PERIODS = (Period.MINUTE, Period.HOUR)
FINAL_STATUSES = {"succeeded": "succeeded", "failed": "failed"}  # the rest count as cancelled


def result_bytes(result: dict[str, Any] | None) -> int:
    """Bytes on the wire for an item's result (http_check and page_audit report them)."""
    if not isinstance(result, dict):
        return 0
    value = result.get("bytes_wire")
    if value is None and isinstance(result.get("page_weight"), dict):
        value = result["page_weight"].get("transfer_bytes")
    return value if isinstance(value, int) and value > 0 else 0


def record_items(owner_id: int, processor: str, outcomes: Sequence[Any]) -> None:
    """Count a flush's finished items (jobs.store.Outcome: status, error_code, duration,
    finished_at, result, id) into the owner's minute and hour rows for `processor`."""
    if not outcomes:
        return
    rows = Rows()
    failed: list[tuple[int, datetime]] = []
    for o in outcomes:
        counters: dict[str, float] = {FINAL_STATUSES.get(o.status, "cancelled"): 1}
        if o.status == "failed":
            counters[ERROR_FIELDS.get(o.error_code, ERROR_OTHER)] = 1
            failed.append((o.id, o.finished_at))
        if o.status in FINAL_STATUSES:
            counters[bins.FIELDS[bins.bin_of(o.duration)]] = 1
            counters["duration_sum"] = o.duration or 0.0
            counters["bytes"] = result_bytes(o.result)
        for period in LIVE_PERIODS:
            rows.add((period, floor(o.finished_at, period), owner_id, processor), counters)
    upsert(ItemRollup, ("period", "start", "owner", "processor"), rows)
    if failed:
        _record_hosts(owner_id, processor, failed)


def record_job(owner_id: int, processor: str, at: datetime) -> None:
    """A job submitted (jobs.services.submit_batch, in the job's own transaction)."""
    rows = Rows()
    for period in LIVE_PERIODS:
        rows.add((period, floor(at, period), owner_id, processor), {"jobs": 1})
    upsert(ItemRollup, ("period", "start", "owner", "processor"), rows)


def _record_hosts(owner_id: int, processor: str, failed: Iterable[tuple[int, datetime]]) -> None:
    from jobs.models import JobItem  # jobs imports this module: read its models when called

    at = dict(failed)
    rows = Rows()
    for item_id, url in JobItem.objects.filter(id__in=at).values_list("id", "url"):
        host = (urlsplit(url).hostname or "")[:255] or "(no host)"
        rows.add(
            (Period.HOUR, floor(at[item_id], Period.HOUR), owner_id, processor, host), {"failed": 1}
        )
    upsert(HostRollup, ("period", "start", "owner", "processor", "host"), rows)


def record_webhook(owner_id: int, ok: bool, duration_ms: float | None, at: datetime) -> None:
    """One webhook delivery attempt: delivered (2xx) or not."""
    counters = {"delivered" if ok else "failed": 1, "duration_sum": (duration_ms or 0) / 1000}
    rows = Rows()
    for period in LIVE_PERIODS:
        rows.add((period, floor(at, period), owner_id), counters)
    upsert(WebhookRollup, ("period", "start", "owner"), rows)


def record_api(requests: Iterable[tuple[int, int, float, datetime]]) -> None:
    """Timed API requests: (user id or 0, HTTP status, seconds, when) each."""
    rows = Rows()
    for owner_id, status, seconds, at in requests:
        counters = {"requests": 1, "duration_sum": seconds, bins.FIELDS[bins.bin_of(seconds)]: 1}
        if 400 <= status < 500:
            counters["client_errors"] = 1
        elif status >= 500:
            counters["server_errors"] = 1
        for period in LIVE_PERIODS:
            rows.add((period, floor(at, period), owner_id), counters)
    upsert(ApiRollup, ("period", "start", "owner"), rows)
