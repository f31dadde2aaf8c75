"""The New batch form: its fields and their initial values, the chosen processor's options form,
the intake preview and the time estimate. jobs.services.submit_batch still decides: this form
only gives people its limits up front and keeps what they typed when it refuses."""

from __future__ import annotations

import math
from typing import Any

from django import forms
from django.conf import settings

from jobs import stats
from jobs.account import preferences
from jobs.intake import IntakeError, IntakeResult, parse_submission
from jobs.models import Priority
from jobs.processors.base import Processor
from jobs.processors.registry import UnknownProcessor, get_processor, processors
from jobs.services import LIMITS

OPTIONS_PREFIX = "options"
REJECTED_SHOWN = 10
WHEN_CHOICES = [
    ("now", "Now"),
    ("once", "Once, at a time"),
    ("cron", "On a cron expression"),
    ("every", "Every N minutes or hours"),
]
PRIORITY_CHOICES = [
    (n, f"{n} · {Priority.label(n)}{' (default)' if n == Priority.DEFAULT else ''}")
    for n in range(10, 0, -1)
]


def new_batch_initial(user) -> dict[str, Any]:
    """What a new batch starts with: the service's defaults, then the user's preferences
    (default processor, its options, priority and concurrency — settings page)."""
    initial = {name: default for name, (_, _, default) in LIMITS.items()}
    initial.update(processor="http_check", priority=Priority.DEFAULT, name="", options={})
    preferred = preferences.new_batch_initial(user)
    initial.update({key: value for key, value in preferred.items() if value not in (None, "")})
    return initial


def _bounded(field: type[forms.Field], name: str, label: str, help_text: str, **kwargs):
    low, high, _ = LIMITS[name]
    attrs = {
        "min": low,
        "max": high,
        "inputmode": "decimal" if field is forms.FloatField else "numeric",
    }
    return field(
        label=label,
        min_value=low,
        max_value=high,
        help_text=help_text,
        widget=forms.NumberInput(attrs={**attrs, **kwargs.pop("attrs", {})}),
        **kwargs,
    )


