"""The audit log in the admin: staff read it, nobody adds, changes or deletes an entry."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from jobs.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "actor_name", "action", "target_type", "target_id", "target_label")
    list_filter = ("action", "target_type")
    search_fields = ("actor_name", "target_id", "target_label")
    date_hierarchy = "at"
    list_select_related = ("actor",)
    show_full_result_count = False
    fields = readonly_fields = (
        "at",
        "actor",
        "actor_name",
        "action",
        "target_type",
        "target_id",
        "target_label",
        "details",
    )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
