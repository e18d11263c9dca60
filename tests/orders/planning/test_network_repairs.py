"""Planned network repairs: the API (staff), the line copied from the segment, the admin."""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import LineString

from gis.roles import Role
from layers.models import NetworkKind, NetworkSegment, Organisation
from orders.planning.models import NetworkRepair
from tests.factories import CITY_LAT, CITY_LON


@pytest.fixture
def segment(db) -> NetworkSegment:
    water = Organisation.objects.create(name="Water service", kind=Organisation.Kind.SERVICE)
    return NetworkSegment.objects.create(
        source="test",
        source_id="s1",
        kind=NetworkKind.WATER,
        owner=water,
        geom=LineString((CITY_LON, CITY_LAT), (CITY_LON + 0.001, CITY_LAT), srid=4326),
    )


def payload(seg: NetworkSegment, **fields) -> dict:
    return {
        "segment": seg.pk,
        "organisation": seg.owner_id,
        "planned_start": "2025-06-01",
        "planned_end": "2025-06-20",
        "note": "Replace the main",
        **fields,
    }


def test_a_planner_plans_a_repair_drawn_on_the_segment(segment, client_for):
    planner = client_for(Role.PLANNER)
    response = planner.post("/api/networks/repairs", payload(segment), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["geometry"]["type"] == "LineString"
    assert body["properties"]["status"] == "planned"
    assert body["properties"]["organisation_name"] == "Water service"
    repair = NetworkRepair.objects.get()
    assert repair.geom.equals(segment.geom)
    assert repair.created_by is not None

    listed = client_for(Role.OPERATOR).get("/api/networks/repairs", {"date": "2025-06-10"})
    assert [f["id"] for f in listed.json()["features"]] == [repair.pk]
    assert (
        client_for(Role.OPERATOR)
        .get("/api/networks/repairs", {"date": "2025-07-01"})
        .json()["features"]
        == []
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"planned_end": "2025-05-01"},
        {"planned_start": "not a date"},
        {"status": "exploded"},
        {"segment": 999_999},
    ],
)
def test_bad_repairs_are_400(segment, client_for, fields):
    response = client_for(Role.PLANNER).post(
        "/api/networks/repairs", payload(segment, **fields), format="json"
    )
    assert response.status_code == 400
    assert NetworkRepair.objects.count() == 0


def test_only_staff_see_and_plan_repairs(segment, client_for):
    assert client_for(None).get("/api/networks/repairs").status_code == 401
    contractor = client_for(Role.CONTRACTOR)
    assert contractor.get("/api/networks/repairs").status_code == 403
    response = contractor.post("/api/networks/repairs", payload(segment), format="json")
    assert response.status_code == 403


def test_the_admin_copies_the_segment_line_on_save(segment, admin_client):
    response = admin_client.post(
        "/admin/planning/networkrepair/add/",
        {
            "segment": segment.pk,
            "organisation": segment.owner_id,
            "planned_start": "2025-06-01",
            "planned_end": "2025-06-02",
            "status": "planned",
            "note": "",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert NetworkRepair.objects.get().geom.equals(segment.geom)
