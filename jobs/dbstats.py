"""Planner statistics for SQLite, which has no autovacuum to keep them (PostgreSQL's does).

Without them SQLite guesses that any owner has ten jobs, and picks among the job list indexes
(jobs.models.pipeline) nearly at random. The scheduler runs refresh() every hour (jobs.cron).
"""

from __future__ import annotations

from django.db import connection

from jobs.models import BatchJob

# The tables whose plans depend on the data: the job list's filters and sort keys. Items are
# always reached through their job, and ANALYZE of a table of millions of items takes seconds.
ANALYZED = (BatchJob,)


def refresh() -> list[str]:
    """ANALYZE the tables above on SQLite; returns the tables analyzed."""
    if connection.vendor != "sqlite":
        return []
    tables = [model._meta.db_table for model in ANALYZED]
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    return tables
