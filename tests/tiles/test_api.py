"""Vector tiles through the real ASGI entry point (tiles.asgi.TileServer) on the real PostGIS."""

from __future__ import annotations

import asyncio
import gzip
import time

import httpx
import mapbox_vector_tile
import pytest
from django.conf import settings
from django.contrib.gis.geos import LineString, MultiPolygon, Point, Polygon
from django.db import connection

from gis.roles import Role
from gis.services import user_create_or_update
from gis.spatial import lonlat_to_tile
from layers.models import Building, NetworkKind, NetworkSegment, Organisation
from tests.front import run_front
from tiles.asgi import TileServer
from tiles.redis_cache import RedisTileCache

pytestmark = pytest.mark.django_db(transaction=True)

LON, LAT = -76.5700, 39.2800  # one city point
FAR_LON, FAR_LAT = -76.5300, 39.3000  # about 4 km away


def square(lon: float, lat: float, half: float = 0.0001) -> MultiPolygon:
    ring = (
        (lon - half, lat - half),
        (lon + half, lat - half),
        (lon + half, lat + half),
        (lon - half, lat + half),
        (lon - half, lat - half),
    )
    return MultiPolygon(Polygon(ring), srid=4326)


def tile_path(layers: str, lon: float, lat: float, z: int = 16, ext: str = "mvt") -> str:
    x, y = lonlat_to_tile(lon, lat, z)
    return f"/tiles/{layers}/{z}/{x}/{y}.{ext}"


def decode(response: httpx.Response) -> dict:
    return mapbox_vector_tile.decode(response.content)


@pytest.fixture
def city(db):
    water = Organisation.objects.create(name="Water service", kind=Organisation.Kind.SERVICE)
    here = Building.objects.create(
        source="test",
        source_id="b1",
        street="Main Street",
        housenumber="12к2",
        flats=40,
        geom=square(LON, LAT),
    )
    far = Building.objects.create(
        source="test",
        source_id="b2",
        street="Far Street",
        housenumber="1",
        geom=square(FAR_LON, FAR_LAT),
    )
    pipe = NetworkSegment.objects.create(
        source="test",
        source_id="n1",
        kind=NetworkKind.WATER,
        owner=water,
        diameter_mm=300,
        geom=LineString((LON - 0.0005, LAT), (LON + 0.0005, LAT), srid=4326),
    )
    return {"here": here, "far": far, "pipe": pipe, "water": water}


@pytest.fixture
def tokens(city):
    contractor_org = Organisation.objects.create(name="Acme", kind=Organisation.Kind.CONTRACTOR)
    return {
        "operator": user_create_or_update(username="op", role=Role.OPERATOR)[1],
        "planner": user_create_or_update(username="pl", role=Role.PLANNER)[1],
        "contractor": user_create_or_update(
            username="co", role=Role.CONTRACTOR, organisation_name=contractor_org.name
        )[1],
    }


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


# --- content ---------------------------------------------------------------------------------


def test_public_tile_has_one_mvt_layer_per_requested_layer(city):
    async def scenario(client, _):
        return await client.get(tile_path("buildings,streets", LON, LAT))

    response = run_front(scenario)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    tile = decode(response)
    assert list(tile) == ["buildings"]  # no street here: an empty layer adds nothing
    [feature] = tile["buildings"]["features"]
    assert feature["id"] == city["here"].pk
    assert feature["properties"]["housenumber"] == "12к2"
    assert feature["properties"]["flats"] == 40
    assert feature["properties"]["source"] == "test"


def test_public_tile_shows_only_allow_listed_properties(city):
    async def scenario(client, _):
        return await client.get(tile_path("buildings", LON, LAT))

    [feature] = decode(run_front(scenario))["buildings"]["features"]
    allowed = {
        "source",
        "name",
        "street",
        "housenumber",
        "city",
        "postcode",
        "kind",
        "flats",
        "floors",
        "height_m",
        "year_built",
    }
    assert set(feature["properties"]) <= allowed
    assert "source_id" not in feature["properties"]
    assert "search_key" not in feature["properties"]


