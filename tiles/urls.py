"""Tile URLs Django answers; /tiles/{layers}/{z}/{x}/{y}.mvt never gets here (tiles.asgi)."""

from django.urls import path

from tiles import views
from tiles.api import TileCatalogApi, TileJsonApi

urlpatterns = [
    path("", TileCatalogApi.as_view(), name="tiles-catalog"),
    # Before <layers>.json, which it does not match anyway: one file, no path from the URL.
    path("public.pmtiles", views.public_archive, name="tiles-pmtiles"),
    path("<str:layers>.json", TileJsonApi.as_view(), name="tiles-tilejson"),
    # int converters: a non-numeric or negative z/x/y does not match, and is a 404.
    path("raster/<slug:name>/<int:z>/<int:x>/<int:y>.png", views.raster_tile, name="raster-tile"),
]
