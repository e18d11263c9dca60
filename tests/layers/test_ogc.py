"""OGC API - Features under /ogc/: documents, items queries, CQL2, roles, hostile input, GDAL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.gis.geos import MultiPolygon
from django.db import connections
from django.test import Client

from gis.roles import Role
from gis.services import user_create_or_update
from layers import registry
from layers.models import Building, NetworkKind, NetworkSegment, Organisation, Yard
from orders.permits.models import Permit
from tests.factories import CITY_LAT, CITY_LON, line, rectangle
from tests.live_server import live_server

FAR_LON, FAR_LAT = -76.53, 39.30  # about 4 km north-east of the city point
OGRINFO = shutil.which("ogrinfo") or "/usr/bin/ogrinfo"
PART1 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
PART3 = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/"
CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/"


# --- fixtures --------------------------------------------------------------------------------


def make_city() -> dict[str, Any]:
    """Five buildings with addresses (four near the city point, one far), three yards, a pipe."""

    def house(street: str, number: str, flats: int | None, lon: float, lat: float, **kw: Any):
        return Building.objects.create(
            source="test",
            source_id=f"{street}-{number}",
            street=street,
            housenumber=number,
            flats=flats,
            geom=MultiPolygon(rectangle(10, 10, lon, lat), srid=4326),
            **kw,
        )

    near = dict(lon=CITY_LON, lat=CITY_LAT)
    main1 = house("Main Street", "1", 20, floors=4, **near)
    main3 = house("Main Street", "3", 5, floors=2, lon=CITY_LON + 0.0003, lat=CITY_LAT)
    maine = house("Maine Avenue", "7", 12, floors=20, lon=CITY_LON + 0.0006, lat=CITY_LAT)
    oak = house("Oak Lane", "2", None, lon=CITY_LON, lat=CITY_LAT + 0.0003)
    far = house("Main Street", "99", 40, floors=10, lon=FAR_LON, lat=FAR_LAT)
    yards = {
        repaired: Yard.objects.create(
            source="test",
            source_id=f"yard-{repaired}",
            address=f"Yard {repaired}",
            last_repaired_on=repaired,
            geom=rectangle(30, 30, CITY_LON - 0.001 * (i + 1), CITY_LAT),
        )
        for i, repaired in enumerate([dt.date(2019, 6, 1), dt.date(2021, 3, 15), None])
    }
    water = Organisation.objects.create(name="Water service", kind=Organisation.Kind.SERVICE)
    pipe = NetworkSegment.objects.create(
        source="test",
        source_id="n1",
        kind=NetworkKind.WATER,
        owner=water,
        diameter_mm=300,
        laid_on=dt.date(1990, 1, 1),
        geom=line(CITY_LON, CITY_LAT, 0.001),
    )
    return {
        "main1": main1,
        "main3": main3,
        "maine": maine,
        "oak": oak,
        "far": far,
        "yards": yards,
        "pipe": pipe,
        "water": water,
    }


@pytest.fixture
def city(db) -> dict[str, Any]:
    return make_city()


@pytest.fixture
def tokens(db) -> dict[str, str]:
    acme = Organisation.objects.create(name="Acme Works", kind=Organisation.Kind.CONTRACTOR)
    return {
        "operator": user_create_or_update(username="op", role=Role.OPERATOR)[1],
        "planner": user_create_or_update(username="pl", role=Role.PLANNER)[1],
        "contractor": user_create_or_update(
            username="co", role=Role.CONTRACTOR, organisation_name=acme.name
        )[1],
    }


def get(path: str, token: str | None = None, **params: Any):
    headers = {"Authorization": f"Token {token}"} if token else {}
    return Client().get(path, params, headers=headers)


def items(collection: str, token: str | None = None, **params: Any) -> dict[str, Any]:
    response = get(f"/ogc/collections/{collection}/items", token, **params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/geo+json"
    return response.json()


def ids(doc: dict[str, Any]) -> list[int]:
    return [f["id"] for f in doc["features"]]


def error(response) -> dict[str, Any]:
    assert response["Content-Type"].startswith("application/json")
    return response.json()["error"]


def link(doc: dict[str, Any], rel: str, type_: str | None = None) -> str:
    [found] = [
        lk["href"] for lk in doc["links"] if lk["rel"] == rel and type_ in (None, lk["type"])
    ]
    return found


# --- landing, conformance, collections -------------------------------------------------------


def test_landing_page_links_conformance_data_and_openapi(db):
    response = get("/ogc/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    doc = response.json()
    assert link(doc, "self").startswith("http://testserver/ogc/")
    assert link(doc, "conformance") == "http://testserver/ogc/conformance"
    assert link(doc, "data") == "http://testserver/ogc/collections"
    yaml = link(doc, "service-desc", "application/vnd.oai.openapi")
    assert yaml == "http://testserver/api/schema/"
    assert get("/api/schema/").status_code == 200
    # The same document as JSON, typed with the version=3.0 GDAL's OAPIF driver insists on.
    oas = link(doc, "service-desc", "application/vnd.oai.openapi+json;version=3.0")
    response = Client().get(urlsplit(oas).path, headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.0")
    assert "/ogc/collections/{collection_id}/items" in response.json()["paths"]


def test_conformance_declares_part1_part3_and_cql2_text():
    conforms = set(get("/ogc/conformance").json()["conformsTo"])
    for cls in ("core", "geojson", "html", "oas30"):
        assert PART1 + cls in conforms
    for cls in ("filter", "features-filter", "queryables"):
        assert PART3 + cls in conforms
    assert {CQL2 + "cql2-text", CQL2 + "basic-cql2"} <= conforms


def test_public_collections_are_the_public_layers(city):
    names = [c["id"] for c in get("/ogc/collections").json()["collections"]]
    assert names == [s.name for s in registry.LAYERS.values() if s.is_public]
    assert not {"networks", "manholes", "cameras"} & set(names)


@pytest.mark.parametrize("role", ["operator", "planner"])
def test_staff_collections_are_every_layer(city, tokens, role):
    names = [c["id"] for c in get("/ogc/collections", tokens[role]).json()["collections"]]
    assert names == list(registry.LAYERS)


def test_contractor_collections_are_the_public_layers(city, tokens):
    names = [c["id"] for c in get("/ogc/collections", tokens["contractor"]).json()["collections"]]
    assert "networks" not in names and "buildings" in names


def test_collection_extent_comes_from_the_data(city):
    doc = get("/ogc/collections/buildings").json()
    assert doc["id"] == "buildings"
    assert doc["itemType"] == "feature"
    assert doc["crs"] == ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]
    [[west, south, east, north]] = doc["extent"]["spatial"]["bbox"]
    assert west == pytest.approx(CITY_LON) and south == pytest.approx(CITY_LAT)
    assert east == pytest.approx(FAR_LON, abs=2e-4) and north == pytest.approx(FAR_LAT, abs=2e-4)
    assert "temporal" not in doc["extent"]  # buildings have no datetime field
    assert {"items", "http://www.opengis.net/def/rel/ogc/1.0/queryables"} <= {
        lk["rel"] for lk in doc["links"]
    }
    assert link(doc, "items", "application/geo+json").startswith(
        "http://testserver/ogc/collections/buildings/items"
    )


def test_yards_extent_has_the_repair_dates_as_interval(city):
    temporal = get("/ogc/collections/yards").json()["extent"]["temporal"]
    assert temporal["interval"] == [["2019-06-01T00:00:00Z", "2021-03-15T23:59:59Z"]]


def test_restricted_collection_is_401_without_token_403_for_contractor(city, tokens):
    for path in ("/ogc/collections/networks", "/ogc/collections/networks/items"):
        assert error(get(path))["code"] == "not_authenticated"
        assert get(path).status_code == 401
        assert get(path, tokens["contractor"]).status_code == 403
        assert get(path, tokens["operator"]).status_code == 200
    assert get("/ogc/collections", "not-a-token").status_code == 401


def test_operator_reads_networks_with_owner_name(city, tokens):
    doc = items("networks", tokens["operator"])
    [pipe] = doc["features"]
    assert pipe["properties"]["owner"] == "Water service"
    assert pipe["properties"]["diameter_mm"] == 300
    assert pipe["geometry"]["type"] == "LineString"


def test_unknown_collection_is_404(db):
    response = get("/ogc/collections/nope/items")
    assert response.status_code == 404
    assert error(response)["code"] == "not_found"


# --- queryables ------------------------------------------------------------------------------


def test_queryables_are_a_json_schema_with_types(city):
    response = get("/ogc/collections/yards/queryables")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/schema+json"
    schema = response.json()
    assert schema["type"] == "object"
    props = schema["properties"]
    assert props["last_repaired_on"]["type"] == "string"
    assert props["last_repaired_on"]["format"] == "date"
    assert props["area_m2"]["type"] == "number"
    assert props["geometry"]["format"] == "geometry-polygon"
    assert "good" in props["condition"]["enum"]
    assert "search_key" not in props and "source_id" not in props
    flats = get("/ogc/collections/buildings/queryables").json()["properties"]["flats"]
    assert flats["type"] == "integer"


@pytest.fixture
def staff_only_year_built(monkeypatch):
    """Buildings' year_built made a staff-only property, as the registry allows."""
    spec = registry.LAYERS["buildings"]
    narrowed = dataclasses.replace(
        spec,
        properties=tuple(p for p in spec.properties if p != "year_built"),
        staff_properties=("year_built",),
    )
    monkeypatch.setitem(registry.LAYERS, "buildings", narrowed)


