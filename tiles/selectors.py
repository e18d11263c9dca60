"""Reading tiles: which layers a request may have, the statement for them, and the bytes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection

from gis.exceptions import ApplicationError, NotFound
from gis.roles import Viewer
from gis.spatial import MAX_ZOOM, TileAddress
from layers.registry import LayerSpec, get_layer
from tiles.sql import SIMPLIFY_BELOW_ZOOM, tile_query

MAX_LAYERS_PER_TILE = 16


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
            tuple(spec.properties_for(self.viewer) for spec in shown),
            tuple(spec.is_scoped_for(self.viewer) for spec in shown),
            tile.z < SIMPLIFY_BELOW_ZOOM,
        )
        params = {"z": tile.z, "x": tile.x, "y": tile.y}
        if any(spec.is_scoped_for(self.viewer) for spec in shown):
            params["organisation"] = self.viewer.organisation_id
        return statement, params


def tileset_for(*, names: str, viewer: Viewer) -> TileSet:
    """Resolve ``buildings,yards`` for a viewer: 404 unknown, 401/403 restricted."""
    requested = [n for n in names.split(",") if n]
    if not requested:
        raise NotFound("No layer named.")
    if len(requested) > MAX_LAYERS_PER_TILE:
        raise BadTileRequest(f"At most {MAX_LAYERS_PER_TILE} layers per tile.")
    if len(set(requested)) != len(requested):
        raise BadTileRequest("A layer is named twice.")
    return TileSet(layers=tuple(get_layer(n, viewer) for n in requested), viewer=viewer)


def tile_address(z: str | int, x: str | int, y: str | int) -> TileAddress:
    """A tile address from path parts: 400 when not numbers, 404 outside the grid."""
    try:
        tile = TileAddress(int(z), int(x), int(y))
    except (TypeError, ValueError):
        raise BadTileRequest("z, x and y must be whole numbers.") from None
    if not tile.is_valid():
        raise NotFound(
            f"Tile {tile.z}/{tile.x}/{tile.y} is outside the grid (z 0–{MAX_ZOOM}, "
            "x and y 0 to 2^z − 1)."
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
