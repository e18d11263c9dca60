"""/metrics counts what the ASGI front answers itself: tiles by source, lookups, by status class."""

from __future__ import annotations

import httpx
import pytest

from gis.spatial import lonlat_to_tile
from layers.asgi import JSON_ROUTES
from tests.factories import CITY_LAT, CITY_LON, building
from tests.front import run_front
from tests.scrape import scrape, value
from tiles.asgi import TileServer

pytestmark = pytest.mark.django_db(transaction=True)


def tile_path(z: int = 16) -> str:
    x, y = lonlat_to_tile(CITY_LON, CITY_LAT, z)
    return f"/tiles/buildings/{z}/{x}/{y}.mvt"


def test_a_tile_is_counted_and_its_second_request_is_a_cache_hit(settings):
    settings.REDIS_URL = ""  # the per-process cache alone; Redis has its own test below
    building()
    before = scrape()

    async def scenario(client: httpx.AsyncClient, server: TileServer) -> list[int]:
        return [(await client.get(tile_path())).status_code for _ in range(2)]

    assert run_front(scenario) == [200, 200]
    after = scrape()

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("citygis_front_requests_total", route="tile", status="2xx") == 2
    assert grew("citygis_tiles_total", source="rendered") == 1
    assert grew("citygis_tiles_total", source="local") == 1
    assert grew("citygis_tiles_total", source="redis") == 0
    assert grew("citygis_front_request_duration_seconds_count", route="tile") == 2
    assert grew("citygis_front_request_duration_seconds_sum", route="tile") > 0


def test_a_tile_another_process_rendered_comes_from_redis(settings):
    assert settings.REDIS_URL, "make test runs a Redis (REDIS_URL)"
    building()
    before = scrape()

    async def scenario(client: httpx.AsyncClient, server: TileServer) -> int:
        await client.get(tile_path())
        server.local.clear()  # as another worker process would start: nothing of its own
        return (await client.get(tile_path())).status_code

    assert run_front(scenario) == 200
    after = scrape()
    assert (
        value(after, "citygis_tiles_total", source="redis")
        - value(before, "citygis_tiles_total", source="redis")
        == 1
    )


def test_refusals_and_lookups_are_counted_by_route_and_status_class():
    before = scrape()

    async def scenario(client: httpx.AsyncClient, server: TileServer) -> list[int]:
        return [
            (await client.get("/tiles/buildings/99/0/0.mvt")).status_code,  # no zoom 99: 404
            (await client.get("/tiles/networks/16/0/0.mvt")).status_code,  # staff only
            (await client.get("/api/search?q=Main")).status_code,
            (await client.get("/api/nearby")).status_code,  # no point given
        ]

    assert run_front(scenario, json_routes=JSON_ROUTES) == [404, 401, 200, 400]
    after = scrape()

    def grew(route: str, status: str) -> float:
        labels = {"route": route, "status": status}
        return value(after, "citygis_front_requests_total", **labels) - value(
            before, "citygis_front_requests_total", **labels
        )

    assert grew("tile", "4xx") == 2
    assert grew("search", "2xx") == 1
    assert grew("nearby", "4xx") == 1
    assert grew("tile", "2xx") == grew("search", "4xx") == 0
