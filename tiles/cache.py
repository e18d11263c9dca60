"""The tile cache: in-process LRU, backed by Redis when REDIS_URL is set, purged per feature.

A cache key is ``<layers>|<scope>|z/x/y``. When a row changes, the database sends its layer and
the bounding boxes of its old and new geometry (see tiles/triggers.py); ``purge`` then drops,
at every zoom, exactly the cached tiles whose area (with the tile buffer) those boxes touch and
whose layers include the changed one or a layer fed by it (``LayerSpec.fed_by``: the caller
passes them all, see ``layers.registry.layers_purged_with``). Everything else stays cached.
"""

from __future__ import annotations

import gzip
import hashlib
import math
from collections import OrderedDict, defaultdict
from collections.abc import Collection, Iterator

from gis.spatial import Bbox as Box
from gis.spatial import tile_range
from tiles.sql import BUFFER, EXTENT

# Above this many tiles in a box at one zoom, purge scans the cached tiles of that zoom instead
# of enumerating the box's tiles.
ENUMERATE_LIMIT = 4096


class CachedTile:
    """A rendered tile, its ETag, and its gzip form once a client has asked for it."""

    __slots__ = ("body", "etag", "_gzipped")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        self._gzipped: bytes | None = None

    def gzipped(self) -> bytes:
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, 6)
        return self._gzipped


def key_layers(key: str) -> set[str]:
    return set(key.split("|", 1)[0].split(","))


def key_tile(key: str) -> tuple[int, int, int]:
    z, x, y = key.rsplit("|", 1)[1].split("/")
    return int(z), int(x), int(y)


def tile_ranges(box: Box, z: int) -> tuple[int, int, int, int]:
    """The tiles at zoom z that draw part of box (the buffer reaches into the neighbours)."""
    return tile_range(box, z, margin=BUFFER / EXTENT)


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
        # Counted with room for its gzip form, which it gains when a client asks for one.
        self.size += len(tile.body) * 2
        z, x, y = key_tile(key)
        self._by_zoom[z].setdefault((x, y), set()).add(key)
        while self.size > self.max_bytes and self._entries:
            self._discard(next(iter(self._entries)))
        return True

    def _discard(self, key: str) -> None:
        tile = self._entries.pop(key, None)
        if tile is None:
            return
        self.size -= len(tile.body) * 2
        z, x, y = key_tile(key)
        keys = self._by_zoom[z].get((x, y))
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_zoom[z][(x, y)]

    def purge(self, layers: str | Collection[str], boxes: list[Box]) -> int:
        """Drop the cached tiles that draw any of ``layers`` and that the boxes touch."""
        self.epoch += 1
        names = {layers} if isinstance(layers, str) else set(layers)
        doomed = [key for key in self._touched(boxes) if names & key_layers(key)]
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
