"""Admin for plans and unit costs; plan items and incidents are registry layers (layers.admin)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from orders.planning.models import UnitCost, YardPlan, YardPlanItem


class YardPlanItemInline(admin.TabularInline):
    model = YardPlanItem
    fields = ("rank", "address", "area_m2", "surface", "cost", "planned_month", "status")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("rank",)

    def has_add_permission(self, request: HttpRequest, obj: YardPlan | None = None) -> bool:
        return False


@admin.register(YardPlan)
class YardPlanAdmin(admin.ModelAdmin):
    """Plans are made through the API (ranking, budget); here they are read."""

    list_display = (
        "year",
        "version",
        "is_record",
        "basis",
        "total_cost",
        "created_by",
        "created_at",
    )
    list_filter = ("year", "is_record")
    inlines = [YardPlanItemInline]
    readonly_fields = [f.name for f in YardPlan._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(UnitCost)
class UnitCostAdmin(admin.ModelAdmin):
    list_display = ("surface", "cost_per_m2", "note", "updated_at")