class NewBatchForm(forms.Form):
    text = forms.CharField(
        label="URLs",
        required=False,
        strip=False,
        widget=forms.Textarea(
            attrs={
                "rows": 10,
                "spellcheck": "false",
                "autocomplete": "off",
                "placeholder": "https://example.com\nexample.org/pricing\nhttps://example.net/contact",
            }
        ),
    )
    file = forms.FileField(
        label="Or upload a CSV or TXT file",
        required=False,
        widget=forms.FileInput(attrs={"accept": ".csv,.tsv,.txt,text/csv,text/plain"}),
    )
    processor = forms.ChoiceField(label="Processor")
    name = forms.CharField(label="Name", required=False, max_length=200)
    priority = forms.TypedChoiceField(
        label="Priority", coerce=int, choices=PRIORITY_CHOICES, help_text="Higher runs first."
    )
    concurrency = _bounded(forms.IntegerField, "concurrency", "Concurrency", "URLs at once, 1–500.")
    item_timeout = _bounded(
        forms.FloatField, "item_timeout", "Timeout per attempt", "Seconds.", attrs={"step": "any"}
    )
    max_attempts = _bounded(
        forms.IntegerField, "max_attempts", "Max attempts", "Timeouts and 5xx are retried."
    )
    per_host_limit = _bounded(
        forms.IntegerField, "per_host_limit", "Per host at once", "0: only the concurrency."
    )
    host_delay = _bounded(
        forms.FloatField,
        "host_delay",
        "Delay per host",
        "Seconds between two requests to one host.",
        attrs={"step": "any"},
    )

    # Schedule: run now (a job), or make a schedule (jobs.schedules) that runs it later.
    when = forms.ChoiceField(
        label="Run",
        choices=WHEN_CHOICES,
        initial="now",
        required=False,
        widget=forms.RadioSelect,
    )
    run_at = forms.CharField(
        label="At",
        required=False,
        max_length=64,
        help_text="Once: when it runs. Every: the first run (empty: now). Your time zone.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    cron = forms.CharField(
        label="Cron expression",
        required=False,
        max_length=120,
        help_text="minute hour day month weekday",
        widget=forms.TextInput(attrs={"placeholder": "0 9 * * 1-5", "spellcheck": "false"}),
    )
    every = forms.CharField(
        label="Every",
        required=False,
        max_length=20,
        help_text="Minutes, or e.g. 30m, 2h, 1d.",
        widget=forms.TextInput(attrs={"placeholder": "1h", "spellcheck": "false"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["processor"].choices = [
            (name, cls.label or name) for name, cls in processors().items()
        ]

    def processor_class(self) -> type[Processor]:
        """The chosen processor (the bound value, else the initial one), or the default."""
        name = self["processor"].value() or "http_check"
        try:
            return get_processor(str(name))
        except UnknownProcessor:
            return get_processor("http_check")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        upload = cleaned.get("file")
        limit = settings.BATCHSITE_MAX_UPLOAD_BYTES
        if upload is not None and upload.size and upload.size > limit:
            self.add_error("file", f"The file is {upload.size:,} bytes; the limit is {limit:,}.")
        return cleaned


def timing_of(cleaned: dict[str, Any]) -> dict[str, Any] | None:
    """The schedule timing the form asks for (create_schedule's run_at/cron/every), or None to
    run now."""
    when = cleaned.get("when") or "now"
    if when == "now":
        return None
    if when == "once":
        return {"run_at": cleaned.get("run_at") or None}
    if when == "cron":
        return {"cron": cleaned.get("cron") or None}
    return {"every": cleaned.get("every") or None, "run_at": cleaned.get("run_at") or None}


def preferred_options(user, processor: type[Processor]) -> dict[str, Any] | None:
    """The user's saved options, when `processor` is their default processor."""
    initial = new_batch_initial(user)
    return initial["options"] if processor.name == initial["processor"] else None


def options_form(
    processor: type[Processor], data=None, initial: dict[str, Any] | None = None
) -> forms.Form | None:
    """The processor's own options form (its Django form class), prefixed so its field names
    cannot clash with the batch's."""
    if processor.options_form is None:
        return None
    return processor.options_form(data=data, initial=initial, prefix=OPTIONS_PREFIX)


def raw_options(form: forms.Form | None) -> dict[str, Any]:
    """What the person entered in the options form, by the processor's field names, for
    submit_batch to validate (a checkbox left empty is False, as the form would read it)."""
    if form is None:
        return {}
    return {name: form[name].data for name in form.fields}


def preview(
    text: str | None, file: bytes | None, filename: str = ""
) -> tuple[IntakeResult | None, str]:
    """The intake of what was pasted or uploaded — the same parser submit_batch uses — or why
    it refuses the whole thing ("" when there is simply nothing yet)."""
    try:
        result = parse_submission(
            text=text or None,
            file=file or None,
            filename=filename,
            max_urls=settings.BATCHSITE_MAX_URLS_PER_BATCH,
            max_bytes=settings.BATCHSITE_MAX_UPLOAD_BYTES,
        )
    except IntakeError as exc:
        return None, "" if exc.code == "empty" else exc.message
    return result, ""


def estimate(valid: int, processor: str, concurrency: int) -> dict[str, Any] | None:
    """How long `valid` items should take at `concurrency`, from this processor's recent p50
    item time: the items run in waves of `concurrency`. None before anything has run."""
    p50 = stats.recent_item_seconds(processor)
    if p50 is None or valid <= 0:
        return {"p50": p50, "seconds": None} if p50 is not None else None
    waves = math.ceil(valid / max(1, concurrency))
    return {"p50": p50, "seconds": waves * p50, "waves": waves}
