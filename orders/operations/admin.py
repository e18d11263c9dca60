"""Read-only admin for the repeated problems table and the works view.

Not the generic, editable layer admin (layers.admin): both are computed (the table by
``refresh_repeated_problems``, the view by the database), so their admins only list and show.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin
from django.http import HttpRequest

from gis.widgets import CityMapWidget
from orders.operations.models import RepeatedProblem, Work


class ReadOnlyAdmin(GISModelAdmin):
    gis_widget = CityMapWidget
    list_per_page = 50
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(RepeatedProblem)
class RepeatedProblemAdmin(ReadOnlyAdmin):
    list_display = ("label", "kind", "appeals", "open_share", "categories", "last_date")
    list_filter = ("kind",)
    search_fields = ("label", "categories")


@admin.register(Work)
class WorkAdmin(ReadOnlyAdmin):
    list_display = ("kind", "title", "status", "starts_on", "ends_on", "organisation")
    list_filter = ("kind", "status")
    search_fields = ("title",)
