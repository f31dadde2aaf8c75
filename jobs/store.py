"""The chunk runner's hot-path writes: claim items, record outcomes and attempts, in batches.

Measured on this machine (DESIGN.md): `bulk_update` builds CASE expressions in Python and manages
≈2,500 rows/s, one parameterised UPDATE through `executemany` ≈90,000 rows/s on SQLite and
13,000–21,000 on PostgreSQL. So item rows are written here with `executemany`, and nowhere else.

Every function runs inside the caller's transaction and takes plain data, not model instances.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connection

from jobs.models import ItemAttempt, ItemStatus, JobItem

ITEMS = JobItem._meta.db_table
ATTEMPTS = ItemAttempt._meta.db_table


@dataclass(slots=True)
class Claimed:
    id: int
    url: str
    position: int
    attempts: int


@dataclass(slots=True)
class Outcome:
    """An item's final state for this run."""

    id: int
    status: str
    step: str
    progress: float
    attempts: int
    result: dict[str, Any] | None
    error: str
    error_code: str
    http_status: int | None
    started_at: datetime
    finished_at: datetime
    duration: float


@dataclass(slots=True)
class AttemptRow:
    item_id: int
    number: int
    worker: str
    started_at: datetime
    finished_at: datetime | None
    step: str
    outcome: str
    error_code: str
    error: str
    http_status: int | None
    duration: float | None


def _uuid(value: UUID | str) -> Any:
    return JobItem._meta.get_field("job").target_field.get_db_prep_value(
        value if isinstance(value, UUID) else UUID(str(value)), connection
    )


def _dt(value: datetime | None) -> Any:
    return connection.ops.adapt_datetimefield_value(value) if value is not None else None


def _dt_adapter() -> Callable[[datetime | None], Any]:
    """`_dt` for a batch of rows: the profile of a runner (bench/scale.py) showed Django's
    per-value adaptation — through the connection proxy, then `make_naive` — taking 15 % of a
    no-op runner's CPU. The database's rules are read once here and applied by a plain function.
    Both give the same values: PostgreSQL's driver takes aware datetimes as they are; SQLite stores
    them as naive text in the connection's time zone (`str()` of the naive datetime)."""
    if connection.vendor == "postgresql":
        return lambda value: value
    if not settings.USE_TZ:
        return _dt
    tz = connection.timezone

    def adapt(value: datetime | None) -> Any:
        if value is None:
            return None
        if value.utcoffset() is not None:
            value = value.astimezone(tz).replace(tzinfo=None)
        return str(value)

    return adapt


def _json_param() -> str:
    return "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"


def claim(job_id: UUID | str, worker: str, limit: int, now: datetime) -> list[Claimed]:
    """Claim up to `limit` queued items of the job, in position order, for `worker`.

    One statement: the conditional UPDATE only takes rows still queued, so two runners never
    claim the same item. On PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`: a runner
    passes over rows another runner's claim holds instead of waiting for its commit.
    `BATCHSITE_PG_CLAIM=conditional` picks them with the plain conditional UPDATE instead (kept
    to measure against, bench/scale.py: it waits on those row locks, then finds the rows gone).
    """
    if limit <= 0:
        return []
    if connection.vendor == "postgresql":
        sql, params = _claim_postgres(job_id, worker, limit, now)
    else:
        sql = (
            f"UPDATE {ITEMS} SET status = %s, worker = %s, started_at = %s "
            f"WHERE id IN (SELECT id FROM {ITEMS} WHERE job_id = %s AND status = %s "
            "ORDER BY position LIMIT %s) AND status = %s "
            "RETURNING id, url, position, attempts"
        )
        params = [ItemStatus.PROCESSING, worker, _dt(now), _uuid(job_id), ItemStatus.QUEUED]
        params += [limit, ItemStatus.QUEUED]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    claimed = [Claimed(*row) for row in rows]
    claimed.sort(key=lambda c: c.position)
    return claimed


