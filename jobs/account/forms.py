"""The settings page's forms. They check types and ranges; the services check the rest (a
webhook's destination, quotas) and their ServiceErrors are shown on the same fields."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from jobs.account.preferences import time_zones
from jobs.account.webhooks import POLICY_LIMITS
from jobs.models import PAGE_SIZES, ApiKeyScope, Priority, Theme, WebhookEvent
from jobs.processors.registry import processors
from jobs.services import LIMITS, ServiceError


def add_service_errors(form: forms.Form, exc: ServiceError) -> None:
    """Show a service's refusal on the form: on the field it names, else above the form."""
    for field, messages in exc.errors.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": "e.g. nightly import script"}),
    )
    scope = forms.ChoiceField(choices=ApiKeyScope.choices, initial=ApiKeyScope.FULL)


def _policy_field(name: str, initial: int, label: str, help_text: str) -> forms.IntegerField:
    low, high = POLICY_LIMITS[name]
    return forms.IntegerField(
        min_value=low, max_value=high, initial=initial, label=label, help_text=help_text
    )


class WebhookForm(forms.Form):
    url = forms.URLField(
        max_length=2000,
        assume_scheme="https",
        label="Payload URL",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/batchsite"}),
    )
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=[(e.value, e.label) for e in WebhookEvent.SUBSCRIBABLE],
        widget=forms.CheckboxSelectMultiple,
        initial=[WebhookEvent.JOB_COMPLETED, WebhookEvent.JOB_FAILED],
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    max_attempts = _policy_field("max_attempts", 5, "Attempts", "Tries before giving up.")
    backoff_base = _policy_field(
        "backoff_base", 30, "First retry after (s)", "Doubles after every failed attempt."
    )
    backoff_max = _policy_field("backoff_max", 3600, "Longest wait (s)", "The doubling stops here.")

    @classmethod
    def for_webhook(cls, webhook) -> WebhookForm:
        fields = ("url", "description", "events", "is_active", "max_attempts")
        initial = {name: getattr(webhook, name) for name in fields}
        initial |= {"backoff_base": webhook.backoff_base, "backoff_max": webhook.backoff_max}
        return cls(initial=initial)


def _priority_choices() -> list[tuple[int, str]]:
    return [(n, f"{n} · {Priority.label(n)}") for n in range(10, 0, -1)]


class PreferencesForm(forms.Form):
    default_processor = forms.ChoiceField(label="Processor")
    default_options = forms.CharField(
        required=False,
        label="Options (JSON)",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text='The processor\'s options, e.g. {"method": "HEAD"}; empty for its defaults.',
    )
    default_priority = forms.TypedChoiceField(
        coerce=int, choices=_priority_choices, label="Priority"
    )
    default_concurrency = forms.IntegerField(
        min_value=LIMITS["concurrency"][0],
        max_value=LIMITS["concurrency"][1],
        label="Concurrency",
        help_text="URLs fetched at once per batch.",
    )
    theme = forms.ChoiceField(choices=Theme.choices, widget=forms.RadioSelect)
    page_size = forms.TypedChoiceField(
        coerce=int, choices=[(n, f"{n} rows") for n in PAGE_SIZES], label="Rows per page"
    )
    time_zone = forms.ChoiceField(
        required=False,
        label="Time zone",
        help_text="Dates on pages and the API's date_range use it.",
    )
    notify_in_app = forms.BooleanField(
        required=False, label="In the app: a toast and the bell's count when a batch finishes"
    )
    notify_email = forms.BooleanField(
        required=False, label="By e-mail: when a batch completes or fails"
    )
    notify_webhook = forms.BooleanField(
        required=False, label="To my webhooks: job events (off pauses them all)"
    )
    alert_failure_percent = forms.IntegerField(
        required=False, min_value=1, max_value=100, label="Failure-rate alert (% failed)"
    )
    alert_min_items = forms.IntegerField(
        required=False, min_value=1, max_value=10_000_000, label="…once this many items finished"
    )

    def __init__(self, *args: Any, site_time_zone: str = "UTC", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["default_processor"].choices = [
            (name, cls.label or name) for name, cls in processors().items()
        ]
        for name, default in (
            ("alert_failure_percent", settings.BATCHSITE_ALERT_FAILURE_PERCENT),
            ("alert_min_items", settings.BATCHSITE_ALERT_MIN_ITEMS),
        ):
            self.fields[name].widget.attrs["placeholder"] = str(default)
            self.fields[name].help_text = f"Empty: the site's ({default})."
        self.fields["time_zone"].choices = [
            ("", f"The site's ({site_time_zone})"),
            *((z, z.replace("_", " ")) for z in time_zones()),
        ]

    @classmethod
    def initial_from(cls, prefs, **kwargs: Any) -> PreferencesForm:
        names = [name for name in cls.base_fields if name != "default_options"]
        initial = {name: getattr(prefs, name) for name in names}
        options = prefs.default_options or {}
        initial["default_options"] = json.dumps(options) if options else ""
        return cls(initial=initial, **kwargs)

    def clean_default_options(self) -> dict[str, Any]:
        raw = self.cleaned_data.get("default_options", "").strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}).") from None
        except (ValueError, RecursionError):  # a 4,300+ digit number, or nesting past the limit
            raise ValidationError(
                "Not valid JSON: a number too long or nesting too deep."
            ) from None
        if not isinstance(value, dict):
            raise ValidationError('A JSON object, e.g. {"method": "HEAD"}.')
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        processor = processors().get(cleaned.get("default_processor", ""))
        if processor is not None and "default_options" in cleaned:
            try:
                cleaned["default_options"] = processor.clean_options(cleaned["default_options"])
            except ValidationError as exc:
                details = [
                    f"{field}: {' '.join(str(m) for m in messages)}"
                    for field, messages in exc.message_dict.items()
                ]
                self.add_error("default_options", f"For {processor.name}: {'; '.join(details)}")
        return cleaned
