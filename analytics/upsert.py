"""One INSERT … ON CONFLICT DO UPDATE that adds counters to rollup rows (SQLite ≥ 3.24 and
PostgreSQL alike), for any number of rows in one statement."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, models

from analytics.models import Period


def floor(at: datetime, period: str) -> datetime:
    """The start of the bucket of `period` that holds `at` (UTC)."""
    at = at.replace(second=0, microsecond=0)
    if period == Period.MINUTE:
        return at
    at = at.replace(minute=0)
    if period == Period.HOUR:
        return at
    return at.replace(hour=0)


def step(period: str) -> timedelta:
    return {
        Period.MINUTE: timedelta(minutes=1),
        Period.HOUR: timedelta(hours=1),
        Period.DAY: timedelta(days=1),
    }[Period(period)]


class Rows:
    """Rollup rows being added up before they are written: key → {counter: amount}."""

    def __init__(self) -> None:
        self.rows: dict[tuple, dict[str, float]] = {}

    def add(self, key: tuple, counters: dict[str, float]) -> None:
        row = self.rows.setdefault(key, {})
        for name, amount in counters.items():
            if amount:
                row[name] = row.get(name, 0) + amount

    def __bool__(self) -> bool:
        return bool(self.rows)


def upsert(model: type[models.Model], keys: Sequence[str], rows: Rows) -> None:
    """Add every row's counters to its rollup row, creating it if needed: one statement.

    Each key appears once (Rows merged them), as PostgreSQL requires of one ON CONFLICT statement.
    """
    if not rows:
        return
    counters = sorted({name for row in rows.rows.values() for name in row})
    table = connection.ops.quote_name(model._meta.db_table)
    columns = [*keys, *counters]
    quoted = [connection.ops.quote_name(model._meta.get_field(c).column) for c in columns]
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    updates = ", ".join(f"{q} = {table}.{q} + excluded.{q}" for q in quoted[len(keys) :])
    # Counters not named take their column's default (db_default=0) on insert.
    sql = (
        f"INSERT INTO {table} ({', '.join(quoted)}) VALUES "
        + ", ".join([placeholders] * len(rows.rows))
        + f" ON CONFLICT ({', '.join(quoted[: len(keys)])}) DO UPDATE SET {updates}"
    )
    params: list[Any] = []
    for key, row in rows.rows.items():
        params.extend(_prep(model, keys, key))
        params.extend(row.get(name, 0) for name in counters)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _prep(model: type[models.Model], keys: Sequence[str], values: Iterable) -> list[Any]:
    return [
        model._meta.get_field(name).get_db_prep_value(value, connection, prepared=False)
        for name, value in zip(keys, values, strict=True)
    ]
