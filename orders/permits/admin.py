"""Admin: permits with their history, extensions and claims; claims with their delivery state.

The permit's admin is the generic layer admin (layers.admin) with what happened to it
(read-only: changes go through the API, whose services check transitions and conflicts and
write the history).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from layers.admin import LayerAdmin
from orders.permits.models import Claim, Extension, Permit, PermitHistory, RestorationAct
from orders.permits.services.sweep import claims_redeliver_now


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class HistoryInline(ReadOnlyInline):
    model = PermitHistory
    fields = ("at", "by_label", "by", "action", "from_status", "to_status", "comment")
    readonly_fields = fields


class ExtensionInline(ReadOnlyInline):
    model = Extension
    fields = ("old_deadline", "new_deadline", "reason", "status", "created_at", "decided_at")
    readonly_fields = fields


class ClaimInline(ReadOnlyInline):
    model = Claim
    fields = ("number", "deadline", "recipient_kind", "delivery", "attempts", "sent_at")
    readonly_fields = fields


@admin.register(Permit)
class PermitAdmin(LayerAdmin):
    list_display = ("number", "contractor", "address", "status", "deadline", "issued_on")
    list_filter = ("status", "network_kind")
    search_fields = ("number", "address", "purpose", "contractor__name")
    raw_id_fields = ("contractor",)
    readonly_fields = ("linked_objects", "closed_at", "created_at", "updated_at")
    inlines = [ExtensionInline, ClaimInline, HistoryInline]


@admin.register(RestorationAct)
class RestorationActAdmin(admin.ModelAdmin):
    list_display = ("permit", "restored_on", "created_at")
    raw_id_fields = ("permit", "created_by")


@admin.register(Claim)
class ClaimAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "permit",
        "deadline",
        "recipient_kind",
        "recipient",
        "delivery",
        "attempts",
        "sent_at",
        "short_error",
    )
    list_filter = ("delivery", "recipient_kind")
    search_fields = ("number", "permit__number", "recipient__name", "email")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Claim._meta.concrete_fields]
    actions = ["retry_delivery"]

    @admin.display(description="last error")
    def short_error(self, claim: Claim) -> str:
        return claim.last_error[:80]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # only the sweep makes claims: one per (permit, deadline, recipient)

    @admin.action(description="Send again now (unsent claims only)")
    def retry_delivery(self, request: HttpRequest, queryset: QuerySet[Claim]) -> None:
        count = claims_redeliver_now(
            claim_ids=list(queryset.values_list("pk", flat=True)), now=timezone.now()
        )
        self.message_user(request, f"{count} claim(s) queued to send again.", messages.SUCCESS)
