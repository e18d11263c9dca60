"""Reading tiles: which layers a request may have, the statement for them, and the bytes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.gis.db.models import Extent
from django.db import connection, models
from django.utils.translation import gettext as _

from gis.exceptions import ApplicationError, NotFound
from gis.roles import Viewer
from gis.spatial import MAX_ZOOM, Bbox, TileAddress, bbox_union
from layers.registry import LayerSpec, get_layer, layers_for
from tiles.sql import SIMPLIFY_BELOW_ZOOM, tile_query

MAX_LAYERS_PER_TILE = 16
ATTRIBUTION = '<a href="https://www.openstreetmap.org/copyright">© OpenStreetMap contributors</a>'
BOUNDS_TTL_S = 60.0
_bounds: dict[str, tuple[float, Bbox | None]] = {}
WORLD_BOUNDS = (-180.0, -85.0511, 180.0, 85.0511)


class BadTileRequest(ApplicationError):
    code = "bad_tile_request"


@dataclass(frozen=True, slots=True)
class TileSet:
    """Layers resolved for a viewer: what a tile URL's ``{layers}`` part means for them."""

    layers: tuple[LayerSpec, ...]
    viewer: Viewer

    @property
    def names(self) -> str:
        return ",".join(spec.name for spec in self.layers)

    @property
    def scope(self) -> str:
        """What, beyond the layer names, decides the tile's bytes for this viewer."""
        if self.viewer.is_staff_role:
            return "staff"
        if any(spec.is_scoped_for(self.viewer) for spec in self.layers):
            return f"org{self.viewer.organisation_id}"
        return "public"

    @property
    def is_public(self) -> bool:
        """Same bytes for everyone: may be cached by browsers and proxies."""
        return self.scope == "public" and all(spec.is_public for spec in self.layers)

    def cache_key(self, tile: TileAddress) -> str:
        return f"{self.names}|{self.scope}|{tile.z}/{tile.x}/{tile.y}"

    def statement(self, tile: TileAddress) -> tuple[str, dict[str, Any]] | None:
        """The statement and parameters for a tile; None when no layer shows at this zoom."""
        shown = [spec for spec in self.layers if spec.minzoom <= tile.z <= spec.maxzoom]
        if not shown:
            return None
        statement = tile_query(
            tuple(spec.name for spec in shown),
            tuple(spec.tile_properties_for(self.viewer) for spec in shown),
            tuple(spec.is_scoped_for(self.viewer) for spec in shown),
            tile.z < SIMPLIFY_BELOW_ZOOM,
        )
        params: dict[str, Any] = {"z": tile.z, "x": tile.x, "y": tile.y}
        if any(spec.is_scoped_for(self.viewer) for spec in shown):
            params["organisation"] = self.viewer.organisation_id
        return statement, params


def tileset_for(*, names: str, viewer: Viewer) -> TileSet:
    """Resolve ``buildings,yards`` for a viewer: 404 unknown, 401/403 restricted."""
    requested = [n for n in names.split(",") if n]
    if not requested:
        raise NotFound(_("No layer named."))
    if len(requested) > MAX_LAYERS_PER_TILE:
        raise BadTileRequest(
            _("At most %(max_layers_per_tile)s layers per tile.")
            % {"max_layers_per_tile": MAX_LAYERS_PER_TILE}
        )
    if len(set(requested)) != len(requested):
        raise BadTileRequest(_("A layer is named twice."))
    return TileSet(layers=tuple(get_layer(n, viewer) for n in requested), viewer=viewer)


def tile_address(z: str | int, x: str | int, y: str | int) -> TileAddress:
    """A tile address from path parts: 400 when not numbers, 404 outside the grid."""
    try:
        tile = TileAddress(int(z), int(x), int(y))
    except (TypeError, ValueError):
        raise BadTileRequest(_("z, x and y must be whole numbers.")) from None
    if not tile.is_valid():
        raise NotFound(
            _(
                "Tile %(z)s/%(x)s/%(y)s is outside the grid (z 0–%(max_zoom)s, x and y 0 "
                "to 2^z − 1)."
            )
            % {"z": tile.z, "x": tile.x, "y": tile.y, "max_zoom": MAX_ZOOM}
        )
    return tile