def test_operator_sees_network_with_owner_name(tokens, city):
    async def scenario(client, _):
        return await client.get(tile_path("networks", LON, LAT), headers=auth(tokens["operator"]))

    response = run_front(scenario)
    assert response.status_code == 200
    assert response.headers["cache-control"].startswith("private")
    [feature] = decode(response)["networks"]["features"]
    assert feature["properties"]["owner"] == "Water service"
    assert feature["properties"]["kind"] == "water"
    assert feature["properties"]["diameter_mm"] == 300


def test_restricted_layer_without_token_is_401_and_for_contractor_403(tokens, city):
    async def scenario(client, _):
        anonymous = await client.get(tile_path("networks", LON, LAT))
        contractor = await client.get(
            tile_path("buildings,networks", LON, LAT), headers=auth(tokens["contractor"])
        )
        planner = await client.get(tile_path("networks", LON, LAT), headers=auth(tokens["planner"]))
        bad_token = await client.get(tile_path("buildings", LON, LAT), headers=auth("nope"))
        return anonymous, contractor, planner, bad_token

    anonymous, contractor, planner, bad_token = run_front(scenario)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"
    assert contractor.status_code == 403
    assert planner.status_code == 200
    assert bad_token.status_code == 401


@pytest.mark.parametrize("layer", ["networks", "manholes", "cameras"])
def test_public_never_gets_underground_layers_even_in_a_composite(city, layer):
    async def scenario(client, _):
        return await client.get(tile_path(f"buildings,{layer}", LON, LAT))

    assert run_front(scenario).status_code == 401


def test_layer_below_its_minzoom_contributes_nothing(city):
    async def scenario(client, _):
        low = await client.get(tile_path("buildings", LON, LAT, z=10))
        both = await client.get(tile_path("buildings,land", LON, LAT, z=12))
        return low, both

    low, both = run_front(scenario)
    assert low.status_code == 204  # buildings start at z13
    assert both.status_code == 204


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/tiles/nope/16/0/0.mvt", 404),
        ("/tiles/buildings/23/0/0.mvt", 404),
        ("/tiles/buildings/99/0/0.pbf", 404),
        ("/tiles/buildings/3/8/0.mvt", 404),
        ("/tiles/buildings/a/0/0.mvt", 400),
        ("/tiles/buildings/1/-1/0.mvt", 404),
        ("/tiles/buildings,buildings/1/0/0.mvt", 400),
        ("/tiles/x%22%3BDROP%20TABLE%20layers_building/14/0/0.mvt", 404),
        ("/tiles/buildings/14/0/0.png", 404),
        ("/tiles/buildings/14/0", 404),
    ],
)
def test_bad_tile_requests_get_json_errors(city, path, status):
    async def scenario(client, _):
        return await client.get(path)

    response = run_front(scenario)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert "error" in response.json()
    assert Building.objects.count() == 2


def test_empty_tile_is_204(city):
    async def scenario(client, _):
        return await client.get("/tiles/buildings/16/0/0.mvt")

    response = run_front(scenario)
    assert response.status_code == 204
    assert response.content == b""
    assert "etag" in response.headers


def test_etag_and_if_none_match_give_304(city):
    async def scenario(client, _):
        first = await client.get(tile_path("buildings", LON, LAT))
        again = await client.get(
            tile_path("buildings", LON, LAT), headers={"If-None-Match": first.headers["etag"]}
        )
        return first, again

    first, again = run_front(scenario)
    assert first.headers["cache-control"].startswith("public, max-age=")
    assert again.status_code == 304
    assert again.content == b""


def test_gzip_when_the_client_accepts_it(city):
    async def scenario(client, _):
        plain = await client.get(
            tile_path("buildings", LON, LAT), headers={"Accept-Encoding": "identity"}
        )
        zipped = await client.get(
            tile_path("buildings", LON, LAT), headers={"Accept-Encoding": "gzip"}
        )
        return plain, zipped

    plain, zipped = run_front(scenario)
    assert zipped.headers["content-encoding"] == "gzip"
    # httpx decodes gzip itself: the decoded body equals the plain one.
    assert zipped.content == plain.content
    assert "content-encoding" not in plain.headers
    assert gzip.decompress(gzip.compress(plain.content)) == plain.content


# --- catalog and TileJSON (Django views) -----------------------------------------------------


