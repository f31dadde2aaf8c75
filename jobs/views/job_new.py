"""The New batch page, /jobs/new: paste or upload URLs, pick a processor and its options, see
what the intake makes of the list as you type, submit through jobs.services.submit_batch and
land on the job's page.

Partials (htmx): the intake preview with the time estimate, and the chosen processor's options.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jobs import batch_form
from jobs.batch_form import NewBatchForm
from jobs.intake import IntakeResult
from jobs.processors.registry import UnknownProcessor, get_processor
from jobs.schedules import create_schedule
from jobs.services import ServiceError, submit_batch

TEMPLATE = "jobs/job_new.html"
SETTINGS = ("processor", "name", "priority", "concurrency", "item_timeout", "max_attempts")
SETTINGS += ("per_host_limit", "host_delay")


def preview_context(
    intake: IntakeResult | None, refusal: str, processor: str, concurrency: Any
) -> dict[str, Any]:
    try:
        concurrency = max(1, min(500, int(concurrency)))
    except (TypeError, ValueError):
        concurrency = batch_form.new_batch_initial(None)["concurrency"]
    valid = len(intake.accepted) if intake else 0
    return {
        "intake": intake,
        "refusal": refusal,
        "rejected": intake.rejected[: batch_form.REJECTED_SHOWN] if intake else [],
        "estimate": batch_form.estimate(valid, processor, concurrency),
        "concurrency": concurrency,
    }


def upload_of(request: HttpRequest) -> tuple[bytes | None, str]:
    upload = request.FILES.get("file")
    if upload is None:
        return None, ""
    return upload.read(), upload.name or ""


def show_refusal(form: NewBatchForm, exc: ServiceError, used_file: bool) -> None:
    """A ServiceError as form errors: by field where the form has it, else for the whole form
    (a quota, a limit, anything the service adds later)."""
    for name, errors in exc.errors.items():
        field = ("file" if used_file else "text") if name == "urls" else name
        for message in errors:
            form.add_error(field if field in form.fields else None, message)


@login_required
@require_http_methods(["GET", "POST"])
def page(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        form = NewBatchForm(initial=batch_form.new_batch_initial(request.user))
        return render_page(request, form, None)
    form = NewBatchForm(request.POST, request.FILES)
    options = batch_form.options_form(form.processor_class(), request.POST)
    status, intake = 400, None
    if form.is_valid() and (options is None or options.is_valid()):
        upload = form.cleaned_data["file"]
        batch = {
            "text": form.cleaned_data["text"] or None,
            "file": upload.read() if upload else None,
            "filename": upload.name if upload else "",
            "options": batch_form.raw_options(options),
            **{name: form.cleaned_data[name] for name in SETTINGS},
        }
        timing = batch_form.timing_of(form.cleaned_data)
        try:
            if timing is not None:  # later or repeatedly: a schedule (jobs.schedules)
                schedule, intake = create_schedule(request.user, **batch, **timing)
            else:
                submission = submit_batch(request.user, **batch)
        except ServiceError as exc:
            show_refusal(form, exc, used_file=upload is not None)
            status, intake = exc.status, getattr(exc, "intake", None)
        else:
            if timing is not None:
                return scheduled(request, schedule)
            messages.success(request, submitted_message(submission.intake))
            return redirect("job-detail", pk=submission.job.pk)
    return render_page(request, form, options, status=status, intake=intake)


def scheduled(request, schedule) -> HttpResponse:
    count = len(schedule.urls)
    messages.success(
        request, f"Scheduled {count:,} URL{'s' if count != 1 else ''}: {schedule.timing}."
    )
    return redirect("schedule-detail", pk=schedule.pk)


def submitted_message(intake: IntakeResult) -> str:
    parts = [f"Submitted {len(intake.accepted):,} URL{'s' if len(intake.accepted) != 1 else ''}"]
    if intake.duplicates:
        parts.append(
            f"{intake.duplicates:,} duplicate{'s' if intake.duplicates != 1 else ''} dropped"
        )
    if intake.rejected:
        count = len(intake.rejected)
        parts.append(f"{count:,} line{'s' if count != 1 else ''} rejected")
    return ", ".join(parts) + "."


def render_page(
    request, form: NewBatchForm, options, *, status: int = 200, intake: IntakeResult | None = None
) -> HttpResponse:
    """The page; after a refusal, with what was typed, its errors and the preview of the text."""
    processor = form.processor_class()
    if options is None:
        initial = None if form.is_bound else batch_form.preferred_options(request.user, processor)
        options = batch_form.options_form(processor, initial=initial)
    refusal = ""
    if intake is None and form.is_bound and form.data.get("text"):
        intake, refusal = batch_form.preview(form.data.get("text"), None)
    context = {
        "form": form,
        "processor": processor,
        "options": options,
        "file_dropped": form.is_bound and "file" in request.FILES,
        "limits": {
            "urls": settings.BATCHSITE_MAX_URLS_PER_BATCH,
            "megabytes": f"{settings.BATCHSITE_MAX_UPLOAD_BYTES / 2**20:.3g}",
        },
        **preview_context(intake, refusal, processor.name, form["concurrency"].value()),
    }
    return render(request, TEMPLATE, context, status=status)


@login_required
@require_POST
def preview(request: HttpRequest) -> HttpResponse:
    """What the intake makes of the pasted text or the chosen file, and the time estimate."""
    file, filename = upload_of(request)
    if file is not None:
        intake, refusal = batch_form.preview(None, file, filename)
    else:
        intake, refusal = batch_form.preview(request.POST.get("text"), None)
    processor = request.POST.get("processor") or "http_check"
    context = preview_context(intake, refusal, processor, request.POST.get("concurrency"))
    return render(request, f"{TEMPLATE}#preview", context)


@login_required
@require_GET
def options(request: HttpRequest) -> HttpResponse:
    """The chosen processor's description and options form."""
    try:
        processor = get_processor(request.GET.get("processor") or "http_check")
    except UnknownProcessor:
        processor = get_processor("http_check")
    initial = batch_form.preferred_options(request.user, processor)
    context = {
        "processor": processor,
        "options": batch_form.options_form(processor, initial=initial),
    }
    return render(request, f"{TEMPLATE}#processor", context)


urlpatterns = [
    path("jobs/new", page, name="job-new"),
    path("jobs/new/preview", preview, name="job-new-preview"),
    path("jobs/new/options", options, name="job-new-options"),
]
