"""The object card and the spatial queries (nearby, within, along) on the real PostGIS."""

from __future__ import annotations

import json

import pytest
from django.contrib.gis.geos import LineString, MultiLineString, MultiPolygon, Point, Polygon
from pyproj import Geod

from gis.roles import Role
from gis.services import user_create_or_update
from layers.models import (
    Building,
    BusRoute,
    BusStop,
    Manhole,
    NetworkKind,
    NetworkSegment,
    Organisation,
    Playground,
    SnowploughRoute,
    Yard,
)

pytestmark = pytest.mark.django_db

LON, LAT = -76.5700, 39.2800
GEOD = Geod(ellps="WGS84")
M = 1 / 111_320  # about a metre of latitude, in degrees


def box(lon: float, lat: float, half_m: float) -> Polygon:
    dx, dy = half_m * M / 0.7737, half_m * M  # cos(39.28°) ≈ 0.7737
    return Polygon(
        (
            (lon - dx, lat - dy),
            (lon + dx, lat - dy),
            (lon + dx, lat + dy),
            (lon - dx, lat + dy),
            (lon - dx, lat - dy),
        ),
        srid=4326,
    )


@pytest.fixture
def city():
    water = Organisation.objects.create(name="Water service", kind=Organisation.Kind.SERVICE)
    # A yard 40 m across with a house on its north edge.
    yard = Yard.objects.create(
        source="t", source_id="y", address="12 Main Street", geom=box(LON, LAT, 20)
    )
    house = Building.objects.create(
        source="t",
        source_id="b",
        street="Main Street",
        housenumber="12",
        geom=MultiPolygon(box(LON, LAT + 28 * M, 6)),
    )
    far_house = Building.objects.create(
        source="t",
        source_id="far",
        street="Far Street",
        housenumber="1",
        geom=MultiPolygon(box(LON + 0.02, LAT, 6)),
    )
    playground = Playground.objects.create(
        source="t", source_id="p", name="Sandpit", geom=Point(LON + 5 * M, LAT, srid=4326)
    )
    pipe = NetworkSegment.objects.create(
        source="t",
        source_id="n",
        kind=NetworkKind.WATER,
        owner=water,
        geom=LineString((LON - 0.001, LAT), (LON + 0.001, LAT), srid=4326),
    )
    manhole = Manhole.objects.create(
        source="t",
        source_id="m",
        kind=NetworkKind.WATER,
        segment=pipe,
        geom=Point(LON, LAT, srid=4326),
    )
    stop = BusStop.objects.create(
        source="t", source_id="s", name="Main St & 1st", geom=Point(LON, LAT + 200 * M, srid=4326)
    )
    route = BusRoute.objects.create(
        source="t",
        source_id="r",
        ref="10",
        name="Bus 10",
        geom=MultiLineString(
            LineString((LON - 0.01, LAT + 200 * M), (LON + 0.01, LAT + 200 * M)), srid=4326
        ),
    )
    plough = SnowploughRoute.objects.create(
        source="derived",
        source_id="sp",
        name="Main Street",
        priority=2,
        geom=MultiLineString(
            LineString((LON - 0.003, LAT + 45 * M), (LON + 0.003, LAT + 45 * M)), srid=4326
        ),
    )
    other_plough = SnowploughRoute.objects.create(
        source="derived",
        source_id="sp2",
        name="Side Lane",
        priority=3,
        geom=MultiLineString(
            LineString((LON - 0.003, LAT + 40 * M), (LON + 0.003, LAT + 40 * M)), srid=4326
        ),
    )
    return {
        "yard": yard,
        "house": house,
        "far_house": far_house,
        "playground": playground,
        "pipe": pipe,
        "manhole": manhole,
        "stop": stop,
        "route": route,
        "plough": plough,
        "other_plough": other_plough,
    }


@pytest.fixture
def operator():
    return {
        "HTTP_AUTHORIZATION": "Token " + user_create_or_update(username="op", role=Role.OPERATOR)[1]
    }


@pytest.fixture
def contractor():
    token = user_create_or_update(username="co", role=Role.CONTRACTOR, organisation_name="Acme")[1]
    return {"HTTP_AUTHORIZATION": f"Token {token}"}


def ids(section: dict) -> list[int]:
    return [f["id"] for f in section["features"]]


# --- the card --------------------------------------------------------------------------------


