"""The ASGI front's own time per cached tile, in process: no socket, no HTTP parser, no client.

    .venv/bin/python bench/front_overhead.py [REQUESTS]

Asks tiles.asgi.TileServer for one z16 buildings tile at MAP_CENTER REQUESTS times (default
20,000) after a first request has cached it, and prints the microseconds per request over the
best of five rounds: everything the front does for a cached tile (host check, layers, cache,
headers, the /metrics counters), which a server then wraps in HTTP. On the project-local cluster
(migrated) or DATABASE_URL; with no building there the tile timed is an empty one (204).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gis.settings")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
django.setup()

from django.conf import settings  # noqa: E402

from gis.spatial import lonlat_to_tile  # noqa: E402
from tiles.asgi import TileServer  # noqa: E402

ROUNDS = 5


async def not_django(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("the front passed a tile request on")


async def main(requests: int) -> None:
    lon, lat, _ = settings.MAP_CENTER
    x, y = lonlat_to_tile(lon, lat, 16)
    scope = {
        "type": "http",
        "method": "GET",
        "path": f"/tiles/buildings/16/{x}/{y}.mvt",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"accept-encoding", b"gzip")],
        "client": ("127.0.0.1", 5000),
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    server = TileServer(not_django)
    try:
        await server(scope, receive, send)  # renders and caches it
        best = float("inf")
        for _ in range(ROUNDS):
            started = time.perf_counter()
            for _ in range(requests):
                await server(scope, receive, send)
            best = min(best, time.perf_counter() - started)
    finally:
        await server._stop()
    print(
        f"{scope['path']}: status {statuses[-1]}, {best / requests * 1e6:.1f} µs per cached "
        f"tile ({requests / best:,.0f} per second in one process), best of {ROUNDS}"
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000))