def test_staff_only_property_is_neither_queryable_nor_shown_to_the_public(
    city, tokens, staff_only_year_built
):
    Building.objects.filter(pk=city["main1"].pk).update(year_built=1901)
    public = get("/ogc/collections/buildings/queryables").json()["properties"]
    assert "year_built" not in public
    staff = get("/ogc/collections/buildings/queryables", tokens["operator"]).json()["properties"]
    assert staff["year_built"]["type"] == "integer"
    assert all("year_built" not in f["properties"] for f in items("buildings")["features"])

    response = get("/ogc/collections/buildings/items", filter="year_built = 1901")
    assert response.status_code == 400
    assert "year_built" in error(response)["message"]
    assert get("/ogc/collections/buildings/items", sortby="year_built").status_code == 400
    assert get("/ogc/collections/buildings/items", properties="year_built").status_code == 400
    assert ids(items("buildings", tokens["operator"], filter="year_built = 1901")) == [
        city["main1"].pk
    ]


def test_feature_schema_types_the_properties_for_clients(city):
    doc = get("/ogc/collections/buildings").json()
    href = link(doc, "describedby", "application/schema+json")
    response = Client().get(urlsplit(href).path)
    assert response["Content-Type"] == "application/schema+json"
    props = response.json()["properties"]["properties"]["properties"]
    assert props["flats"]["type"] == "integer"
    assert props["height_m"]["type"] == "number"
    assert props["layer"]["enum"] == ["buildings"]
    assert "search_key" not in props


