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
