"""The permit detail names the district its work area lies in (layers.selectors.with_district)."""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon

from layers.models import District
from tests.factories import CITY_LAT, CITY_LON, rectangle


def box(west: float, east: float) -> MultiPolygon:
    south, north = CITY_LAT - 0.01, CITY_LAT + 0.01
    ring = ((west, south), (east, south), (east, north), (west, north), (west, south))
    return MultiPolygon(Polygon(ring), srid=4326)


@pytest.fixture
def districts(db) -> dict[str, District]:
    """Two hand-made districts side by side; their border 15 m east of the city point."""
    border = CITY_LON + 0.00017
    return {
        "west": District.objects.create(
            source="t",
            source_id="w",
            name="Алмалинский район",
            geom=box(border - 0.02, border),
        ),
        "east": District.objects.create(
            source="t",
            source_id="e",
            name="East",
            geom=box(border, border + 0.02),
        ),
    }


def test_permit_detail_names_the_district_of_its_work_area(
    client, auth, make_permit, districts
) -> None:
    west = make_permit()  # site 0: 12 m wide from the city point, west of the border
    east = make_permit()  # site 1: 50 m east

    body = client.get(f"/api/permits/{west.pk}", **auth("operator")).json()
    assert body["properties"]["district"] == {
        "id": districts["west"].pk,
        "name": "Алмалинский район",
    }
    body = client.get(f"/api/permits/{east.pk}", **auth("acme")).json()
    assert body["properties"]["district"] == {"id": districts["east"].pk, "name": "East"}


def test_a_permit_straddling_the_border_belongs_where_most_of_it_lies(
    client, auth, make_permit, districts
) -> None:
    # 30 m wide from 5 m west of the border: a point on its surface lies east.
    area = rectangle(30, 8, lon=CITY_LON + 0.00011, lat=CITY_LAT)
    permit = make_permit(geom=area)
    body = client.get(f"/api/permits/{permit.pk}", **auth("operator")).json()
    assert body["properties"]["district"]["name"] == "East"


def test_a_permit_outside_every_district_has_none(client, auth, make_permit, db) -> None:
    permit = make_permit()
    body = client.get(f"/api/permits/{permit.pk}", **auth("operator")).json()
    assert body["properties"]["district"] is None


def test_actions_answer_with_the_district_too(client, auth, make_permit, districts) -> None:
    permit = make_permit(started=False)
    response = client.post(
        f"/api/permits/{permit.pk}/start", {}, content_type="application/json", **auth("acme")
    )
    assert response.status_code == 200, response.content
    assert response.json()["properties"]["district"]["id"] == districts["west"].pk