@pytest.mark.parametrize("name", list(registry.LAYERS))
def test_every_registered_layer_answers_for_staff(db, tokens, name):
    for path in ("", "/queryables", "/feature-schema", "/items"):
        for f in ("json", "html"):
            response = get(f"/ogc/collections/{name}{path}", tokens["operator"], f=f)
            assert response.status_code == 200, (path, f, response.content[:300])
    assert items(name, tokens["operator"])["numberMatched"] == 0


def test_appeals_staff_properties_are_not_queryable_by_the_public(db, tokens):
    public = get("/ogc/collections/appeals/queryables").json()["properties"]
    staff = get("/ogc/collections/appeals/queryables", tokens["operator"]).json()["properties"]
    assert "address" not in public and "address" in staff
    assert "resident_name" not in staff  # never on a map, not even for staff
    response = get("/ogc/collections/appeals/items", filter="address LIKE '%Main%'")
    assert response.status_code == 400
    assert error(response)["parameter"] == "filter"
    assert items("appeals", tokens["operator"], filter="address LIKE '%Main%'")["features"] == []


# --- items: paging, bbox, properties, sortby, datetime ---------------------------------------


def test_items_are_a_feature_collection_with_counts(city):
    doc = items("buildings")
    assert doc["type"] == "FeatureCollection"
    assert doc["numberMatched"] == 5
    assert doc["numberReturned"] == 5
    assert dt.datetime.fromisoformat(doc["timeStamp"]).tzinfo is not None
    feature = doc["features"][0]
    assert feature["id"] == city["main1"].pk
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert feature["properties"]["street"] == "Main Street"
    assert "search_key" not in feature["properties"]