def test_catalog_lists_only_the_layers_the_role_may_see(client, tokens):
    public = {layer["id"] for layer in client.get("/tiles/").json()["layers"]}
    staff = {
        layer["id"]
        for layer in client.get("/tiles/", HTTP_AUTHORIZATION=f"Token {tokens['operator']}").json()[
            "layers"
        ]
    }
    assert "buildings" in public
    assert not {"networks", "manholes", "cameras"} & public
    assert {"networks", "manholes", "cameras"} <= staff


def test_tilejson_describes_the_layers(client, city):
    body = client.get("/tiles/buildings,streets.json").json()
    assert body["tilejson"] == "3.0.0"
    assert body["tiles"] == ["http://testserver/tiles/buildings,streets/{z}/{x}/{y}.pbf"]
    assert "© OpenStreetMap contributors" in body["attribution"]
    assert [layer["id"] for layer in body["vector_layers"]] == ["buildings", "streets"]
    assert body["vector_layers"][0]["fields"]["flats"] == "Number"
    west, south, east, north = body["bounds"]
    assert west <= LON <= east and south <= LAT <= north
    assert body["minzoom"] == 10 and body["maxzoom"] == 22


def test_tilejson_follows_the_roles(client, tokens):
    assert client.get("/tiles/networks.json").status_code == 401
    contractor = f"Token {tokens['contractor']}"
    assert client.get("/tiles/networks.json", HTTP_AUTHORIZATION=contractor).status_code == 403
    assert client.get("/tiles/nope.json").status_code == 404


# --- the cache and its purge -----------------------------------------------------------------


async def eventually(check, timeout: float = 1.0):
    """Poll an async check until it is true; the purge must land within a second."""
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)


def building_numbers(response: httpx.Response) -> list[str]:
    if response.status_code == 204:
        return []
    return [f["properties"]["housenumber"] for f in decode(response)["buildings"]["features"]]


def cached_keys(server: TileServer) -> set[str]:
    return set(server.local._entries)


@pytest.mark.parametrize("how", ["orm", "sql"])
def test_a_change_purges_exactly_the_tiles_it_touches(city, how):
    here = city["here"]
    zooms = (13, 16, 18)

    async def scenario(client, server):
        for z in zooms:
            assert building_numbers(await client.get(tile_path("buildings", LON, LAT, z))) == [
                "12к2"
            ]
            assert building_numbers(
                await client.get(tile_path("buildings", FAR_LON, FAR_LAT, z))
            ) == ["1"]
        await client.get(tile_path("buildings,streets", LON, LAT, 16))
        far_keys = {k for k in cached_keys(server) if "/" in k and _is_far(k)}
        assert len(far_keys) == len(zooms)

        await asyncio.to_thread(change_housenumber, here.pk, "14", how)

        async def updated():
            response = await client.get(tile_path("buildings", LON, LAT, 16))
            return building_numbers(response) == ["14"]

        assert await eventually(updated)
        for z in zooms:
            assert building_numbers(await client.get(tile_path("buildings", LON, LAT, z))) == ["14"]
        # The far tiles were never purged: still the same cache entries.
        assert far_keys <= cached_keys(server)
        return True

    assert run_front(scenario)


def _is_far(key: str) -> bool:
    z, x, y = (int(v) for v in key.rsplit("|", 1)[1].split("/"))
    return (x, y) == lonlat_to_tile(FAR_LON, FAR_LAT, z) and (x, y) != lonlat_to_tile(LON, LAT, z)


def change_housenumber(pk: int, number: str, how: str) -> None:
    if how == "orm":
        Building.objects.filter(pk=pk).update(housenumber=number)
    else:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE layers_building SET housenumber = %s WHERE id = %s", [number, pk]
            )
    connection.close()


def test_a_moved_object_leaves_its_old_tile_and_appears_in_the_new(city):
    here = city["here"]
    new_lon, new_lat = LON + 0.01, LAT  # about 860 m east: another z16 tile

    async def scenario(client, server):
        assert building_numbers(await client.get(tile_path("buildings", LON, LAT))) == ["12к2"]
        assert building_numbers(await client.get(tile_path("buildings", new_lon, new_lat))) == []

        def move():
            Building.objects.filter(pk=here.pk).update(geom=square(new_lon, new_lat))
            connection.close()

        await asyncio.to_thread(move)

        async def moved():
            old = building_numbers(await client.get(tile_path("buildings", LON, LAT)))
            new = building_numbers(await client.get(tile_path("buildings", new_lon, new_lat)))
            return old == [] and new == ["12к2"]

        return await eventually(moved)

    assert run_front(scenario)


