"""/healthz: up with the database and PostGIS versions."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_reports_postgis_version(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert re.match(r"\d+\.\d+\.\d+", body["postgis"])
    assert body["database"].startswith("PostgreSQL")


def test_healthz_is_503_when_the_database_is_unreachable(client: Client) -> None:
    from django.db import connection

    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["PORT"] = "1"  # nothing listens there
    connection.settings_dict["HOST"] = "127.0.0.1"
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict.update(saved)
    assert response.status_code == 503
    assert response.json()["status"] == "error"
