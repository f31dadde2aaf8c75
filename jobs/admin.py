from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from jobs import audit, audit_admin, services  # noqa: F401 (audit_admin registers the log)
from jobs.models import (
    Alert,
    ApiKey,
    AuditAction,
    BatchJob,
    ItemAttempt,
    JobItem,
    JobLogEntry,
    JobStatus,
    Quota,
    Runner,
)


def _table(headers: list[str], rows: list[tuple]) -> str:
    """A small read-only table for the change pages (inlines repeat each row's title)."""
    if not rows:
        return "—"
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        (
            (format_html_join("", "<td>{}</td>", (("—" if c is None else c,) for c in row)),)
            for row in rows
        ),
    )
    return format_html(
        '<table class="batchsite-table"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
        head,
        body,
    )


@admin.register(BatchJob)
class BatchJobAdmin(admin.ModelAdmin):
    list_display = (
        "short_id",
        "name",
        "owner",
        "processor",
        "status_badge",
        "progress_percent",
        "total_items",
        "count_failed",
        "priority",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "processor", "priority", "created_at")
    search_fields = ("id", "name", "owner__username")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    fieldsets = (
        (None, {"fields": ("id", "name", "owner", "status", "error")}),
        (
            "Request",
            {
                "fields": (
                    "processor",
                    "options",
                    "priority",
                    "concurrency",
                    "per_host_limit",
                    "host_delay",
                    "item_timeout",
                    "max_attempts",
                )
            },
        ),
        ("Progress", {"fields": ("progress_percent", "item_counts", "current_step", "speed")}),
        ("Times", {"fields": ("created_at", "started_at", "finished_at", "updated_at", "seq")}),
        ("Live runners", {"fields": ("live_runners",)}),
        ("Latest log lines", {"fields": ("latest_log",)}),
    )
    # A job's request is fixed once submitted (submit through the CLI, the API or the pages);
    # only its name may change here.
    readonly_fields = tuple(f for group in fieldsets for f in group[1]["fields"] if f != "name")
    actions = ("cancel_jobs", "retry_failed")

    @admin.display(description="ID", ordering="id")
    def short_id(self, job: BatchJob) -> str:
        return str(job.id)[:8]

    @admin.display(description="Status", ordering="status")
    def status_badge(self, job: BatchJob) -> str:
        color = JobStatus.colors.get(job.status, "gray")
        return format_html(
            '<span class="badge badge-{}" title="{}">{}</span>',
            color,
            job.status,
            job.get_status_display(),
        )

    @admin.display(description="Progress", ordering="progress")
    def progress_percent(self, job: BatchJob) -> str:
        return f"{job.progress:.0f} %"

    @admin.display(description="Items")
    def item_counts(self, job: BatchJob) -> str:
        parts = [f"{n:,} {status}" for status, n in job.counts.items() if n]
        return f"{job.total_items:,} in all: " + ", ".join(parts)

    @admin.display(description="Speed")
    def speed(self, job: BatchJob) -> str:
        if not job.wall_seconds:
            return "—"
        return (
            f"{job.done_items / job.wall_seconds:,.1f} items/s over {job.wall_seconds:,.1f} s; "
            f"Σ item time {job.item_seconds:,.1f} s (speed-up ×{job.speedup or 0:,.1f})"
        )

    @admin.display(description="Runners")
    def live_runners(self, job: BatchJob) -> str:
        rows = [
            (r.id, r.worker_name, r.heartbeat_at, r.in_flight, r.items_done)
            for r in job.runners.all()
        ]
        return _table(["Runner", "RQ worker", "Heartbeat", "In flight", "Done"], rows)

    @admin.display(description="Log")
    def latest_log(self, job: BatchJob) -> str:
        entries = job.log_entries.order_by("-id")[:20]
        rows = [(e.timestamp, e.get_level_display(), e.message) for e in entries]
        link = reverse("admin:jobs_joblogentry_changelist") + f"?job__id__exact={job.pk}"
        return format_html(
            '{}<p><a href="{}">Every log line of this job</a></p>',
            _table(["Time", "Level", "Message"], rows),
            link,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # jobs are submitted through services (CLI, API, pages), never built here

    @admin.action(description="Cancel selected jobs")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = services.cancel_jobs(queryset, actor=request.user).changed
        self.message_user(request, f"Cancelled {done} job(s).", messages.SUCCESS)

    @admin.action(description="Retry failed items of selected jobs")
    def retry_failed(self, request: HttpRequest, queryset: QuerySet) -> None:
        total = services.retry_failed_jobs(queryset, actor=request.user).items
        self.message_user(request, f"Queued {total} item(s) again.", messages.SUCCESS)


@admin.register(JobItem)
class JobItemAdmin(admin.ModelAdmin):
    list_display = (
        "url",
        "job",
        "status",
        "http_status",
        "error_code",
        "attempts",
        "duration",
        "finished_at",
    )
    list_filter = ("status", "error_code")
    search_fields = ("url", "=job__id")
    raw_id_fields = ("job",)
    list_select_related = ("job",)
    fields = (
        "job",
        "position",
        "url",
        "input",
        "status",
        "current_step",
        "http_status",
        "error_code",
        "error",
        "attempts",
        "attempt_history_table",
        "result",
        "worker",
        "started_at",
        "finished_at",
        "duration",
    )
    readonly_fields = fields  # item state changes through the runner and services only
    show_full_result_count = False  # counting millions of items on every page is slow

    @admin.display(description="Attempt history")
    def attempt_history_table(self, item: JobItem) -> str:
        rows = [
            (
                a.number,
                a.get_outcome_display(),
                a.step,
                a.error_code,
                a.error,
                a.http_status,
                f"{a.duration:.3f} s" if a.duration is not None else "—",
                a.worker,
                a.started_at,
            )
            for a in item.attempt_history.all()
        ]
        headers = ["#", "Outcome", "Step", "Code", "Error", "HTTP", "Time", "Runner", "Started"]
        return _table(headers, rows)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ItemAttempt)