def _claim_postgres(job_id, worker: str, limit: int, now: datetime) -> tuple[str, list]:
    lock = "" if settings.BATCHSITE_PG_CLAIM == "conditional" else " FOR UPDATE SKIP LOCKED"
    # MATERIALIZED: the planner must pick the rows once. Inlined into the UPDATE, the LIMIT
    # subquery can be re-run during the join and claim more rows than asked for.
    sql = (
        f"WITH picked AS MATERIALIZED (SELECT id FROM {ITEMS} WHERE job_id = %s "
        f"AND status = %s ORDER BY position LIMIT %s{lock}) "
        f"UPDATE {ITEMS} AS item SET status = %s, worker = %s, started_at = %s "
        "FROM picked WHERE item.id = picked.id AND item.status = %s "
        "RETURNING item.id, item.url, item.position, item.attempts"
    )
    params = [_uuid(job_id), ItemStatus.QUEUED, limit]
    params += [ItemStatus.PROCESSING, worker, _dt(now), ItemStatus.QUEUED]
    return sql, params


def held(job_id: UUID | str, worker: str, claimed_at: datetime) -> list[Claimed]:
    """The items `worker` claimed at `claimed_at` and still holds (a retried flush's claim)."""
    rows = JobItem.objects.filter(
        job_id=job_id, status=ItemStatus.PROCESSING, worker=worker, started_at=claimed_at
    ).values_list("id", "url", "position", "attempts")
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.position)


def release(item_ids: Sequence[int], worker: str) -> int:
    """Give claimed but unstarted items back to the queue (a runner stopping early)."""
    if not item_ids:
        return 0
    sql = f"UPDATE {ITEMS} SET status = %s, worker = '', started_at = NULL WHERE id = %s AND status = %s AND worker = %s"
    params = [(ItemStatus.QUEUED, item_id, ItemStatus.PROCESSING, worker) for item_id in item_ids]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
        return max(cursor.rowcount, 0)


def record_outcomes(outcomes: Sequence[Outcome], worker: str) -> int:
    """Write final item states; returns how many rows changed.

    Only rows this worker still holds change: an item reconcile gave to another runner keeps the
    state that runner writes, so no item is recorded twice.
    """
    if not outcomes:
        return 0
    sql = (
        f"UPDATE {ITEMS} SET status = %s, current_step = %s, progress = %s, attempts = %s, "
        f"result = {_json_param()}, error = %s, error_code = %s, http_status = %s, "
        "started_at = %s, finished_at = %s, duration = %s "
        "WHERE id = %s AND status = %s AND worker = %s"
    )
    dt = _dt_adapter()
    params = [
        (
            o.status,
            o.step,
            o.progress,
            o.attempts,
            None if o.result is None else json.dumps(o.result, default=str),
            o.error,
            o.error_code,
            o.http_status,
            dt(o.started_at),
            dt(o.finished_at),
            o.duration,
            o.id,
            ItemStatus.PROCESSING,
            worker,
        )
        for o in outcomes
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
        return max(cursor.rowcount, 0)


def record_attempts(attempts: Sequence[AttemptRow], worker: str) -> None:
    """Insert attempt rows of the items `worker` still holds (call before record_outcomes)."""
    if not attempts:
        return
    ids = {a.item_id for a in attempts}
    held = set(
        JobItem.objects.filter(id__in=ids, status=ItemStatus.PROCESSING, worker=worker).values_list(
            "id", flat=True
        )
    )
    attempts = [a for a in attempts if a.item_id in held]
    sql = (
        f"INSERT INTO {ATTEMPTS} (item_id, number, worker, started_at, finished_at, step, "
        "outcome, error_code, error, http_status, duration) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    )
    dt = _dt_adapter()
    params = [
        (
            a.item_id,
            a.number,
            a.worker,
            dt(a.started_at),
            dt(a.finished_at),
            a.step,
            a.outcome,
            a.error_code,
            a.error,
            a.http_status,
            a.duration,
        )
        for a in attempts
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def insert_items(
    job_id: UUID | str, rows: Sequence[tuple[int, str, str]], status: str, batch: int = 5000
) -> None:
    """Insert a job's items, (position, url, input) each, in batches (a 100,000-URL batch in well
    under a second on SQLite)."""
    sql = (
        f"INSERT INTO {ITEMS} (job_id, position, url, input, status, current_step, progress, "
        "attempts, error, error_code, worker) "
        "VALUES (%s, %s, %s, %s, %s, '', 0, 0, '', '', '')"
    )
    job = _uuid(job_id)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            cursor.executemany(
                sql,
                [(job, pos, url, raw, status) for pos, url, raw in rows[start : start + batch]],
            )
