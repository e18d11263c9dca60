"""The tile cache: in-process LRU, backed by Redis when REDIS_URL is set, purged per feature.

A cache key is ``<layers>|<scope>|z/x/y``. When a row changes, the database sends its layer and
the bounding boxes of its old and new geometry (see tiles/triggers.py); ``purge`` then drops,
at every zoom, exactly the cached tiles whose area (with the tile buffer) those boxes touch and
whose layers include the changed one. Everything else stays cached.
"""

from __future__ import annotations

import gzip
import hashlib
import math
from collections import OrderedDict, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from gis.spatial import fractional_tile
from tiles.sql import BUFFER, EXTENT

Box = tuple[float, float, float, float]
# Above this many tiles in a box at one zoom, purge scans the cached tiles of that zoom instead
# of enumerating the box's tiles.
ENUMERATE_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class CachedTile:
    body: bytes
    etag: str
    gzipped: bytes | None

    @classmethod
    def of(cls, body: bytes) -> CachedTile:
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        return cls(body=body, etag=etag, gzipped=gzip.compress(body, 6) if body else None)


def key_layers(key: str) -> set[str]:
    return set(key.split("|", 1)[0].split(","))


def key_tile(key: str) -> tuple[int, int, int]:
    z, x, y = key.rsplit("|", 1)[1].split("/")
    return int(z), int(x), int(y)


def tile_ranges(box: Box, z: int) -> tuple[int, int, int, int]:
    """Inclusive (xmin, ymin, xmax, ymax) of the tiles at zoom z whose buffered area meets box.

    A feature within BUFFER/EXTENT of a tile's edge is drawn in the neighbour's buffer too, so
    the box is widened by that fraction of a tile (in tile space, where it is exact).
    """
    west, south, east, north = box
    pad = BUFFER / EXTENT
    fx0, fy0 = fractional_tile(west, north, z)
    fx1, fy1 = fractional_tile(east, south, z)
    n = 2**z - 1
    return (
        max(math.floor(fx0 - pad), 0),
        max(math.floor(fy0 - pad), 0),
        min(math.floor(fx1 + pad), n),
        min(math.floor(fy1 + pad), n),
    )


class LocalTileCache:
    """An LRU of tiles bounded in bytes, indexed by tile for purging."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.epoch = 0
        """Bumped by every purge: a tile rendered before a purge must not be stored after it."""
        self._entries: OrderedDict[str, CachedTile] = OrderedDict()
        self._by_zoom: dict[int, dict[tuple[int, int], set[str]]] = defaultdict(dict)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> CachedTile | None:
        tile = self._entries.get(key)
        if tile is not None:
            self._entries.move_to_end(key)
        return tile

    def put(self, key: str, tile: CachedTile, *, epoch: int) -> bool:
        if epoch != self.epoch or self.max_bytes <= 0:
            return False
        self._discard(key)
        self._entries[key] = tile
        self.size += len(tile.body) + len(tile.gzipped or b"")
        z, x, y = key_tile(key)
        self._by_zoom[z].setdefault((x, y), set()).add(key)
        while self.size > self.max_bytes and self._entries:
            self._discard(next(iter(self._entries)))
        return True

    def _discard(self, key: str) -> None:
        tile = self._entries.pop(key, None)
        if tile is None:
            return
        self.size -= len(tile.body) + len(tile.gzipped or b"")
        z, x, y = key_tile(key)
        keys = self._by_zoom[z].get((x, y))
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_zoom[z][(x, y)]

    def purge(self, layer: str, boxes: list[Box]) -> int:
        """Drop the cached tiles of ``layer`` that the boxes touch, at every zoom."""
        self.epoch += 1
        doomed = [key for key in self._touched(boxes) if layer in key_layers(key)]
        for key in doomed:
            self._discard(key)
        return len(doomed)

    def clear(self) -> None:
        self.epoch += 1
        self._entries.clear()
        self._by_zoom.clear()
        self.size = 0

    def _touched(self, boxes: list[Box]) -> Iterator[str]:
        for z, cached in list(self._by_zoom.items()):
            if not cached:
                continue
            for x0, y0, x1, y1 in (tile_ranges(b, z) for b in boxes):
                if (x1 - x0 + 1) * (y1 - y0 + 1) <= min(ENUMERATE_LIMIT, len(cached)):
                    for x in range(x0, x1 + 1):
                        for y in range(y0, y1 + 1):
                            yield from list(cached.get((x, y), ()))
                else:
                    for (x, y), keys in list(cached.items()):
                        if x0 <= x <= x1 and y0 <= y <= y1:
                            yield from list(keys)


def parse_purge_payload(payload: str) -> tuple[str, list[Box]]:
    """``"<layer> w s e n[;w s e n]"`` from the trigger; raises ValueError when malformed."""
    layer, _, rest = payload.partition(" ")
    boxes: list[Box] = []
    for part in rest.split(";"):
        w, s, e, n = (float(v) for v in part.split())
        if not all(math.isfinite(v) for v in (w, s, e, n)):
            raise ValueError("non-finite box")
        boxes.append((w, s, e, n))
    if not layer or not boxes:
        raise ValueError("empty payload")
    return layer, boxes
