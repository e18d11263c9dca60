from django.contrib import admin
from django.http import HttpRequest

from tiles.models import Raster


@admin.register(Raster)
class RasterAdmin(admin.ModelAdmin):  # type: ignore[type-arg]  # not subscriptable at run time
    list_display = ("name", "crs", "width", "height", "updated_at")
    search_fields = ("name",)
    readonly_fields = [f.name for f in Raster._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rasters come in through `manage.py import_raster`
