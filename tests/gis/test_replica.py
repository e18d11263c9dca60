"""Reads on a real streaming replica (gis.replica): served there when it has caught up, never stale.

Each test runs the ASGI front (tiles and lookups on its pools, OGC and the API through Django in
the same process) with the ``replica`` alias on a hot standby of the test cluster. Replay is
paused on the standby (``pg_wal_replay_pause``) to hold it behind the primary at will.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import httpx
import mapbox_vector_tile
import pytest
from django.contrib.gis.geos import MultiPolygon
from django.db import connection

from gis.health import health
from gis.replica import REPLICA, REPLICA_ALIAS
from gis.roles import Role
from gis.services import user_create_or_update
from gis.spatial import lonlat_to_tile
from layers.asgi import JSON_ROUTES
from layers.models import Building, Organisation
from orders.permits.models import Permit
from tests.factories import CITY_LAT, CITY_LON, at, rectangle
from tests.front import run_front
from tests.replica import Standby
from tiles.asgi import TileServer

# The replica alias too: the front's Django threads read it (the session fixture adds it first).
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", REPLICA_ALIAS])

NEAR = f"lon={CITY_LON}&lat={CITY_LAT}&radius=200"


@pytest.fixture
def city(replica: Standby, settings: Any) -> dict[str, Any]:
    """A contractor's permit and a house at the city point, replayed on the standby."""
    settings.REPLICA_MAX_LAG = 60  # paused replay must not count as lag, except where tested
    acme = Organisation.objects.create(name="Acme", kind=Organisation.Kind.CONTRACTOR)
    other = Organisation.objects.create(name="Other", kind=Organisation.Kind.CONTRACTOR)
    today = date.today()
    permit = Permit.objects.create(
        number="P-1",
        contractor=acme,
        responsible_person="Foreman",
        purpose="Water main repair",
        geom=rectangle(40, 40, *at(-20, -20).coords),
        issued_on=today,
        planned_start=today,
        deadline=today + timedelta(days=10),
    )
    # Its street is known (the street names' trigger): the unheard house's number is found on it.
    house(street="Hidden Lane", number="5", east_m=30)
    token = user_create_or_update(username="co", role=Role.CONTRACTOR, organisation_name="Acme")
    replica.caught_up()
    return {"permit": permit, "other": other, "contractor": {"Authorization": f"Token {token[1]}"}}


def house(*, street: str, number: str, east_m: float) -> Building:
    corner = at(east_m)
    building = Building(
        source="t",
        source_id=f"{street} {number}",
        street=street,
        housenumber=number,
        geom=MultiPolygon(rectangle(12, 12, corner.x, corner.y), srid=4326),
    )
    building.refresh_search_key()  # as importers do
    building.save()
    return building


