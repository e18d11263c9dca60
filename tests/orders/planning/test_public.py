"""The public plan: /yards/plan/YEAR page, CSV and GeoJSON, and the yard_plan tile layer."""

from __future__ import annotations

import csv
import io
import json
import re

import mapbox_vector_tile
import pytest
from django.test import Client
from rest_framework.test import APIClient

from gis.roles import PUBLIC
from gis.spatial import TileAddress, tile_range
from layers.registry import LAYERS
from tiles.selectors import tile_render, tileset_for

pytestmark = pytest.mark.django_db

YEAR = 2027


@pytest.fixture
def published(planner: APIClient, yards: dict) -> dict:
    """Version 1 (3 yards), superseded by version 2 (2 yards: Y1, Y2), one in progress."""
    for count in (3, 2):
        response = planner.post(
            "/api/yards/plans", {"year": YEAR, "count": count, "exclude": "none"}, format="json"
        )
        assert response.status_code == 201
    plan = response.json()
    item = plan["items"][1]
    planner.patch(
        f"/api/yards/plans/{plan['id']}/items/{item['id']}",
        {"status": "in_progress"},
        format="json",
    )
    return plan


def test_the_csv_lists_the_plan_of_record(published: dict, yards: dict) -> None:
    response = Client().get(f"/yards/plan/{YEAR}.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="yard-plan-{YEAR}.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert list(rows[0]) == ["rank", "address", "area_m2", "planned_month", "status", "source"]
    assert [(r["rank"], r["address"], r["status"]) for r in rows] == [
        ("1", "Y1 Test Street", "planned"),
        ("2", "Y2 Test Street", "in_progress"),
    ]
    assert float(rows[0]["area_m2"]) == pytest.approx(10_000, rel=2e-3)
    assert rows[0]["planned_month"] == f"{YEAR}-05"
    assert rows[0]["source"] == "test"


def test_the_geojson_has_each_yards_outline_as_planned(published: dict, yards: dict) -> None:
    response = Client().get(f"/yards/plan/{YEAR}.geojson")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    body = json.loads(response.content)
    assert body["type"] == "FeatureCollection"
    assert body["attribution"] == "© OpenStreetMap contributors"
    assert body["plan"]["version"] == 2
    assert [f["properties"]["rank"] for f in body["features"]] == [1, 2]
    first = body["features"][0]
    assert first["geometry"]["type"] == "Polygon"
    assert first["geometry"]["coordinates"] == json.loads(yards["Y1"].geom.geojson)["coordinates"]
    assert set(first["properties"]) == {
        "rank",
        "address",
        "area_m2",
        "planned_month",
        "status",
        "source",
        "year",
    }


def test_the_page_is_a_plain_table_with_the_attribution(published: dict) -> None:
    response = Client().get(f"/yards/plan/{YEAR}")
    assert response.status_code == 200
    html = response.content.decode()
    assert "© OpenStreetMap contributors" in html
    assert re.findall(r'<tr data-rank="(\d+)">', html) == ["1", "2"]
    assert "Y1 Test Street" in html and "Y2 Test Street" in html
    assert f"May {YEAR}" in html and "In progress" in html
    assert "version 2" in html
    assert f'href="/yards/plan/{YEAR}.csv"' in html
    # No external assets: every src and href is ours.
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', html)
    assert response["Cache-Control"] == "public, max-age=60"


def test_a_year_without_a_plan_is_a_404(published: dict) -> None:
    client = Client()
    response = client.get(f"/yards/plan/{YEAR + 5}")
    assert response.status_code == 404
    assert f"No yard repair plan is published for {YEAR + 5}" in response.content.decode()
    assert f'href="/yards/plan/{YEAR}"' in response.content.decode()
    response = client.get(f"/yards/plan/{YEAR + 5}.csv")
    assert response.status_code == 404 and response.json()["error"]["years"] == [YEAR]
    assert client.get(f"/yards/plan/{YEAR + 5}.geojson").status_code == 404
    assert client.get("/yards/plan/abc").status_code == 404


def test_the_yard_plan_tiles_show_the_plan_of_record_only(published: dict, yards: dict) -> None:
    spec = LAYERS["yard_plan"]
    assert spec.is_public
    tileset = tileset_for(names="yard_plan", viewer=PUBLIC)
    west, south, east, north = yards["Y1"].geom.extent[:2] + yards["Y4"].geom.extent[2:]
    x0, y0, x1, y1 = tile_range((west, south, east, north), 14)
    features = {}
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            body = tile_render(tileset=tileset, tile=TileAddress(14, x, y))
            if body:
                for f in mapbox_vector_tile.decode(body)["yard_plan"]["features"]:
                    features[f["id"]] = f["properties"]
    # Version 1 had 3 yards, version 2 has 2: only version 2's are drawn.
    assert sorted(p["rank"] for p in features.values()) == [1, 2]
    assert {p["status"] for p in features.values()} == {"planned", "in_progress"}
    allowed = {"address", "rank", "status", "planned_month", "year", "source"}
    assert all(set(p) <= allowed for p in features.values())
    assert all(p["year"] == YEAR for p in features.values())


def test_the_catalog_lists_yard_plan_for_everyone_and_incidents_for_staff(
    operator: APIClient,
) -> None:
    public = {layer["id"] for layer in Client().get("/tiles/").json()["layers"]}
    staff = {layer["id"] for layer in operator.get("/tiles/").json()["layers"]}
    assert "yard_plan" in public and "incidents" not in public
    assert {"yard_plan", "incidents"} <= staff


def test_a_plan_items_card_is_public_and_superseded_items_are_gone(
    planner: APIClient, yards: dict
) -> None:
    body = {"year": YEAR, "count": 1, "exclude": "none"}
    first = planner.post("/api/yards/plans", body, format="json").json()
    old_id = first["items"][0]["id"]
    card = Client().get(f"/api/objects/yard_plan/{old_id}")
    assert card.status_code == 200
    assert card.json()["feature"]["properties"]["rank"] == 1
    second = planner.post("/api/yards/plans", body, format="json").json()
    assert Client().get(f"/api/objects/yard_plan/{old_id}").status_code == 404
    assert Client().get(f"/api/objects/yard_plan/{second['items'][0]['id']}").status_code == 200