class ItemAttemptAdmin(admin.ModelAdmin):
    list_display = (
        "item",
        "number",
        "outcome",
        "error_code",
        "http_status",
        "duration",
        "worker",
        "started_at",
    )
    list_filter = ("outcome", "error_code")
    raw_id_fields = ("item",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # written by the pipeline only


@admin.register(JobLogEntry)
class JobLogEntryAdmin(admin.ModelAdmin):
    list_display = ("timestamp", "job", "level", "message")
    list_filter = ("level",)
    search_fields = ("message", "=job__id")
    raw_id_fields = ("job", "item")
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # written by the pipeline only


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "kind", "title", "read_at")
    list_filter = ("kind",)
    search_fields = ("title", "=job__id", "user__username")
    raw_id_fields = ("job", "user")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # raised by jobs.alerts only


@admin.register(Runner)
class RunnerAdmin(admin.ModelAdmin):
    list_display = ("id", "job", "worker_name", "heartbeat_at", "in_flight", "items_done")
    raw_id_fields = ("job",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # written by the pipeline only


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "scope", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope",)
    search_fields = ("name", "prefix", "user__username")
    raw_id_fields = ("user",)
    readonly_fields = ("prefix", "key_hash", "created_at", "last_used_at")
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # keys are issued with `manage.py create_api_key` or the settings page

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        from django.utils import timezone

        live = list(queryset.filter(revoked_at__isnull=True))
        n = queryset.filter(pk__in=[k.pk for k in live]).update(revoked_at=timezone.now())
        for key in live:
            audit.record(request.user, AuditAction.KEY_REVOKE, key, prefix=key.prefix, admin=True)
        self.message_user(request, f"Revoked {n} key(s).", messages.SUCCESS)


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    """Per-user quotas. Any staff member may set them (no per-model permission needed): that is
    what the settings page tells users to ask staff for."""

    list_display = ("user", "max_urls_per_batch", "max_running_jobs", "jobs_per_hour", "updated_at")
    search_fields = ("user__username", "user__email")
    list_select_related = ("user",)
    readonly_fields = ("updated_at",)

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> tuple[str, ...]:
        return ("user", "updated_at") if obj is not None else ("updated_at",)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff

    def save_model(self, request: HttpRequest, obj: Quota, form, change: bool) -> None:
        from django.utils import timezone

        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)
