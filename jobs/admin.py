from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from jobs import services
from jobs.models import ApiKey, BatchJob, ItemAttempt, JobItem, JobLogEntry, JobStatus, Runner


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class LogInline(ReadOnlyInline):
    model = JobLogEntry
    fields = ("timestamp", "level", "message", "item")
    raw_id_fields = ("item",)
    ordering = ("-id",)
    max_num = 50
    verbose_name_plural = "latest log entries"

    def get_queryset(self, request):
        # A job may have millions of lines; the inline shows the latest.
        return super().get_queryset(request).select_related("item").order_by("-id")


class RunnerInline(ReadOnlyInline):
    model = Runner
    fields = ("id", "worker_name", "heartbeat_at", "in_flight", "items_done")
    show_change_link = False


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
    raw_id_fields = ("owner",)
    readonly_fields = (
        "id",
        "status",
        "total_items",
        "count_pending",
        "count_queued",
        "count_processing",
        "count_succeeded",
        "count_failed",
        "count_cancelled",
        "count_skipped",
        "progress",
        "current_step",
        "item_seconds",
        "created_at",
        "started_at",
        "finished_at",
        "updated_at",
        "seq",
        "error",
    )
    inlines = (RunnerInline, LogInline)
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

    @admin.action(description="Cancel selected jobs")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for job in queryset.filter(status__in=JobStatus.ACTIVE):
            services.cancel_job(job)
            done += 1
        self.message_user(request, f"Cancelled {done} job(s).", messages.SUCCESS)

    @admin.action(description="Retry failed items of selected jobs")
    def retry_failed(self, request: HttpRequest, queryset: QuerySet) -> None:
        total = 0
        for job in queryset.filter(status__in=JobStatus.TERMINAL):
            total += services.retry_items(job)
        self.message_user(request, f"Queued {total} item(s) again.", messages.SUCCESS)


class AttemptInline(ReadOnlyInline):
    model = ItemAttempt
    fields = (
        "number",
        "outcome",
        "step",
        "error_code",
        "error",
        "http_status",
        "duration",
        "worker",
        "started_at",
    )
    show_change_link = False


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
    readonly_fields = ("result", "worker", "started_at", "finished_at", "duration", "attempts")
    inlines = (AttemptInline,)
    show_full_result_count = False  # counting millions of items on every page is slow


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


@admin.register(JobLogEntry)
class JobLogEntryAdmin(admin.ModelAdmin):
    list_display = ("timestamp", "job", "level", "message")
    list_filter = ("level",)
    search_fields = ("message", "=job__id")
    raw_id_fields = ("job", "item")
    show_full_result_count = False


@admin.register(Runner)
class RunnerAdmin(admin.ModelAdmin):
    list_display = ("id", "job", "worker_name", "heartbeat_at", "in_flight", "items_done")
    raw_id_fields = ("job",)


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

        n = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {n} key(s).", messages.SUCCESS)
