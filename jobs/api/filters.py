"""Query parameters of GET /api/jobs (a public contract: names, values and 400s).

Every parameter is validated; a bad one is reported with what it accepts, all of them at once.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import django_filters
from django import forms
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from jobs.models import BatchJob, JobStatus, JobTally
from jobs.processors.registry import processors

STATUS_ACCEPTS = ", ".join(JobStatus.values) + " (one, or several separated by commas)"
DATE_RANGES = ("today", "week", "month", "all")
PRIORITY_BANDS = {"low": (1, 3), "normal": (4, 6), "high": (7, 8), "urgent": (9, 10)}
PRIORITY_ACCEPTS = "a number from 1 to 10, or one of low, normal, high, urgent"
SORT_FIELDS = {
    "created_at": "created_at",
    "updated_at": "updated_at",
    "progress": "progress",
    "priority": "priority",
    "total_items": "total_items",
    "duration": "duration",
}
SORT_ORDERS = ("asc", "desc")
DEFAULT_LIMIT, MAX_LIMIT = 50, 100
_HEX_PREFIX = re.compile(r"[0-9a-f-]{4,36}\Z")


class Accepts(forms.ValidationError):
    """A parameter error that says what the parameter accepts."""

    def __init__(self, message: str, accepts: str) -> None:
        super().__init__(message, code="invalid")
        self.accepts = accepts


class StatusField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        if not value:
            return []
        statuses = [part.strip() for part in value.split(",") if part.strip()]
        unknown = [s for s in statuses if s not in JobStatus.values]
        if unknown or not statuses:
            raise Accepts(f"Unknown status {', '.join(unknown) or value!r}.", STATUS_ACCEPTS)
        return statuses


def whole_number_or_none(raw: str) -> int | None:
    """The number a query parameter spells in ASCII digits, else None. ``str.isdigit`` alone
    lets through "²" and other digits ``int()`` refuses; past 30 digits the value is 10**30
    (``int()`` refuses 4,300+ digits, and nothing here counts that high)."""
    text = raw.strip()
    if not text or not text.isascii() or not text.isdigit():
        return None
    return int(text) if len(text) < 30 else 10**30


class PriorityField(forms.CharField):
    def clean(self, value):
        value = (super().clean(value) or "").strip().lower()
        if not value:
            return None
        if value in PRIORITY_BANDS:
            return PRIORITY_BANDS[value]
        number = whole_number_or_none(value)
        if number is not None and 1 <= number <= 10:
            return (number, number)
        raise Accepts(f"Invalid priority {value!r}.", PRIORITY_ACCEPTS)


class ChoiceParam(forms.CharField):
    def __init__(self, *args, choices: tuple[str, ...] | None = None, **kwargs) -> None:
        self.choices = choices
        super().__init__(*args, **kwargs)

    def clean(self, value):
        value = (super().clean(value) or "").strip()
        if not value:
            return ""
        choices = self.choices if self.choices is not None else tuple(sorted(processors()))
        if value not in choices:
            raise Accepts(f"Invalid value {value!r}.", ", ".join(choices))
        return value


class StatusFilter(django_filters.Filter):
    field_class = StatusField

    def filter(self, qs: QuerySet, value):
        return qs.filter(status__in=value) if value else qs


def priority_q(band: tuple[int, int]) -> Q:
    low, high = band
    # One priority is an equality, which the planner estimates far better than a range.
    return Q(priority=low) if low == high else Q(priority__gte=low, priority__lte=high)


class PriorityFilter(django_filters.Filter):
    field_class = PriorityField

    def filter(self, qs: QuerySet, value):
        return qs.filter(priority_q(value)) if value else qs


class ChoiceParamFilter(django_filters.Filter):
    field_class = ChoiceParam


def date_range_start(value: str):
    """Where a date range begins, in the active (the user's) time zone; None for `all`."""
    now = timezone.localtime()
    if value == "today":
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    if value == "week":
        return now - timedelta(days=7)
    if value == "month":
        return now - timedelta(days=30)
    return None


_UUID_SHAPE = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"


def id_prefix_range(value: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The ids that start with `value` (4+ characters of the dashed form) as a closed range, or
    None when no id can: a range reads the primary key index, a text prefix would read rows."""
    if not _HEX_PREFIX.match(value):
        return None
    if any(
        (char == "-") != (shape == "-") for char, shape in zip(value, _UUID_SHAPE, strict=False)
    ):
        return None
    digits = value.replace("-", "")
    return uuid.UUID(digits.ljust(32, "0")), uuid.UUID(digits.ljust(32, "f"))


def search_jobs(qs: QuerySet, name: str, value: str) -> QuerySet:
    """By name (case-insensitive substring), or by job id prefix."""
    value = value.strip()
    if not value:
        return qs
    matches = Q(name__icontains=value)
    ids = id_prefix_range(value.lower())
    if ids is not None:
        matches |= Q(pk__gte=ids[0], pk__lte=ids[1])
    return qs.filter(matches)


class JobFilter(django_filters.FilterSet):
    status = StatusFilter()
    date_range = ChoiceParamFilter(choices=DATE_RANGES, method="filter_date_range")
    priority = PriorityFilter()
    processor = ChoiceParamFilter(field_name="processor")
    search = django_filters.CharFilter(method=search_jobs, max_length=200)

    class Meta:
        model = BatchJob
        fields: list[str] = []

    def filter_date_range(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        start = date_range_start(value) if value else None
        return qs.filter(created_at__gte=start) if start else qs

    # For a valid filterset only (after is_valid()).

    def _dated(self) -> bool:
        return self.form.cleaned_data.get("date_range") not in ("", None, "all")

    def but_status(self) -> QuerySet[BatchJob]:
        """The jobs matching every filter but status: what the summary counts."""
        jobs = self.queryset.all()
        for name, value in self.form.cleaned_data.items():
            if name != "status":
                jobs = self.filters[name].filter(jobs, value)
        return jobs

    def range_columns(self) -> set[str]:
        """Columns a range filter bounds, so that their list index leads to the matches."""
        columns = set()
        if self._dated():
            columns.add("created_at")
        if self.form.cleaned_data.get("priority"):
            columns.add("priority")
        return columns

    def tallied(self, tally: QuerySet[JobTally]) -> dict[str, int] | None:
        """Jobs per status matching every filter but status, summed from `tally` (the JobTally
        rows of the jobs this filterset's queryset holds); None when a filter is one the tally
        does not count by (a date range, a search)."""
        data = self.form.cleaned_data
        if data.get("search") or self._dated():
            return None
        if data.get("processor"):
            tally = tally.filter(processor=data["processor"])
        if data.get("priority"):
            tally = tally.filter(priority_q(data["priority"]))
        rows = tally.order_by().values_list("status").annotate(n=Sum("jobs"))
        return {status: n for status, n in rows if n}


def parse_paging(params) -> tuple[dict, dict[str, dict[str, str]]]:
    """limit, offset, sort_by, sort_order; returns (values, errors)."""
    errors: dict[str, dict[str, str]] = {}
    values = {"limit": DEFAULT_LIMIT, "offset": 0, "sort_by": "created_at", "sort_order": "desc"}
    for name in ("limit", "offset"):
        raw = params.get(name)
        if raw is None or raw == "":
            continue
        accepts = (
            "a whole number ≥ 1 (above 100 counts as 100)"
            if name == "limit"
            else "a whole number ≥ 0"
        )
        number = whole_number_or_none(raw)
        if number is None or (name == "limit" and number < 1):
            errors[name] = {"message": f"Invalid {name} {raw!r}.", "accepts": accepts}
            continue
        # Past 2**62 nothing is there anyway; the cap keeps the number a database integer.
        values[name] = min(number, 2**62) if name == "offset" else min(number, MAX_LIMIT)
    for name, choices in (("sort_by", tuple(SORT_FIELDS)), ("sort_order", SORT_ORDERS)):
        raw = params.get(name)
        if raw is None or raw == "":
            continue
        if raw not in choices:
            errors[name] = {"message": f"Invalid {name} {raw!r}.", "accepts": ", ".join(choices)}
            continue
        values[name] = raw
    return values, errors


def filter_errors(form: forms.Form) -> dict[str, dict[str, str]]:
    errors: dict[str, dict[str, str]] = {}
    for name, problems in form.errors.as_data().items():
        problem = problems[0]
        accepts = getattr(problem, "accepts", "") or "text of at most 200 characters"
        errors[name] = {"message": " ".join(problem.messages), "accepts": accepts}
    return errors