def test_building_card_shows_its_yard_playground_route_and_networks_to_operators(
    client, city, operator
):
    cable = NetworkSegment.objects.create(
        source="t",
        source_id="c",
        kind=NetworkKind.TELECOM,
        geom=LineString((LON - 0.001, LAT + 28 * M), (LON + 0.001, LAT + 28 * M), srid=4326),
    )
    card = client.get(f"/api/objects/buildings/{city['house'].pk}", **operator).json()
    assert card["feature"]["properties"]["street"] == "Main Street"
    related = card["related"]
    assert ids(related["yards"]) == [city["yard"].pk]
    assert ids(related["playgrounds"]) == [city["playground"].pk]
    assert ids(related["bus_stops"]) == [city["stop"].pk]
    assert ids(related["bus_routes"]) == [city["route"].pk]
    # Two routes pass close; the one named like its street serves it.
    assert ids(related["snowplough_routes"]) == [city["plough"].pk]
    assert related["snowplough_routes"]["features"][0]["properties"]["source"] == "derived"
    # The cable runs under it; the water pipe across the yard, 22 m away, is not "beside" it.
    assert ids(related["networks"]) == [cable.pk]
    stop = related["bus_stops"]["features"][0]
    assert stop["geometry"]["type"] == "Point"
    assert 160 < stop["properties"]["distance_m"] < 185


def test_yard_card_lists_networks_crossing_and_manholes_inside(client, city, operator):
    related = client.get(f"/api/objects/yards/{city['yard'].pk}", **operator).json()["related"]
    assert ids(related["networks"]) == [city["pipe"].pk]
    assert related["networks"]["features"][0]["properties"]["owner"] == "Water service"
    assert ids(related["manholes"]) == [city["manhole"].pk]
    assert ids(related["playgrounds"]) == [city["playground"].pk]
    assert ids(related["buildings"]) == [city["house"].pk]


@pytest.mark.parametrize("who", ["public", "contractor"])
def test_card_hides_underground_layers_from_public_and_contractors(client, city, contractor, who):
    headers = contractor if who == "contractor" else {}
    card = client.get(f"/api/objects/yards/{city['yard'].pk}", **headers).json()
    assert "networks" not in card["related"]
    assert "manholes" not in card["related"]
    assert "playgrounds" in card["related"]
    assert client.get(f"/api/objects/manholes/{city['manhole'].pk}", **headers).status_code in (
        401,
        403,
    )


def test_card_of_a_missing_object_or_unknown_layer_is_404(client, city):
    assert client.get("/api/objects/buildings/999999").status_code == 404
    assert client.get("/api/objects/castles/1").status_code == 404


# --- nearby ----------------------------------------------------------------------------------


def test_nearby_is_nearest_first_with_geodesic_metres(client, city):
    body = client.get(
        f"/api/nearby?lon={LON}&lat={LAT}&radius=250&layers=buildings,bus_stops,playgrounds"
    ).json()
    found = [(f["properties"]["layer"], f["id"]) for f in body["features"]]
    assert found == [
        ("playgrounds", city["playground"].pk),
        ("buildings", city["house"].pk),
        ("bus_stops", city["stop"].pk),
    ]
    stop = body["features"][2]
    _, _, expected = GEOD.inv(LON, LAT, LON, LAT + 200 * M)
    assert stop["properties"]["distance_m"] == pytest.approx(expected, abs=0.5)


def test_nearby_respects_the_radius_and_limit(client, city):
    body = client.get(f"/api/nearby?lon={LON}&lat={LAT}&radius=100&layers=buildings").json()
    assert [f["id"] for f in body["features"]] == [city["house"].pk]
    body = client.get(f"/api/nearby?lon={LON}&lat={LAT}&radius=300&limit=1").json()
    assert len(body["features"]) == 1


def test_nearby_without_layers_never_returns_restricted_objects_to_the_public(client, city):
    body = client.get(f"/api/nearby?lon={LON}&lat={LAT}&radius=50&limit=50").json()
    layers = {f["properties"]["layer"] for f in body["features"]}
    assert "yards" in layers
    assert not layers & {"networks", "manholes", "cameras"}


def test_nearby_gives_operators_the_networks(client, city, operator):
    body = client.get(
        f"/api/nearby?lon={LON}&lat={LAT}&radius=10&layers=networks,manholes", **operator
    ).json()
    assert {f["properties"]["layer"] for f in body["features"]} == {"networks", "manholes"}


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("lon=abc&lat=39", 400),
        ("lat=39", 400),
        ("lon=500&lat=39", 400),
        (f"lon={LON}&lat={LAT}&radius=-5", 400),
        (f"lon={LON}&lat={LAT}&radius=1e9", 400),
        (f"lon={LON}&lat={LAT}&limit=1000000000", 400),
        (f"lon={LON}&lat={LAT}&layers=networks", 401),
        (f"lon={LON}&lat={LAT}&layers=nope", 404),
        (f"lon={LON}&lat={LAT}&layers=buildings;DROP TABLE layers_building", 404),
    ],
)
def test_nearby_bad_input_is_4xx(client, city, query, status):
    response = client.get(f"/api/nearby?{query}")
    assert response.status_code == status
    assert "error" in response.json()
    assert Building.objects.count() == 2


