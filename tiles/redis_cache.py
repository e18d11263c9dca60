"""The shared tile cache in Redis, for several workers and machines (when REDIS_URL is set).

Layout under a per-database prefix: one hash per tile, ``t:z/x/y``, whose fields are
``<layers>|<scope>`` and values the tile bytes; and per zoom a set ``z:<z>`` of the cached
``x/y``, so a purge of a large box at a high zoom scans what is cached instead of every tile.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import cast

import redis.asyncio as redis

from gis.spatial import Bbox as Box
from tiles.cache import ENUMERATE_LIMIT, key_tile, tile_ranges

TTL_S = 24 * 3600  # a safety net; purges keep tiles fresh

# Drop, from each tile hash, the fields (layer combinations) that include a changed layer: the
# one whose rows changed, or one fed by it (ARGV holds them all).
PURGE_SCRIPT = """
local changed = {}
for _, name in ipairs(ARGV) do changed[name] = true end
local n = 0
for _, key in ipairs(KEYS) do
  for _, field in ipairs(redis.call('HKEYS', key)) do
    local names = string.match(field, '^[^|]*')
    for name in string.gmatch(names, '[^,]+') do
      if changed[name] then
        redis.call('HDEL', key, field)
        n = n + 1
        break
      end
    end
  end
end
return n
"""


class RedisTileCache:
    def __init__(self, url: str, *, prefix: str) -> None:
        self.client = redis.from_url(url)
        self.prefix = prefix
        self._purge = self.client.register_script(PURGE_SCRIPT)

    def _tile_key(self, z: int, x: int, y: int) -> str:
        return f"{self.prefix}t:{z}/{x}/{y}"

    async def get(self, key: str) -> bytes | None:
        field = key.rsplit("|", 1)[0]
        body = await self.client.hget(self._tile_key(*key_tile(key)), field)
        return cast("bytes | None", body)  # decode_responses is off: Redis answers bytes

    async def put(self, key: str, body: bytes) -> None:
        z, x, y = key_tile(key)
        tile_key = self._tile_key(z, x, y)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hset(tile_key, key.rsplit("|", 1)[0], body)
            pipe.expire(tile_key, TTL_S)
            pipe.sadd(f"{self.prefix}z:{z}", f"{x}/{y}")
            await pipe.execute()

    async def purge(self, layers: str | Collection[str], boxes: list[Box]) -> int:
        """Drop the tiles that draw any of ``layers`` and that the boxes touch."""
        names = sorted({layers} if isinstance(layers, str) else set(layers))
        keys: set[str] = set()
        for z in range(23):
            for x0, y0, x1, y1 in (tile_ranges(b, z) for b in boxes):
                if (x1 - x0 + 1) * (y1 - y0 + 1) <= ENUMERATE_LIMIT:
                    keys.update(
                        self._tile_key(z, x, y)
                        for x in range(x0, x1 + 1)
                        for y in range(y0, y1 + 1)
                    )
                    continue
                async for member in self.client.sscan_iter(f"{self.prefix}z:{z}", count=1000):
                    x, y = (int(v) for v in member.decode().split("/"))
                    if x0 <= x <= x1 and y0 <= y <= y1:
                        keys.add(self._tile_key(z, x, y))
        if not keys:
            return 0
        # Only the tiles that exist in Redis are worth a script call.
        ordered = sorted(keys)
        exists = []
        for start in range(0, len(ordered), 5000):
            chunk = ordered[start : start + 5000]
            async with self.client.pipeline(transaction=False) as pipe:
                for key in chunk:
                    pipe.exists(key)
                exists += [k for k, e in zip(chunk, await pipe.execute(), strict=True) if e]
        purged = 0
        for start in range(0, len(exists), 500):
            purged += await self._purge(keys=exists[start : start + 500], args=names)
        return purged

    async def flush_on_start(self) -> None:
        """Empty this database's tiles when a worker starts.

        Purges reach Redis only through listening workers: a change made while none listened
        (an import with the service stopped) must not be served stale afterwards.
        """
        async for key in self.client.scan_iter(f"{self.prefix}*", count=1000):
            await self.client.delete(key)

    async def close(self) -> None:
        await self.client.aclose()
