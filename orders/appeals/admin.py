"""Admin for appeals: categories are edited here; appeals are read here and moved through the API.

Not the generic layer admin (layers.admin): this one shows the history inline and has no add or
delete buttons, as an appeal is registered by a service (a number, a link, a history row) and
never deleted.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin
from django.http import HttpRequest

from gis.widgets import CityMapWidget
from orders.appeals.models import (
    Appeal,
    AppealHistory,
    Callback,
    Category,
    DepartmentReportSent,
    IntakeMessage,
    IntegrationKey,
)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "group", "organisation", "layer", "sla_hours", "active")
    list_filter = ("group", "layer", "active")
    search_fields = ("code", "name")
    raw_id_fields = ("organisation",)


class AppealHistoryInline(admin.TabularInline):
    model = AppealHistory
    extra = 0
    can_delete = False
    fields = ("at", "by", "by_label", "action", "from_status", "to_status", "comment", "data")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Appeal | None = None) -> bool:
        return False


@admin.register(Appeal)
class AppealAdmin(GISModelAdmin):
    gis_widget = CityMapWidget
    list_display = ("number", "category", "status", "organisation", "received_at", "sla_due")
    list_filter = ("status", "channel", "needs_attention", "category")
    search_fields = ("number", "address", "source_id")
    raw_id_fields = ("category", "organisation", "duplicate_of")
    readonly_fields = (
        "number",
        "status",
        "confirm_token_hash",
        "link_candidates",
        "reopen_count",
        "created_at",
        "updated_at",
    )
    inlines = [AppealHistoryInline]
    list_per_page = 50
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Appeal | None = None) -> bool:
        return False


@admin.register(IntakeMessage)
class IntakeMessageAdmin(GISModelAdmin):
    gis_widget = CityMapWidget
    list_display = ("source", "external_id", "status", "received_at", "appeal")
    list_filter = ("status", "source")
    search_fields = ("external_id", "text")
    raw_id_fields = ("appeal", "moderated_by")


@admin.register(IntegrationKey)
class IntegrationKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "purpose", "active", "created_at")
    list_filter = ("purpose", "active")
    readonly_fields = ("key_hash", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A key is made by manage.py appeals_key, which prints it once; the admin can revoke it.
        return False


@admin.register(DepartmentReportSent)
class DepartmentReportSentAdmin(admin.ModelAdmin):
    list_display = ("week", "organisation", "recipients", "sent_at")
    list_filter = ("week",)


@admin.register(Callback)
class CallbackAdmin(admin.ModelAdmin):
    """Read here; outcomes go through the API, so the appeal moves and its history is written."""

    list_display = ("appeal", "status", "outcome", "due_at", "tries", "last_try_at", "closed_at")
    list_filter = ("status", "outcome")
    search_fields = ("appeal__number",)
    raw_id_fields = ("appeal", "closed_by")
    readonly_fields = (
        "appeal",
        "done_at",
        "status",
        "tries",
        "last_try_at",
        "outcome",
        "closed_at",
        "closed_by",
        "created_at",
    )
    list_select_related = ("appeal",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A call-back is made by the appeal's done transition, once.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Callback | None = None) -> bool:
        return False