# --- within ----------------------------------------------------------------------------------


def polygon_json(poly: Polygon) -> dict:
    return json.loads(poly.geojson)


def test_within_counts_and_lists_per_layer(client, city):
    area = polygon_json(box(LON, LAT, 60))
    body = client.post(
        "/api/within?layers=buildings,yards,playgrounds", area, content_type="application/json"
    ).json()
    assert {k: v["count"] for k, v in body["layers"].items()} == {
        "buildings": 1,
        "yards": 1,
        "playgrounds": 1,
    }
    assert body["layers"]["buildings"]["features"][0]["id"] == city["house"].pk
    assert body["area_m2"] == pytest.approx(120 * 120, rel=0.02)


def test_within_takes_a_feature_or_a_collection_of_one(client, city):
    area = polygon_json(box(LON, LAT, 60))
    feature = {"type": "Feature", "properties": {}, "geometry": area}
    for body in (feature, {"type": "FeatureCollection", "features": [feature]}):
        response = client.post("/api/within?layers=yards", body, content_type="application/json")
        assert response.json()["layers"]["yards"]["count"] == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{broken", "JSON parse error"),
        (json.dumps({"type": "Point", "coordinates": [LON, LAT]}), "Polygon or MultiPolygon"),
        (
            json.dumps(
                {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [LON, LAT],
                            [LON + 0.001, LAT + 0.001],
                            [LON + 0.001, LAT],
                            [LON, LAT + 0.001],
                            [LON, LAT],
                        ]
                    ],
                }
            ),
            "Self-intersection",
        ),
        (json.dumps({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}), "Not readable"),
        (
            json.dumps(
                {
                    "type": "Polygon",
                    "coordinates": [[[-77, 39], [-76, 39], [-76, 40], [-77, 40], [-77, 39]]],
                }
            ),
            "km²",
        ),
        (
            json.dumps(
                {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [-8523850, 4761750],
                            [-8523750, 4761750],
                            [-8523750, 4761850],
                            [-8523850, 4761750],
                        ]
                    ],
                }
            ),
            "lon/lat",
        ),
        (json.dumps({"type": "FeatureCollection", "features": []}), "one polygon"),
    ],
)
def test_within_rejects_bad_polygons_with_the_reason(client, city, body, reason):
    response = client.post("/api/within", body, content_type="application/json")
    assert response.status_code == 400
    assert reason in json.dumps(response.json(), ensure_ascii=False)


def test_within_rejects_too_many_vertices(client, city):
    import math

    ring = [
        [
            LON + 0.001 * math.cos(2 * math.pi * i / 20_000),
            LAT + 0.001 * math.sin(2 * math.pi * i / 20_000),
        ]
        for i in range(20_000)
    ]
    body = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    response = client.post("/api/within", body, content_type="application/json")
    assert response.status_code == 400
    assert "vertices" in response.json()["error"]["message"]


def test_within_rejects_an_oversized_body(client, city):
    response = client.post("/api/within", "x" * 3_000_000, content_type="application/json")
    assert response.status_code == 413


def test_within_hides_restricted_layers_from_the_public(client, city):
    area = polygon_json(box(LON, LAT, 60))
    body = client.post("/api/within", area, content_type="application/json").json()
    assert "networks" not in body["layers"]
    assert (
        client.post(
            "/api/within?layers=networks", area, content_type="application/json"
        ).status_code
        == 401
    )


# --- along -----------------------------------------------------------------------------------


def test_along_a_snowplough_route_finds_the_houses_it_serves(client, city):
    body = client.get(
        f"/api/along?layer=snowplough_routes&id={city['plough'].pk}&buffer=30&layers=buildings"
    ).json()
    assert ids(body["layers"]["buildings"]) == [city["house"].pk]
    assert body["layers"]["buildings"]["count"] == 1
    narrow = client.get(
        f"/api/along?layer=snowplough_routes&id={city['plough'].pk}&buffer=5&layers=buildings"
    ).json()
    assert narrow["layers"]["buildings"]["count"] == 0


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("layer=buildings&id=1", 400),
        ("layer=snowplough_routes&id=999999", 404),
        ("layer=snowplough_routes&id=1&buffer=5000", 400),
        ("layer=snowplough_routes&id=abc", 400),
        ("layer=networks&id=1", 401),
    ],
)
def test_along_bad_input_is_4xx(client, city, query, status):
    assert client.get(f"/api/along?{query}").status_code == status
