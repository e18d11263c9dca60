"""What the ASGI front counts for ``/metrics`` (gis.metrics): its requests, and each tile's source.

The front answers tiles and the lookups without Django's middleware, so django-prometheus never
sees them: they are counted here, by route (``tile``, ``search``, ``nearby``) and status class.
On the hot path this is two counter increments and one histogram observation per request, on
label children resolved once (``RouteMetrics``), not per request.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Counter, Histogram

FRONT_REQUESTS = Counter(
    "citygis_front_requests",
    "Requests the ASGI front answered itself (tiles, lookups), by route and status class.",
    ["route", "status"],
)
# A cached tile takes well under a millisecond, an uncached one at z14 tens of milliseconds.
FRONT_SECONDS = Histogram(
    "citygis_front_request_duration_seconds",
    "Time the ASGI front took to answer a request, by route.",
    ["route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
TILES = Counter(
    "citygis_tiles",
    "Tiles the front served, by where they came from: this process's cache (local), "
    "the shared Redis cache (redis), or PostGIS (rendered).",
    ["source"],
)
TILE_FROM_LOCAL = TILES.labels(source="local")
TILE_FROM_REDIS = TILES.labels(source="redis")
TILE_RENDERED = TILES.labels(source="rendered")

Send = Callable[[dict[str, Any]], Awaitable[None]]


class RouteMetrics:
    """One route's counters, by status class, and its histogram."""

    __slots__ = ("by_class", "seconds")

    def __init__(self, route: str) -> None:
        self.by_class = {
            n: FRONT_REQUESTS.labels(route=route, status=f"{n}xx") for n in (2, 3, 4, 5)
        }
        self.seconds = FRONT_SECONDS.labels(route=route)

    def observe(self, status: int, seconds: float) -> None:
        self.by_class.get(status // 100, self.by_class[5]).inc()
        self.seconds.observe(seconds)


class Observed:
    """An ASGI ``send`` that notes the status it sends; ``done()`` counts the request."""

    __slots__ = ("send", "route", "status", "started")

    def __init__(self, send: Send, route: RouteMetrics) -> None:
        self.send = send
        self.route = route
        self.status = 500  # what the server answers for a request that escaped unanswered
        self.started = time.perf_counter()

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self.send(message)

    def done(self) -> None:
        self.route.observe(self.status, time.perf_counter() - self.started)