def tile_render(*, tileset: TileSet, tile: TileAddress) -> bytes:
    """The tile's MVT bytes (empty when nothing falls in it), through Django's connection."""
    found = tileset.statement(tile)
    if found is None:
        return b""
    statement, params = found
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone()
    return bytes(row[0] or b"")


# --- catalog and TileJSON --------------------------------------------------------------------


def field_type(spec: LayerSpec, name: str) -> str:
    """TileJSON's type of a property: Number, Boolean or String (a related object's name)."""
    field = spec.model._meta.get_field(name)
    if field.is_relation:
        return "String"
    if isinstance(field, models.GeneratedField) and field.output_field is not None:
        field = field.output_field
    if isinstance(field, models.IntegerField | models.FloatField | models.DecimalField):
        return "Number"
    return "Boolean" if isinstance(field, models.BooleanField) else "String"


def layer_bounds(spec: LayerSpec) -> Bbox | None:
    """The layer's data extent in lon/lat, recomputed at most once a minute."""
    now = time.monotonic()
    cached = _bounds.get(spec.name)
    if cached is None or cached[0] < now:
        rows = spec.model._default_manager
        extent = rows.aggregate(extent=Extent(spec.geometry_field.name))["extent"]
        cached = _bounds[spec.name] = (now + BOUNDS_TTL_S, extent)
    return cached[1]


def forget_bounds() -> None:
    """Drop the remembered layer extents (after a bulk change, or between tests)."""
    _bounds.clear()


def layers_extent(layers: Sequence[LayerSpec], viewer: Viewer) -> Bbox | None:
    """The lon/lat box around the rows of the layers this viewer may see (None: no rows)."""
    boxes = [
        spec.queryset_for(viewer).aggregate(extent=Extent(spec.geometry_field.name))["extent"]
        for spec in layers
    ]
    return bbox_union([b for b in boxes if b is not None])


def vector_layer(spec: LayerSpec, viewer: Viewer) -> dict[str, Any]:
    return {
        "id": spec.name,
        "description": str(spec.title),
        "fields": {name: field_type(spec, name) for name in spec.tile_properties_for(viewer)},
        "minzoom": spec.minzoom,
        "maxzoom": spec.maxzoom,
    }


def layer_catalog(*, viewer: Viewer, base_url: str) -> list[dict[str, Any]]:
    """The layers this viewer may see, with their fields, zooms, bounds and TileJSON URL."""
    catalog = []
    for spec in layers_for(viewer):
        bounds = layer_bounds(spec)
        catalog.append(
            {
                **vector_layer(spec, viewer),
                "title": str(spec.title),
                "geometry_type": spec.geometry_type,
                "public": spec.is_public,
                "bounds": list(bounds) if bounds else None,
                "tilejson": f"{base_url}tiles/{spec.name}.json",
            }
        )
    return catalog


def tilejson_for(*, tileset: TileSet, tiles_url: str) -> dict[str, Any]:
    """TileJSON 3.0.0 of a tile set for its viewer."""
    bounds = list(bbox_union([b for b in map(layer_bounds, tileset.layers) if b]) or WORLD_BOUNDS)
    lon, lat, zoom = settings.MAP_CENTER
    if not (bounds[0] <= lon <= bounds[2] and bounds[1] <= lat <= bounds[3]):
        lon, lat = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    minzoom = min(s.minzoom for s in tileset.layers)
    maxzoom = max(s.maxzoom for s in tileset.layers)
    return {
        "tilejson": "3.0.0",
        "name": tileset.names,
        "description": ", ".join(str(s.title) for s in tileset.layers),
        "version": "1.0.0",
        "attribution": ATTRIBUTION,
        "scheme": "xyz",
        "tiles": [tiles_url],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": bounds,
        "center": [lon, lat, max(minzoom, min(int(zoom), maxzoom))],
        "vector_layers": [vector_layer(s, tileset.viewer) for s in tileset.layers],
    }
