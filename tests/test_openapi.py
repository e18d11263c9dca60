"""The OpenAPI schema is valid and every documented operation answers as it documents.

schemathesis generates requests from /api/schema/ (bounded examples per operation) and sends them
to the application in-process; the database is the real test PostGIS with a few objects in it.
Each answer must be no 5xx, a documented status, a documented content type, and match its
documented schema.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.contrib.gis.geos import LineString, MultiLineString, MultiPolygon, Point, Polygon
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from gis.roles import Role
from gis.services import user_create_or_update
from layers.models import Building, NetworkKind, NetworkSegment, SnowploughRoute, Yard

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())

LON, LAT = -76.57, 39.28
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def keep_connection():
    """As Django's test client does: requests must not close the test's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def city(db, keep_connection):
    square = Polygon.from_bbox((LON, LAT, LON + 0.0005, LAT + 0.0005))
    square.srid = 4326
    Building.objects.create(
        source="t", source_id="1", street="Main Street", housenumber="12", geom=MultiPolygon(square)
    )
    Yard.objects.create(source="t", source_id="1", address="12 Main Street", geom=square)
    NetworkSegment.objects.create(
        source="t",
        source_id="1",
        kind=NetworkKind.WATER,
        geom=LineString((LON, LAT), (LON + 0.001, LAT), srid=4326),
    )
    SnowploughRoute.objects.create(
        source="t",
        source_id="1",
        name="Main Street",
        geom=MultiLineString(LineString((LON, LAT), (LON + 0.001, LAT)), srid=4326),
    )
    Building.objects.create(
        source="t",
        source_id="2",
        street="Point St",
        housenumber="1",
        geom=Point(LON, LAT, srid=4326),
    )
    return user_create_or_update(username="schemathesis", role=Role.OPERATOR)[1]


def test_schema_is_valid_openapi():
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@pytest.mark.parametrize("as_operator", [False, True], ids=["public", "operator"])
def test_no_operation_answers_5xx(case, city, as_operator):
    headers = {"Authorization": f"Token {city}"} if as_operator else {}
    case.call_and_validate(headers=headers, checks=CHECKS)
