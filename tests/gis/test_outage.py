"""While PostgreSQL is away: 503 with Retry-After at once, not a thread held for the pool timeout.

The real outage (the project-local cluster stopped and started under 50 clients) is measured by
bench/appeals.sh; here what one request that found the database away does to the next ones.
"""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.test import RequestFactory
from psycopg_pool import PoolTimeout

from gis.middleware import DATABASE, error_response

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def database_back():
    yield
    DATABASE.down_until = 0.0


def test_a_connection_that_broke_fails_its_own_request_only(client):
    request = RequestFactory().get("/api/appeals")
    broken = OperationalError("server closed the connection unexpectedly")
    assert error_response(request, broken).status_code == 503
    assert client.get("/api/appeals/categories").status_code == 200


def test_after_a_request_found_the_database_away_the_next_ones_are_told_at_once(client):
    request = RequestFactory().get("/api/appeals")
    first = error_response(request, PoolTimeout("couldn't get a connection after 3.00 sec"))
    assert first.status_code == 503 and first["Retry-After"] == "5"
    answer = client.get("/api/appeals/categories")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "unavailable" and answer["Retry-After"] == "5"
    assert answer["X-Request-ID"] == answer.json()["error"]["request_id"]
    # /healthz still asks the database itself, and the hold ends by itself.
    assert client.get("/healthz").status_code == 200
    DATABASE.down_until = 0.0
    assert client.get("/api/appeals/categories").status_code == 200
