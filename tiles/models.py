"""Imported rasters; vector tiles have no tables, they are rendered from the layers.

The module also exists so that post_migrate reaches the app, which installs the tile purge
triggers (tiles.apps).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models


class Raster(models.Model):
    """A GeoTIFF served as PNG tiles: where its copy lies and what ``import_raster`` measured."""

    name = models.SlugField(max_length=64, unique=True, help_text="Key in /tiles/raster/NAME/…")
    path = models.CharField(
        max_length=255,
        help_text="The stored copy, relative to MEDIA_ROOT (so the media directory may move).",
    )
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the stored file.")
    crs = models.TextField(help_text="The file's own CRS: EPSG:n, or WKT when it has no code.")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # Lon/lat bounds (EPSG:4326), whatever the file's CRS: what a map client needs to fit it.
    west = models.FloatField()
    south = models.FloatField()
    east = models.FloatField()
    north = models.FloatField()
    band_min = ArrayField(models.FloatField(), help_text="Per band, ignoring nodata.")
    band_max = ArrayField(models.FloatField(), help_text="Per band, ignoring nodata.")
    nodata = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(west__lt=models.F("east"), south__lt=models.F("north")),
                name="raster_bounds_ordered",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def file(self) -> Path:
        return Path(settings.MEDIA_ROOT) / self.path

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return self.west, self.south, self.east, self.north
