"""What changed between two runs of a schedule, URL by URL (URLs are normalised by the intake,
so the same input gives the same URL in every run).

- newly failing: the item failed, or answered HTTP 400 or more, and did not in the run before;
- recovered: the other way round;
- changed: anything else about its status or HTTP status that differs.

Two queries whatever the size of the runs: one for the two runs, one streaming both runs' items.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Case, Value, When

from jobs.models import BatchJob, ItemStatus, JobItem, JobStatus, Schedule

SHOWN = 100  # URLs listed per kind of change; the counts are always exact


@dataclass
class Change:
    url: str
    before: dict[str, Any]
    after: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "before": self.before, "after": self.after}


@dataclass
class RunChanges:
    previous: BatchJob | None
    current: BatchJob | None
    counts: dict[str, int] = field(default_factory=dict)
    newly_failing: list[Change] = field(default_factory=list)
    recovered: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)

    @property
    def comparable(self) -> bool:
        return self.previous is not None and self.current is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "previous_job": str(self.previous.pk) if self.previous else None,
            "current_job": str(self.current.pk) if self.current else None,
            "counts": self.counts,
            "newly_failing": [c.as_dict() for c in self.newly_failing],
            "recovered": [c.as_dict() for c in self.recovered],
            "changed": [c.as_dict() for c in self.changed],
        }


def _state(status: str, http_status: int | None, error_code: str) -> dict[str, Any]:
    return {"status": status, "http_status": http_status, "error_code": error_code}


def failing(state: dict[str, Any]) -> bool:
    return state["status"] == ItemStatus.FAILED or (state["http_status"] or 0) >= 400


def last_two_runs(schedule: Schedule) -> tuple[BatchJob | None, BatchJob | None]:
    """The schedule's latest finished run and the finished run before it (one query)."""
    runs = list(
        BatchJob.objects.filter(schedule=schedule, status__in=JobStatus.TERMINAL).order_by(
            "-created_at", "-pk"
        )[:2]
    )
    current = runs[0] if runs else None
    previous = runs[1] if len(runs) > 1 else None
    return previous, current


def compare(previous: BatchJob | None, current: BatchJob | None, shown: int = SHOWN) -> RunChanges:
    """The changes from `previous` to `current` (one query over both runs' items)."""
    changes = RunChanges(previous, current)
    kinds = ("newly_failing", "recovered", "changed", "added", "removed", "same")
    changes.counts = dict.fromkeys(kinds, 0)
    if previous is None or current is None:
        return changes
    before: dict[str, dict[str, Any]] = {}
    after: dict[str, dict[str, Any]] = {}
    # Which run a row belongs to is worked out in SQL: reading job_id would build a UUID per row
    # (most of the time this takes, measured with bench/schedules.py).
    rows = (
        JobItem.objects.filter(job_id__in=(previous.pk, current.pk))
        .annotate(now=Case(When(job_id=current.pk, then=Value(1)), default=Value(0)))
        .values_list("now", "url", "status", "http_status", "error_code")
        .order_by()
    )
    for is_current, url, status, http_status, error_code in rows.iterator(chunk_size=5000):
        target = after if is_current else before
        target[url] = _state(status, http_status, error_code)
    for url, now in after.items():
        then = before.pop(url, None)
        if then is None:
            changes.counts["added"] += 1
            continue
        if failing(now) and not failing(then):
            kind = "newly_failing"
        elif failing(then) and not failing(now):
            kind = "recovered"
        elif (then["status"], then["http_status"]) != (now["status"], now["http_status"]):
            kind = "changed"
        else:
            changes.counts["same"] += 1
            continue
        changes.counts[kind] += 1
        listed = getattr(changes, kind)
        if len(listed) < shown:
            listed.append(Change(url, then, now))
    changes.counts["removed"] = len(before)
    return changes


def since_last_run(schedule: Schedule, shown: int = SHOWN) -> RunChanges:
    """What changed between the schedule's last two finished runs."""
    previous, current = last_two_runs(schedule)
    return compare(previous, current, shown)