def test_limit_offset_and_next_prev_links_walk_every_feature(city):
    first = items("buildings", limit=2)
    assert first["numberMatched"] == 5 and first["numberReturned"] == 2
    assert "prev" not in {lk["rel"] for lk in first["links"]}
    seen, doc = ids(first), first
    while any(lk["rel"] == "next" for lk in doc["links"]):
        href = link(doc, "next", "application/geo+json")
        query = parse_qs(urlsplit(href).query)
        assert query["limit"] == ["2"]
        response = Client().get(href.removeprefix("http://testserver"))
        doc = response.json()
        seen += ids(doc)
    assert seen == sorted(b.pk for b in Building.objects.all())
    assert doc["numberReturned"] == 1
    assert parse_qs(urlsplit(link(doc, "prev", "application/geo+json")).query)["offset"] == ["2"]


def test_offset_past_the_end_is_an_empty_page(city):
    doc = items("buildings", offset=10**30)
    assert doc["numberMatched"] == 5 and doc["features"] == []


def test_limit_above_the_maximum_is_capped_not_refused(city):
    doc = items("buildings", limit=1_000_000_000)
    assert doc["numberReturned"] == 5
    assert parse_qs(urlsplit(link(doc, "self", "application/geo+json")).query)["limit"] == ["1000"]


def test_bbox_selects_the_features_inside(city):
    near = items("buildings", bbox=f"{CITY_LON - 0.001},{CITY_LAT - 0.001},-76.5685,39.2815")
    assert set(ids(near)) == {city[k].pk for k in ("main1", "main3", "maine", "oak")}
    far = items("buildings", bbox="-76.531,39.299,-76.529,39.301")
    assert ids(far) == [city["far"].pk]


def test_bbox_bigger_than_the_world_is_fine_and_limit_still_caps(city):
    doc = items("buildings", bbox="-1000,-1000,1000,1000", limit=3)
    assert doc["numberMatched"] == 5 and doc["numberReturned"] == 3


def test_properties_selects_among_the_allowed(city):
    doc = items("buildings", properties="street,flats", limit=1)
    assert doc["features"][0]["properties"] == {
        "layer": "buildings",
        "street": "Main Street",
        "flats": 20,
    }
    response = get("/ogc/collections/buildings/items", properties="street,search_key")
    assert response.status_code == 400
    assert error(response)["parameter"] == "properties"


def test_sortby_descending_ascending_and_unknown(city):
    doc = items("buildings", sortby="-flats")
    assert [f["properties"]["flats"] for f in doc["features"]] == [40, 20, 12, 5, None]
    doc = items("buildings", sortby="street,-flats", properties="street,housenumber")
    assert [f["properties"]["housenumber"] for f in doc["features"]] == ["99", "1", "3", "7", "2"]
    assert items("buildings", sortby="+flats")["features"][0]["properties"]["flats"] == 5
    response = get("/ogc/collections/buildings/items", sortby="source_id")
    assert response.status_code == 400
    assert error(response)["parameter"] == "sortby"


def test_datetime_instant_interval_and_open_intervals(city):
    y2019, y2021, _ = (y.pk for y in city["yards"].values())
    assert ids(items("yards", datetime="2019-06-01")) == [y2019]
    assert ids(items("yards", datetime="2019-06-01T12:30:00Z")) == [y2019]
    assert ids(items("yards", datetime="2019-01-01/2020-12-31")) == [y2019]
    assert ids(items("yards", datetime="2019-06-01T10:00:00Z/2021-03-15T00:00:00Z")) == [
        y2019,
        y2021,
    ]
    assert ids(items("yards", datetime="../2020-01-01")) == [y2019]
    assert ids(items("yards", datetime="2020-01-01/..")) == [y2021]
    assert ids(items("yards", datetime="2022-01-01")) == []


