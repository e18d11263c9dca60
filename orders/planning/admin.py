"""Admin for plans, unit costs and network repairs; the other layers: the generic layer admin."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin
from django.http import HttpRequest

from gis.widgets import CityMapWidget
from layers.admin import layer_admin_register
from orders.planning.layer_specs import SPECS
from orders.planning.models import NetworkRepair, UnitCost, YardPlan, YardPlanItem
from orders.planning.repairs import network_repair_save


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


# Plan items, incidents and improvement works get the generic layer admin. Not network repairs:
# there it would let the line be drawn by hand, and it is the segment's, copied on save.
for spec in SPECS:
    if spec.model is not NetworkRepair:
        layer_admin_register(spec)


@admin.register(NetworkRepair)
class NetworkRepairAdmin(GISModelAdmin):
    gis_widget = CityMapWidget
    list_display = ("id", "segment", "organisation", "planned_start", "planned_end", "status")
    list_filter = ("status",)
    search_fields = ("note",)
    raw_id_fields = ("segment", "organisation")
    fields = ("segment", "organisation", "planned_start", "planned_end", "status", "note", "geom")
    readonly_fields = ("geom",)

    def save_model(self, request, obj, form, change) -> None:
        network_repair_save(repair=obj, by=request.user if not change else None)
