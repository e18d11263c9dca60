"""A permit far from the city or with an absurd calendar is a 400, never a row nor a claim."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.gis.geos import MultiPolygon

from layers.models import District
from orders.permits.models import Permit
from orders.permits.selectors import local_today
from tests.factories import rectangle
from tests.orders.permits.test_lifecycle import issue_body, post

pytestmark = pytest.mark.django_db


def days(n: int) -> str:
    return (local_today() + timedelta(days=n)).isoformat()


@pytest.fixture
def district(db) -> District:
    """A 10 km square around the city point: the city's bounds (with its 2 km margin)."""
    return District.objects.create(
        source="t", source_id="d", name="Central", geom=MultiPolygon(rectangle(10_000, 10_000))
    )


@pytest.mark.parametrize(
    "where",
    [rectangle(12, 8, lon=151.2093, lat=-33.8688), rectangle(12, 8, lon=0, lat=0)],
    ids=["sydney", "null-island"],
)
def test_a_permit_outside_the_city_is_400_naming_the_work_area(
    client, orgs, auth, district, where
) -> None:
    body = issue_body(orgs, geom=json.loads(where.geojson))
    response = post(client, "/api/permits", body, **auth("operator"))

    assert response.status_code == 400, response.content
    assert "geom" in response.json()["error"]["fields"]
    assert not Permit.objects.exists()


def test_a_permit_in_the_city_is_issued(client, orgs, auth, district) -> None:
    assert post(client, "/api/permits", issue_body(orgs), **auth("operator")).status_code == 201


@pytest.mark.parametrize(
    "changes, field",
    [
        # Year 0001 would be 740,000 days overdue: two formal claims at once.
        ({"planned_start": "0001-01-01", "deadline": "0001-01-10"}, "planned_start"),
        ({"issued_on": "0001-01-01"}, "issued_on"),
        ({"issued_on": days(-400)}, "issued_on"),
        ({"planned_start": days(400), "deadline": days(410)}, "planned_start"),
        ({"deadline": days(800)}, "deadline"),
        ({"planned_start": "9999-12-01", "deadline": "9999-12-31"}, "planned_start"),
    ],
    ids=["year-1", "issued-year-1", "issued-long-ago", "start-far", "dig-too-long", "year-9999"],
)
def test_absurd_dates_are_400_naming_the_field(client, orgs, auth, changes, field) -> None:
    response = post(client, "/api/permits", issue_body(orgs, **changes), **auth("operator"))

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not Permit.objects.exists()


def test_an_extension_years_away_is_400(client, orgs, auth) -> None:
    issued = post(client, "/api/permits", issue_body(orgs), **auth("operator")).json()
    response = post(
        client,
        f"/api/permits/{issued['id']}/extend",
        {"new_deadline": days(1000), "reason": "Pipe not delivered"},
        **auth("operator"),
    )

    assert response.status_code == 400, response.content
    assert "new_deadline" in response.json()["error"]["fields"]
    assert Permit.objects.get().deadline.isoformat() == days(14)
