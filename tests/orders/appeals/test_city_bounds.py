"""An appeal far from the city is a typo in the coordinates: a clear 400, never a row."""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import MultiPolygon

from layers.models import District
from orders.appeals.models import Appeal
from orders.appeals.services.intake import integration_key_create
from tests.factories import at
from tests.orders.appeals.conftest import square, token
from tests.orders.appeals.test_open311 import post_request

SYDNEY = (151.2093, -33.8688)
NULL_ISLAND = (0.0, 0.0)


@pytest.fixture
def district(db) -> District:
    """One district of 5 km around the city point: the city's bounds, with a 2 km margin."""
    return District.objects.create(
        source="t", source_id="d", name="Central", geom=MultiPolygon(square(0, 0, 2500), srid=4326)
    )


def post_appeal(client, people, lon: float, lat: float):
    body = {"category": "pipe-burst", "lon": lon, "lat": lat}
    return client.post(
        "/api/appeals", body, content_type="application/json", **token(people["operator"])
    )


@pytest.mark.parametrize("where", [SYDNEY, NULL_ISLAND], ids=["sydney", "null-island"])
def test_an_appeal_outside_the_city_is_400_naming_the_point(client, people, district, where):
    response = post_appeal(client, people, *where)

    assert response.status_code == 400, response.content
    assert "outside the city" in response.json()["error"]["message"]
    assert not Appeal.objects.exists()


def test_an_appeal_in_the_margin_around_the_districts_is_taken(client, people, district):
    near = at(0, 3500)  # 1 km north of the district's edge
    assert post_appeal(client, people, near.x, near.y).status_code == 201


def test_a_city_without_districts_or_bbox_takes_any_place(client, people):
    assert post_appeal(client, people, *SYDNEY).status_code == 201


def test_city_bbox_bounds_the_city_when_set(client, people, settings):
    settings.CITY_BBOX = (150.0, -35.0, 152.0, -33.0)
    assert post_appeal(client, people, *SYDNEY).status_code == 201
    assert post_appeal(client, people, -76.57, 39.28).status_code == 400


@pytest.mark.parametrize("where", [SYDNEY, NULL_ISLAND], ids=["sydney", "null-island"])
def test_an_open311_request_outside_the_city_is_a_spec_error(client, district, categories, where):
    key = integration_key_create(name="fixmystreet", purpose="open311")[1]
    lon, lat = where
    response = post_request(client, key, lat=str(lat), long=str(lon))

    assert response.status_code == 400, response.content
    assert "outside the city" in response.json()[0]["description"]
    assert not Appeal.objects.exists()