@pytest.mark.parametrize(
    "value",
    ["garbage", "2021-13-01", "2021", "2021-01-01/garbage", "../..", "2022-01-01/2021-01-01"],
)
def test_malformed_datetime_is_400(city, value):
    response = get("/ogc/collections/yards/items", datetime=value)
    assert response.status_code == 400
    assert error(response)["parameter"] == "datetime"


def test_datetime_on_a_timestamp_field_covers_whole_days(city, monkeypatch):
    spec = dataclasses.replace(registry.LAYERS["yards"], datetime_field="created_at")
    monkeypatch.setitem(registry.LAYERS, "yards", spec)
    y2019, y2021, never = city["yards"].values()
    Yard.objects.filter(pk=y2019.pk).update(
        created_at=dt.datetime(2024, 5, 1, 23, 30, tzinfo=dt.UTC)
    )
    Yard.objects.filter(pk=y2021.pk).update(
        created_at=dt.datetime(2024, 5, 2, 0, 30, tzinfo=dt.UTC)
    )
    Yard.objects.filter(pk=never.pk).update(created_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    assert ids(items("yards", datetime="2024-05-01")) == [y2019.pk]
    assert ids(items("yards", datetime="2024-05-02T00:30:00Z")) == [y2021.pk]
    assert ids(items("yards", datetime="2024-05-01/2024-05-02")) == [y2019.pk, y2021.pk]
    assert ids(items("yards", datetime="2024-05-02T00:00:00+02:00/..")) == [
        y2019.pk,
        y2021.pk,
        never.pk,
    ]
    assert ids(items("yards", datetime="../2024-05-01T23:00:00Z")) == []
    temporal = get("/ogc/collections/yards").json()["extent"]["temporal"]
    assert temporal["interval"] == [["2024-05-01T23:30:00Z", "2025-01-01T00:00:00Z"]]


def test_datetime_on_a_layer_without_dates_is_400(city):
    response = get("/ogc/collections/buildings/items", datetime="2021-01-01")
    assert response.status_code == 400
    assert "no datetime" in error(response)["message"]


# --- CQL2 ------------------------------------------------------------------------------------


def test_cql2_comparison_and_like(city):
    doc = items("buildings", filter="flats > 10 AND street LIKE 'Main%'")
    assert set(ids(doc)) == {city[k].pk for k in ("main1", "maine", "far")}  # Maine Avenue too
    doc = items("buildings", filter="flats > 10 AND street LIKE 'Main %'")
    assert set(ids(doc)) == {city["main1"].pk, city["far"].pk}
    assert doc["numberMatched"] == 2
    assert ids(items("buildings", filter="street LIKE 'Main_ Avenue'")) == [city["maine"].pk]
    assert set(ids(items("buildings", filter="street LIKE 'Main_Street'"))) == {
        city[k].pk for k in ("main1", "main3", "far")
    }
    assert ids(items("buildings", filter="street LIKE 'Mai_'")) == []


@pytest.mark.parametrize("pattern", ["5", "flats", "CASEI('main%')"])
def test_cql2_like_takes_only_a_text_pattern(city, pattern):
    response = get("/ogc/collections/buildings/items", filter=f"street LIKE {pattern}")
    assert response.status_code == 400
    assert error(response)["message"] == "LIKE needs a text pattern on its right."


def test_cql2_in_between_null_not_and_property_property(city):
    assert set(ids(items("buildings", filter="flats IN (5, 40)"))) == {
        city["main3"].pk,
        city["far"].pk,
    }
    assert set(ids(items("buildings", filter="flats BETWEEN 10 AND 20"))) == {
        city["main1"].pk,
        city["maine"].pk,
    }
    assert ids(items("buildings", filter="flats IS NULL")) == [city["oak"].pk]
    assert ids(items("buildings", filter="NOT (street LIKE 'Ma%') AND flats IS NULL")) == [
        city["oak"].pk
    ]
    assert ids(items("buildings", filter="floors > flats")) == [city["maine"].pk]


def test_cql2_dates_compare_on_date_fields(city):
    y2019, y2021, _ = (y.pk for y in city["yards"].values())
    assert ids(items("yards", filter="last_repaired_on > DATE('2020-01-01')")) == [y2021]
    assert ids(items("yards", filter="last_repaired_on < TIMESTAMP('2020-01-01T00:00:00Z')")) == [
        y2019
    ]


def test_cql2_s_intersects_polygon_and_bbox(city):
    w, s = CITY_LON - 0.0001, CITY_LAT - 0.0001
    e, n = CITY_LON + 0.0004, CITY_LAT + 0.0001
    polygon = f"POLYGON(({w} {s},{e} {s},{e} {n},{w} {n},{w} {s}))"
    doc = items("buildings", filter=f"S_INTERSECTS(geometry, {polygon})")
    assert set(ids(doc)) == {city["main1"].pk, city["main3"].pk}
    doc = items("buildings", filter=f"S_INTERSECTS(geometry, BBOX({w}, {s}, {e}, {n}))")
    assert set(ids(doc)) == {city["main1"].pk, city["main3"].pk}
    point = f"POINT({FAR_LON + 0.00001} {FAR_LAT + 0.00001})"
    assert ids(items("buildings", filter=f"S_INTERSECTS(geometry, {point})")) == [city["far"].pk]
    e, n = CITY_LON + 0.0005, CITY_LAT + 0.0002
    wider = f"POLYGON(({w} {s},{e} {s},{e} {n},{w} {n},{w} {s}))"
    doc = items("buildings", filter=f"S_WITHIN(geometry, {wider}) AND flats < 10")
    assert ids(doc) == [city["main3"].pk]
    inside = f"POINT({CITY_LON + 0.00005} {CITY_LAT + 0.00005})"
    assert ids(items("buildings", filter=f"S_CONTAINS(geometry, {inside})")) == [city["main1"].pk]
    disjoint = items("buildings", filter=f"S_DISJOINT(geometry, {polygon})")
    assert set(ids(disjoint)) == {city[k].pk for k in ("maine", "oak", "far")}
    x = CITY_LON + 0.00035  # through main3's outline, north to south
    across = f"LINESTRING({x} {CITY_LAT - 0.001}, {x} {CITY_LAT + 0.001})"
    assert ids(items("buildings", filter=f"S_CROSSES(geometry, {across})")) == [city["main3"].pk]


def test_filter_combines_with_bbox_and_paging(city):
    doc = items(
        "buildings",
        filter="street = 'Main Street'",
        bbox=f"{CITY_LON - 0.001},{CITY_LAT - 0.001},{CITY_LON + 0.001},{CITY_LAT + 0.001}",
        limit=1,
    )
    assert doc["numberMatched"] == 2 and ids(doc) == [city["main1"].pk]
    nxt = parse_qs(urlsplit(link(doc, "next", "application/geo+json")).query)
    assert nxt["filter"] == ["street = 'Main Street'"] and nxt["offset"] == ["1"]


# --- hostile and malformed input -------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"filter": "1=1; DROP TABLE layers_building"}, "filter"),
        ({"filter": "flats > 10; DROP TABLE layers_building; --"}, "filter"),
        ({"filter": "search_key LIKE '%'"}, "filter"),
        ({"filter": "source_id = 'x'"}, "filter"),
        ({"filter": '"flats" > 1) OR (1=1'}, "filter"),
        ({"filter": "flats > 'abc'"}, "filter"),
        ({"filter": "street = 'a\x00b'"}, "filter"),
        ({"filter": "flats > DATE('2021-13-01')"}, "filter"),
        ({"filter": "street > 5"}, "filter"),
        ({"filter": "geometry = 'x'"}, "filter"),
        ({"filter": "flats = geometry"}, "filter"),
        ({"filter": "lower(street) = 'x'"}, "filter"),
        ({"filter": "S_INTERSECTS(street, POINT(0 0))"}, "filter"),
        ({"filter": "S_INTERSECTS(geometry, POLYGON((0 0, 1 1)))"}, "filter"),
        ({"filter": "flats > 1", "filter-lang": "cql2-json"}, "filter-lang"),
        ({"filter": "flats > 1", "filter-crs": "EPSG:3857"}, "filter-crs"),
        ({"bbox": "abc"}, "bbox"),
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "1,2,3,4,5"}, "bbox"),
        ({"bbox": "nan,0,1,1"}, "bbox"),
        ({"bbox": "0,10,1,5"}, "bbox"),
        ({"limit": "0"}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"f": "xml"}, "f"),
    ],
)
def test_hostile_item_queries_are_400_and_change_nothing(city, params, parameter):
    response = get("/ogc/collections/buildings/items", **params)
    assert response.status_code == 400, response.content
    assert error(response)["parameter"] == parameter
    assert Building.objects.count() == 5


