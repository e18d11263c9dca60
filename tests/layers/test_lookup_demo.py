"""Search and nearby on the demo city (the real OSM extract), through the real ASGI app.

The front (layers/asgi.py) answers these requests itself; ``format=json`` sends the same request
to the Django views, whose answers the fixture-based tests check in detail. Both must agree on
the real data, for the public and for an operator.
"""

from __future__ import annotations

import httpx
import pytest
from django.db import connection

pytestmark = pytest.mark.e2e


@pytest.mark.django_db
def test_runs_on_the_test_database() -> None:
    assert connection.settings_dict["NAME"].startswith("test_")


def both(demo_url: str, path: str, params: dict, token: str | None = None) -> dict:
    """The front's answer, after checking that Django's (``format=json``) is the same JSON."""
    headers = {"Authorization": f"Token {token}"} if token else {}
    with httpx.Client(base_url=demo_url, headers=headers, timeout=30) as client:
        front = client.get(path, params=params)
        django = client.get(path, params={**params, "format": "json"})
    assert front.status_code == django.status_code == 200, (front.text, django.text)
    assert front.json() == django.json()
    return front.json()


@pytest.mark.parametrize(
    ("q", "address"),
    [
        ("536 S Ann St", "536 South Ann Street, Baltimore"),
        ("2021 e pratt street", "2021 East Pratt Street, Baltimore"),
        ("S Ann st 536", "536 South Ann Street, Baltimore"),
    ],
)
def test_search_finds_demo_houses_at_the_front(demo_url, q, address):
    found = both(demo_url, "/api/search", {"q": q})
    assert found["results"][0]["address"] == address
    assert found["results"][0]["layer"] == "buildings"


def test_nearby_on_the_demo_city_is_the_same_at_the_front(demo_url, demo_city):
    lon, lat = demo_city["yard"]
    public = both(demo_url, "/api/nearby", {"lon": lon, "lat": lat, "radius": 150})
    features = public["features"]
    assert features, "nothing within 150 m of the demo yard"
    distances = [f["properties"]["distance_m"] for f in features]
    assert distances == sorted(distances)
    assert all(f["properties"]["label"] for f in features)
    assert {f["properties"]["layer"] for f in features} >= {"yards", "buildings"}
    assert not {f["properties"]["layer"] for f in features} & {"networks", "manholes"}

    lon, lat = demo_city["network"]
    staff = both(
        demo_url,
        "/api/nearby",
        {"lon": lon, "lat": lat, "radius": 50, "layers": "networks,buildings"},
        token=demo_city["operator"],
    )
    assert "networks" in {f["properties"]["layer"] for f in staff["features"]}
