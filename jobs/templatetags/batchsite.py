"""Figures formatted for people: 1.2 s, 3 min ago, 12,400, 45 %, and status badges."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma, naturaltime
from django.utils.html import format_html

from jobs.models import ItemStatus, JobStatus

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """0.42 → "420 ms", 1.234 → "1.2 s", 200 → "3 min 20 s", 7500 → "2 h 5 min"."""
    if seconds is None or seconds == "":
        return "—"
    seconds = float(seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs and minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


@register.filter
def number(value) -> str:
    """12400 → "12,400"; None → "—"."""
    if value is None or value == "":
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return intcomma(round(value, 1))
    return intcomma(int(value))


@register.filter
def percent(value, digits: int = 0) -> str:
    """45.678 → "46 %" (the value is already a percentage)."""
    if value is None:
        return "—"
    return f"{float(value):.{int(digits)}f} %"


@register.filter
def ago(value: datetime | None) -> str:
    """A moment as people say it: "3 minutes ago"; "—" when there is none."""
    if value is None:
        return "—"
    return naturaltime(value)


@register.filter
def iso(value: datetime | None) -> str:
    """For `<time datetime=...>` and for scripts that keep relative times fresh."""
    return "" if value is None else value.astimezone(UTC).isoformat()


@register.simple_tag
def status_badge(status: str, kind: str = "job", live: bool = False) -> str:
    """A status badge in the status's colour (JobStatus.colors / ItemStatus.colors)."""
    choices = JobStatus if kind == "job" else ItemStatus
    try:
        member = choices(status)
    except ValueError:
        return format_html('<span class="badge badge--gray">{}</span>', status)
    pulse = " badge--live" if live and member in choices.ACTIVE else ""
    return format_html(
        '<span class="badge badge--{}{}" data-status="{}">{}</span>',
        choices.colors[member],
        pulse,
        member.value,
        member.label,
    )
