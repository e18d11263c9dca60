"""SRIDs and tile math shared by every app."""

from __future__ import annotations

import math
from dataclasses import dataclass

# Storage SRID: WGS 84 lon/lat. Sources and clients speak it, geodesic lengths and areas come
# from a ::geography cast, and the tile envelope is transformed to it once per tile (not the
# column per row), so the GiST index on the column serves every query.
STORAGE_SRID = 4326
MAX_ZOOM = 22

Bbox = tuple[float, float, float, float]
"""(west, south, east, north) in degrees."""


@dataclass(frozen=True, slots=True)
class TileAddress:
    z: int
    x: int
    y: int

    def is_valid(self) -> bool:
        return 0 <= self.z <= MAX_ZOOM and 0 <= self.x < 2**self.z and 0 <= self.y < 2**self.z


def fractional_tile(lon: float, lat: float, z: int) -> tuple[float, float]:
    """Where a WGS 84 point falls in the tile grid of zoom z, in (fractional) tile units."""
    lat = max(min(lat, 85.0511287798), -85.0511287798)
    n = 2**z
    x = (lon + 180.0) / 360.0 * n
    y = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    return x, y


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The (x, y) of the tile at zoom z holding a WGS 84 point."""
    x, y = fractional_tile(lon, lat, z)
    n = 2**z
    return min(max(int(x), 0), n - 1), min(max(int(y), 0), n - 1)


def tile_range(bbox: Bbox, z: int, *, margin: float = 0.0) -> tuple[int, int, int, int]:
    """Inclusive tile range (xmin, ymin, xmax, ymax) at zoom z over a lon/lat bbox.

    ``margin`` widens the box by that fraction of a tile on every side, in tile space where it
    is exact: with the tile buffer's fraction, it gives every tile that draws part of the box.
    """
    west, south, east, north = bbox
    left, top = fractional_tile(west, north, z)
    right, bottom = fractional_tile(east, south, z)
    last = 2**z - 1
    return (
        min(max(math.floor(left - margin), 0), last),
        min(max(math.floor(top - margin), 0), last),
        max(min(math.floor(right + margin), last), 0),
        max(min(math.floor(bottom + margin), last), 0),
    )


def bbox_union(boxes: list[Bbox]) -> Bbox | None:
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def parse_bbox(text: str) -> Bbox:
    """Parse ``west,south,east,north`` in degrees; raises ValueError with the reason."""
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError("takes west,south,east,north in degrees") from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise ValueError("must be west<east, south<north within lon/lat limits")
    return west, south, east, north
