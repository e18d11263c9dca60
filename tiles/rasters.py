"""Reading raster tiles: the imported GeoTIFFs through rio-tiler, as coloured PNGs.

The raster counterpart of tiles.selectors (which composes the vector tiles' SQL): these read
files, not tables, so they live apart.
"""

from __future__ import annotations

import hashlib

from django.utils.translation import gettext as _
from rio_tiler.colormap import cmap
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader

from gis.exceptions import NotFound
from gis.spatial import TileAddress
from tiles.models import Raster
from tiles.selectors import BadTileRequest

# A DEM is the raster a city has most; terrain reads as heights at a glance.
DEFAULT_COLORMAP = "terrain"
TILE_SIZE = 256
# Bump when the rendering changes, so the ETags of tiles cached by clients change with it.
RENDER_VERSION = 1


def raster_get(*, name: str) -> Raster:
    """The imported raster called ``name``; 404 naming the ones there are."""
    raster = Raster.objects.filter(name=name).first()
    if raster is None:
        raise NotFound(
            _("Unknown raster %(name)s.") % {"name": repr(name)},
            extra={"rasters": list(Raster.objects.values_list("name", flat=True))},
        )
    return raster


def raster_colormap(*, raster: Raster, name: str | None) -> str | None:
    """The colormap a tile is drawn with: a rio-tiler name for a single band, none for RGB."""
    if len(raster.band_min) != 1:
        if name:
            raise BadTileRequest(
                _("Raster %(name)s is RGB; colormaps colour single bands.")
                % {"name": repr(raster.name)}
            )
        return None
    name = (name or DEFAULT_COLORMAP).lower()
    if name not in cmap.list():
        raise BadTileRequest(
            _("Unknown colormap %(name)s.") % {"name": repr(name)},
            extra={"colormaps": sorted(cmap.list())},
        )
    return name


def raster_tile_etag(*, raster: Raster, tile: TileAddress, colormap: str | None) -> str:
    """A tile's ETag, known before rendering: the file's checksum decides its pixels."""
    key = f"{raster.checksum}/{tile.z}/{tile.x}/{tile.y}/{colormap}/{RENDER_VERSION}"
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'


def raster_tile_render(*, raster: Raster, tile: TileAddress, colormap: str | None) -> bytes | None:
    """The tile as a PNG, transparent where the raster has no data; None when it misses the raster.

    Values are stretched over the band's range measured at import (not per tile), so the same
    height has the same colour in every tile.
    """
    try:
        with Reader(str(raster.file)) as src:
            image = src.tile(tile.x, tile.y, tile.z, tilesize=TILE_SIZE)
    except TileOutsideBounds:
        return None
    # A flat band (min == max) would divide by zero; any non-empty range maps it to one colour.
    image.rescale(
        in_range=[
            (lo, hi if hi > lo else lo + 1)
            for lo, hi in zip(raster.band_min, raster.band_max, strict=True)
        ]
    )
    png: bytes = image.render(
        img_format="PNG", add_mask=True, colormap=cmap.get(colormap) if colormap else None
    )
    return png