def test_quoted_injection_is_just_a_string(city):
    doc = items("buildings", filter="street = 'x); DROP TABLE layers_building; --'")
    assert doc["numberMatched"] == 0
    assert Building.objects.count() == 5


def test_unknown_or_repeated_query_parameter_is_400(city):
    response = get("/ogc/collections/buildings/items", colour="red")
    assert response.status_code == 400
    assert "colour" in error(response)["message"]
    assert Client().get("/ogc/collections/buildings/items?limit=1&limit=2").status_code == 400


def test_item_by_id_and_absent_ids_are_404(city):
    response = get(f"/ogc/collections/buildings/items/{city['oak'].pk}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    doc = response.json()
    assert doc["type"] == "Feature" and doc["properties"]["street"] == "Oak Lane"
    assert link(doc, "collection") == "http://testserver/ogc/collections/buildings"
    for fid in ("999999999", "abc", "1;DROP TABLE layers_building", str(2**70)):
        response = get(f"/ogc/collections/buildings/items/{fid}")
        assert response.status_code == 404
        assert error(response)["code"] == "not_found"
    # An id of another collection is not a building.
    assert get(f"/ogc/collections/buildings/items/{city['pipe'].pk + 10_000}").status_code == 404


def test_landing_without_slash_redirects(db):
    response = Client().get("/ogc")
    assert response.status_code == 301 and response["Location"] == "/ogc/"


def test_malformed_ogc_path_is_json_404(db):
    response = get("/ogc/collections/buildings/items/1/extra")
    assert response.status_code == 404
    assert error(response)["code"] == "not_found"


def permit(number: str, contractor: Organisation) -> Permit:
    return Permit.objects.create(
        number=number,
        contractor=contractor,
        responsible_person="R. Person",
        purpose="Water main repair",
        geom=rectangle(20, 20),
        issued_on=dt.date(2024, 5, 1),
        planned_start=dt.date(2024, 5, 2),
        deadline=dt.date(2024, 6, 1),
    )


def test_contractor_sees_only_its_own_permits(city, tokens):
    own = permit("P-1", Organisation.objects.get(name="Acme Works"))
    other = permit("P-2", city["water"])
    assert ids(items("permits", tokens["contractor"])) == [own.pk]
    mine = get(f"/ogc/collections/permits/items/{own.pk}", tokens["contractor"])
    assert mine.status_code == 200
    assert "responsible_person" not in mine.json()["properties"]  # staff only
    theirs = get(f"/ogc/collections/permits/items/{other.pk}", tokens["contractor"])
    assert theirs.status_code == 404
    assert get(f"/ogc/collections/permits/items/{own.pk}").status_code == 401
    staff = items("permits", tokens["operator"], sortby="id")
    assert ids(staff) == [own.pk, other.pk]
    assert staff["features"][0]["properties"]["responsible_person"] == "R. Person"
    [[west, *_]] = get("/ogc/collections/permits", tokens["contractor"]).json()["extent"][
        "spatial"
    ]["bbox"]
    assert west == pytest.approx(CITY_LON)


# --- HTML and OpenAPI ------------------------------------------------------------------------


def test_html_by_f_and_by_accept(city):
    page = get("/ogc/collections", f="html")
    assert page["Content-Type"].startswith("text/html")
    assert b"buildings" in page.content and b"networks" not in page.content
    browser = Client().get(
        "/ogc/collections/buildings/items",
        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
    )
    assert browser["Content-Type"].startswith("text/html")
    assert b"Main Street" in browser.content
    assert b"<script" not in browser.content and b"https://" not in browser.content
    item = get(f"/ogc/collections/buildings/items/{city['main1'].pk}", f="html")
    assert b"Main Street" in item.content
    assert "Accept" in item["Vary"]
    geojson = Client().get(
        "/ogc/collections/buildings/items", headers={"Accept": "application/geo+json"}
    )
    assert geojson["Content-Type"] == "application/geo+json"


def test_html_pages_render(city):
    for path in ("/ogc/", "/ogc/conformance", "/ogc/collections/yards"):
        assert get(path, f="html")["Content-Type"].startswith("text/html")
    assert get("/ogc/collections/yards/queryables", f="html").status_code == 200


def test_openapi_describes_the_ogc_paths_and_their_parameters(db):
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    items_get = paths["/ogc/collections/{collection_id}/items"]["get"]
    params = {p["name"]: p for p in items_get["parameters"]}
    assert {"bbox", "limit", "offset", "datetime", "filter", "filter-lang", "sortby"} <= set(params)
    assert params["limit"]["schema"]["default"] == 10
    assert "application/geo+json" in items_get["responses"]["200"]["content"]
    assert "/ogc/collections/{collection_id}/items/{feature_id}" in paths


# --- a real client: GDAL's OAPIF driver against the real ASGI app ----------------------------


@pytest.fixture(scope="module")
def live_server_url() -> Iterator[str]:
    """gis.asgi.application under uvicorn on a free loopback port, in a thread."""
    with pytest.MonkeyPatch.context() as patch:
        # Django runs each ASGI request's sync code in a thread of its own: a connection kept
        # for reuse would outlive its thread and keep the test database from being dropped.
        patch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
        with live_server() as url:
            yield url


@pytest.fixture
def committed_city(transactional_db) -> dict[str, Any]:
    return make_city()


def ogrinfo(*args: str) -> str:
    if not os.path.exists(OGRINFO):
        pytest.skip("ogrinfo (gdal-bin) is not installed")
    env = {**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    done = subprocess.run(
        [OGRINFO, *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "ERROR" not in done.stderr, done.stderr
    return done.stdout


def values(out: str, field: str) -> list[str]:
    """The sorted values of a field in ogrinfo's feature dump (``  street (String) = Main…``)."""
    return sorted(
        line.split("=", 1)[1].strip()
        for line in out.splitlines()
        if line.strip().startswith(f"{field} (")
    )


def test_gdal_lists_the_public_collections(live_server_url, committed_city):
    out = ogrinfo("-ro", "-al", "-so", f"OAPIF:{live_server_url}/ogc")
    layers = [line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("Layer name:")]
    assert layers == [s.name for s in registry.LAYERS.values() if s.is_public]
    buildings = out.split("Layer name: buildings", 1)[1].split("Layer name:", 1)[0]
    assert "Feature Count: 5" in buildings
    assert "flats: Integer" in buildings
    assert "street: String" in buildings
    # Typed by the describedBy schema, not guessed from values: every height here is null.
    assert "height_m: Real" in buildings


def test_gdal_reads_the_features_inside_a_bbox(live_server_url, committed_city):
    w, s, e, n = CITY_LON - 0.001, CITY_LAT - 0.001, CITY_LON + 0.001, CITY_LAT + 0.001
    out = ogrinfo(
        "-ro", f"OAPIF:{live_server_url}/ogc", "buildings", "-spat", *map(str, (w, s, e, n))
    )
    streets = sorted(
        line.split("=", 1)[1].strip() for line in out.splitlines() if "street (" in line
    )
    assert streets == ["Main Street", "Main Street", "Maine Avenue", "Oak Lane"]
    assert "Main Street" in out and "99" not in [
        line.split("=", 1)[1].strip() for line in out.splitlines() if "housenumber (" in line
    ]


def test_gdal_where_returns_the_right_features(live_server_url, committed_city):
    out = ogrinfo("-ro", f"OAPIF:{live_server_url}/ogc", "buildings", "-where", "flats > 10")
    assert values(out, "flats") == ["12", "20", "40"]
    assert values(out, "street") == ["Main Street", "Main Street", "Maine Avenue"]


def test_gdal_cannot_see_networks_without_a_token(live_server_url, committed_city):
    out = ogrinfo("-ro", "-so", f"OAPIF:{live_server_url}/ogc")
    assert "networks" not in out and "buildings" in out
