"""Admin for the base layers, with map widgets, search and filters; the apps add theirs."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest

from gis.widgets import CityMapWidget
from layers.layer_specs import SPECS
from layers.models import BusRouteStop, Organisation
from layers.registry import LayerSpec


class LayerAdmin(GISModelAdmin):  # type: ignore[type-arg]  # not subscriptable at run time
    gis_widget = CityMapWidget
    readonly_fields = ("created_at", "updated_at")
    list_per_page = 50
    show_full_result_count = False

    def save_model(
        self, request: HttpRequest, obj: Model, form: ModelForm[Model], change: bool
    ) -> None:
        # The search keys are derived from the address and name fields, as on import.
        if hasattr(obj, "refresh_search_key"):
            obj.refresh_search_key()
        super().save_model(request, obj, form, change)


class BusRouteStopInline(admin.TabularInline):  # type: ignore[type-arg]  # as LayerAdmin
    model = BusRouteStop
    extra = 0
    raw_id_fields = ("stop",)
    ordering = ("sequence",)


def layer_admin_register(spec: LayerSpec, **attrs: object) -> None:
    """Register the generic admin of a layer: its first properties listed, searched, filtered.

    Each app registers its own layers' admins from its ``admin.py``: the admin is discovered
    before the registry is filled. Foreign keys show as ids; ``attrs`` add to or override the
    generic ones.
    """
    fk_fields = tuple(
        f.name for f in spec.model._meta.concrete_fields if f.is_relation and f.many_to_one
    )
    columns = tuple(p for p in spec.properties if p not in fk_fields)[:5]
    attrs = {
        "list_display": ("id", *columns, *spec.common_properties),
        "search_fields": spec.search_fields + (("source_id",) if spec.common_properties else ()),
        "list_filter": spec.list_filter,
        "raw_id_fields": fk_fields,
        "__module__": __name__,
        **attrs,
    }
    admin.site.register(spec.model, type(f"{spec.model.__name__}Admin", (LayerAdmin,), attrs))


for spec in SPECS:
    if spec.name == "bus_routes":
        layer_admin_register(spec, inlines=[BusRouteStopInline])
    else:
        layer_admin_register(spec)


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]  # as LayerAdmin
    list_display = ("name", "kind", "email", "phone")
    list_filter = ("kind",)
    search_fields = ("name", "email")
