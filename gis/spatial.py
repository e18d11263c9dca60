"""SRIDs and tile math shared by every app."""

from __future__ import annotations

import math
from dataclasses import dataclass

# Storage SRID: WGS 84 lon/lat. Sources and clients speak it, geodesic lengths and areas come
# from a ::geography cast, and the tile envelope is transformed to it once per tile (not the
# column per row), so the GiST index on the column serves every query.
STORAGE_SRID = 4326
WEB_MERCATOR_SRID = 3857
MAX_ZOOM = 22
# Half the width of the EPSG:3857 square, in metres.
MERCATOR_HALF = 20037508.342789244


@dataclass(frozen=True, slots=True)
class TileAddress:
    z: int
    x: int
    y: int

    def is_valid(self) -> bool:
        return 0 <= self.z <= MAX_ZOOM and 0 <= self.x < 2**self.z and 0 <= self.y < 2**self.z

    def mercator_bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the tile in EPSG:3857 metres."""
        size = 2 * MERCATOR_HALF / 2**self.z
        xmin = -MERCATOR_HALF + self.x * size
        ymax = MERCATOR_HALF - self.y * size
        return xmin, ymax - size, xmin + size, ymax


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


def tiles_for_bbox(bbox: tuple[float, float, float, float], z: int) -> tuple[int, int, int, int]:
    """Inclusive tile range (xmin, ymin, xmax, ymax) at zoom z covering a lon/lat bbox."""
    west, south, east, north = bbox
    x0, y0 = lonlat_to_tile(west, north, z)
    x1, y1 = lonlat_to_tile(east, south, z)
    return x0, y0, x1, y1