def test_a_deleted_object_disappears(city):
    async def scenario(client, server):
        assert building_numbers(await client.get(tile_path("buildings", LON, LAT))) == ["12к2"]

        def delete():
            Building.objects.filter(pk=city["here"].pk).delete()
            connection.close()

        await asyncio.to_thread(delete)

        async def gone():
            return (await client.get(tile_path("buildings", LON, LAT))).status_code == 204

        return await eventually(gone)

    assert run_front(scenario)


def test_a_change_to_one_layer_keeps_other_layers_tiles(city, tokens):
    async def scenario(client, server):
        await client.get(tile_path("networks", LON, LAT), headers=auth(tokens["operator"]))
        await client.get(tile_path("buildings", LON, LAT))
        network_keys = {k for k in cached_keys(server) if k.startswith("networks|")}
        assert network_keys

        await asyncio.to_thread(change_housenumber, city["here"].pk, "16", "orm")

        async def updated():
            return building_numbers(await client.get(tile_path("buildings", LON, LAT))) == ["16"]

        assert await eventually(updated)
        return network_keys <= cached_keys(server)

    assert run_front(scenario)


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL (make test starts a Redis)")
def test_redis_cache_is_shared_and_purged(city, settings):
    settings.TILE_CACHE = True

    async def scenario(client, server):
        first = await client.get(tile_path("buildings", LON, LAT))
        assert building_numbers(first) == ["12к2"]
        far = await client.get(tile_path("buildings", FAR_LON, FAR_LAT))
        assert building_numbers(far) == ["1"]
        redis = server.redis
        assert redis is not None
        here_key = redis._tile_key(16, *lonlat_to_tile(LON, LAT, 16))
        far_key = redis._tile_key(16, *lonlat_to_tile(FAR_LON, FAR_LAT, 16))
        assert await redis.client.exists(here_key, far_key) == 2

        # Another worker or machine, with its own connection, finds the tile in Redis.
        other = RedisTileCache(settings.REDIS_URL, prefix=redis.prefix)
        try:
            x, y = lonlat_to_tile(LON, LAT, 16)
            assert await other.get(f"buildings|public|16/{x}/{y}") == first.content
        finally:
            await other.close()

        await asyncio.to_thread(change_housenumber, city["here"].pk, "18", "orm")

        async def purged():
            return not await redis.client.exists(here_key)

        assert await eventually(purged)
        assert await redis.client.exists(far_key) == 1
        return building_numbers(await client.get(tile_path("buildings", LON, LAT))) == ["18"]

    assert run_front(scenario)


def test_cache_can_be_switched_off(city, settings):
    settings.TILE_CACHE = False

    async def scenario(client, server):
        await client.get(tile_path("buildings", LON, LAT))
        return len(server.local)

    assert run_front(scenario) == 0


def test_point_building_is_drawn_as_a_point(db):
    Building.objects.create(
        source="test",
        source_id="p",
        street="Point St",
        housenumber="3",
        geom=Point(LON, LAT, srid=4326),
    )

    async def scenario(client, _):
        return await client.get(tile_path("buildings", LON, LAT))

    [feature] = decode(run_front(scenario))["buildings"]["features"]
    assert feature["geometry"]["type"] == "Point"


def test_rewriting_search_keys_purges_nothing(city):
    """Only columns tiles are drawn from purge: a key refresh over the city must not."""

    async def scenario(client, server):
        await client.get(tile_path("buildings", LON, LAT))
        before = cached_keys(server)
        assert before

        def rewrite_keys():
            with connection.cursor() as cursor:
                cursor.execute("UPDATE layers_building SET search_key = 'x', updated_at = now()")
            connection.close()

        await asyncio.to_thread(rewrite_keys)
        await asyncio.sleep(0.3)  # a purge, had one been sent, lands well within this
        return before <= cached_keys(server) and server.local.epoch == 0

    assert run_front(scenario)