def unheard_house() -> None:
    """A house the primary has and announces to no one (triggers off, as a bulk copy runs)."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        house(street="Hidden Lane", number="7", east_m=60)
        cursor.execute("RESET session_replication_role")
    connection.close()


def permit_reassigned(permit: Permit, to: Organisation) -> None:
    """The permit moves to another contractor (the admin's change): Acme may no longer see it."""
    Permit.objects.filter(pk=permit.pk).update(contractor=to)
    connection.close()


@contextmanager
def replay_paused(replica: Standby) -> Iterator[None]:
    replica.sql("SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        replica.sql("SELECT pg_wal_replay_resume()")


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


async def caught_up(server: TileServer) -> None:
    """The front started, and its watch has seen the replica replay all it heard of."""
    await server._start()
    assert await eventually(REPLICA.may_serve)


def tile_path(layer: str, z: int = 16) -> str:
    x, y = lonlat_to_tile(CITY_LON, CITY_LAT, z)
    return f"/tiles/{layer}/{z}/{x}/{y}.mvt"


def features(body: bytes, layer: str) -> list[dict[str, Any]]:
    decoded = mapbox_vector_tile.decode(body) if body else {}
    return decoded.get(layer, {}).get("features", [])


async def read_all(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    """What each read path shows: tiles, OGC items, nearby and search at the front and in Django."""

    async def ok(path: str) -> httpx.Response:
        response = await client.get(path, headers=headers)
        assert response.status_code in (200, 204), (path, response.status_code, response.text)
        return response

    nearby = f"/api/nearby?{NEAR}&layers=buildings,permits"
    search = "/api/search?q=Hidden Lane 7&layers=buildings"
    seen = {
        "tile permits": features((await ok(tile_path("permits"))).content, "permits"),
        "tile buildings": features((await ok(tile_path("buildings"))).content, "buildings"),
        "ogc permits": (await ok("/ogc/collections/permits/items?f=json")).json()["numberMatched"],
        "ogc buildings": (await ok("/ogc/collections/buildings/items?f=json")).json()[
            "numberMatched"
        ],
        "nearby": (await ok(nearby)).json()["features"],
        "nearby in Django": (await ok(nearby + "&format=json")).json()["features"],
        "search": (await ok(search)).json()["results"],
        "search in Django": (await ok(search + "&format=json")).json()["results"],
    }
    return {
        "permits in tile": len(seen["tile permits"]),
        "houses in tile": len(seen["tile buildings"]),
        "permits in OGC": seen["ogc permits"],
        "houses in OGC": seen["ogc buildings"],
        **{
            f"{layer} {where}": sum(f["properties"]["layer"] == layer for f in seen[where])
            for layer in ("permits", "buildings")
            for where in ("nearby", "nearby in Django")
        },
        "found": sum(hit["address"] == "7 Hidden Lane" for hit in seen["search"]),
        "found in Django": sum(
            hit["address"] == "7 Hidden Lane" for hit in seen["search in Django"]
        ),
    }


def seen_as(*, permits: int, houses: int, found: int) -> dict[str, int]:
    return {
        "permits in tile": permits,
        "houses in tile": houses,
        "permits in OGC": permits,
        "houses in OGC": houses,
        "permits nearby": permits,
        "permits nearby in Django": permits,
        "buildings nearby": houses,
        "buildings nearby in Django": houses,
        "found": found,
        "found in Django": found,
    }


def front(scenario: Callable[[httpx.AsyncClient, TileServer], Any]) -> Any:
    return run_front(scenario, json_routes=JSON_ROUTES)


def test_reads_are_served_by_the_replica_when_it_has_caught_up(city, replica):
    async def scenario(client: httpx.AsyncClient, server: TileServer) -> None:
        await caught_up(server)
        assert replica.sql("SELECT pg_is_in_recovery()") is True
        _, body = await asyncio.to_thread(health)
        check = body["checks"]["replica"]
        assert (check["status"], check["reading"], check["lag_s"] < 60) == ("ok", True, True)
        with replay_paused(replica):
            # Only the primary has the house: every read that misses it was the replica's.
            await asyncio.to_thread(unheard_house)
            before = REPLICA.served[REPLICA_ALIAS]
            seen = await read_all(client, city["contractor"])
            assert seen == seen_as(permits=1, houses=1, found=0)
            assert REPLICA.served[REPLICA_ALIAS] - before >= 8  # each read path's read
            # A request that may write holds reads on the primary until the replica has it.
            REPLICA.changed()
            assert not REPLICA.may_serve()
        await caught_up(server)
        # Not announced, so the cached tile keeps the old house; every other read has it now.
        seen = await read_all(client, city["contractor"])
        assert seen == {**seen_as(permits=1, houses=2, found=1), "houses in tile": 1}

    front(scenario)


def test_a_permit_taken_from_a_contractor_is_never_served_from_a_lagging_replica(city, replica):
    """The issue's test: the primary makes a permit invisible to a role; no read shows it."""

    async def scenario(client: httpx.AsyncClient, server: TileServer) -> None:
        await caught_up(server)
        headers = city["contractor"]
        assert (await read_all(client, headers)) == seen_as(permits=1, houses=1, found=0)
        [key] = [k for k in server.local._entries if k.startswith("permits|")]
        with replay_paused(replica):
            await asyncio.to_thread(permit_reassigned, city["permit"], city["other"])
            assert await eventually(lambda: key not in server.local._entries)  # purged
            before = REPLICA.served[REPLICA_ALIAS]
            assert (await read_all(client, headers)) == seen_as(permits=0, houses=1, found=0)
            assert REPLICA.served[REPLICA_ALIAS] == before  # all went to the primary
            # The standby still has the permit as Acme's, and the tile cached again is fresh.
            permit = city["permit"]
            owner = "SELECT contractor_id FROM permits_permit WHERE id = %s"
            assert replica.sql(owner, (permit.pk,)) == permit.contractor_id
            # A purge that lands while a tile renders keeps that render out of the cache (the
            # reassignment announces the permit more than once): ask until it is cached again.
            for _ in range(50):
                response = await client.get(tile_path("permits"), headers=headers)
                assert features(response.content, "permits") == []
                if key in server.local._entries:
                    break
                await asyncio.sleep(0.02)
            assert features(server.local._entries[key].body, "permits") == []
        # Replayed: reads return to the replica.
        await caught_up(server)
        before = REPLICA.served[REPLICA_ALIAS]
        response = await client.get(tile_path("permits", z=15), headers=headers)
        assert response.status_code == 204
        assert REPLICA.served[REPLICA_ALIAS] == before + 1

    front(scenario)


def test_a_replica_further_behind_than_replica_max_lag_is_not_read(city, replica, settings):
    settings.REPLICA_MAX_LAG = 0.3

    async def scenario(client: httpx.AsyncClient, server: TileServer) -> None:
        await caught_up(server)
        with replay_paused(replica):
            await asyncio.to_thread(unheard_house)  # WAL the standby receives and holds
            assert await eventually(lambda: not REPLICA.may_serve())
            response = await client.get(
                "/ogc/collections/buildings/items?f=json", headers=city["contractor"]
            )
            assert response.json()["numberMatched"] == 2  # the primary's
        await caught_up(server)

    front(scenario)


def test_reads_fall_back_to_the_primary_while_the_replica_is_down(city, replica):
    async def scenario(client: httpx.AsyncClient, server: TileServer) -> None:
        await caught_up(server)
        await asyncio.to_thread(replica.script, "stop")
        try:
            await asyncio.to_thread(unheard_house)
            # Pooled connections to the standby break under the first reads: each read again.
            for _ in range(2):
                seen = await read_all(client, city["contractor"])
                assert seen == {**seen_as(permits=1, houses=2, found=1), "houses in tile": 2}
                server.local.clear()
            assert not REPLICA.may_serve()
            # /healthz names it, and stays 200: the primary answers every read meanwhile.
            code, body = await asyncio.to_thread(health)
            assert (code, body["status"]) == (200, "degraded")
            check = body["checks"]["replica"]
            assert (check["status"], check["reading"]) == ("error", False)
        finally:
            await asyncio.to_thread(replica.script, "start")
        await caught_up(server)
        before = REPLICA.served[REPLICA_ALIAS]
        await client.get(tile_path("buildings", z=15))
        assert REPLICA.served[REPLICA_ALIAS] == before + 1

    front(scenario)
