"""A contractor sees only its own permits: in the API, in tiles and in OGC (another's is 404)."""

from __future__ import annotations

import pytest
from django.test import Client

from gis.spatial import lonlat_to_tile
from tests.front import run_front
from tests.tiles.test_api import decode

pytestmark = pytest.mark.django_db


@pytest.fixture
def permits(make_permit):
    return {"acme": make_permit(contractor="acme"), "other": make_permit(contractor="other")}


def test_contractor_lists_only_its_own_permits(client, auth, permits):
    body = client.get("/api/permits", **auth("acme")).json()
    assert body["type"] == "FeatureCollection"
    assert [f["id"] for f in body["features"]] == [permits["acme"].pk]
    staff = client.get("/api/permits", **auth("planner")).json()
    assert {f["id"] for f in staff["features"]} == {p.pk for p in permits.values()}


def test_another_contractors_permit_is_404_for_every_action(client, auth, permits):
    theirs = permits["other"].pk
    assert client.get(f"/api/permits/{theirs}", **auth("acme")).status_code == 404
    for action in ("start", "close", "extension-requests", "restoration"):
        response = client.post(
            f"/api/permits/{theirs}/{action}", {}, content_type="application/json", **auth("acme")
        )
        assert response.status_code == 404, action


def test_list_filters_overdue_and_status(client, auth, make_permit, permits):
    late = make_permit(contractor="acme", overdue_by=2)
    body = client.get("/api/permits?overdue=true", **auth("operator")).json()
    assert [f["id"] for f in body["features"]] == [late.pk]
    assert body["features"][0]["properties"]["overdue_days"] == 2
    assert client.get("/api/permits?status=closed", **auth("operator")).json()["count"] == 0
    assert client.get("/api/permits?status=nonsense", **auth("operator")).status_code == 400


def test_ogc_items_scoped_for_contractors(permits, tokens):
    def get(path: str, who: str):
        return Client().get(path, headers={"Authorization": f"Token {tokens[who]}"})

    own = get("/ogc/collections/permits/items", "acme").json()
    assert [f["id"] for f in own["features"]] == [permits["acme"].pk]
    assert get(f"/ogc/collections/permits/items/{permits['other'].pk}", "acme").status_code == 404
    assert get(f"/ogc/collections/permits/items/{permits['acme'].pk}", "acme").status_code == 200
    assert (
        get(f"/ogc/collections/permits/items/{permits['other'].pk}", "planner").status_code == 200
    )


@pytest.mark.django_db(transaction=True)
def test_tiles_carry_only_the_contractors_own_permits_with_deadline_and_status(permits, tokens):
    centre = permits["acme"].geom.centroid
    x, y = lonlat_to_tile(centre.x, centre.y, 15)

    async def scenario(client, _):
        path = f"/tiles/permits/15/{x}/{y}.mvt"
        own = await client.get(path, headers={"Authorization": f"Token {tokens['acme']}"})
        staff = await client.get(path, headers={"Authorization": f"Token {tokens['operator']}"})
        public = await client.get(path)
        return own, staff, public

    own, staff, public = run_front(scenario)
    assert public.status_code == 401
    mine = decode(own)["permits"]["features"]
    assert [f["id"] for f in mine] == [permits["acme"].pk]
    assert mine[0]["properties"]["deadline"] == permits["acme"].deadline.isoformat()
    assert mine[0]["properties"]["status"] == "in_progress"
    assert "responsible_person" not in mine[0]["properties"]
    assert {f["id"] for f in decode(staff)["permits"]["features"]} == {
        p.pk for p in permits.values()
    }


def test_object_card_shows_the_permits_on_an_object(client, auth, permits):
    from layers.models import Yard
    from tests.factories import rectangle

    centre = permits["acme"].geom.centroid
    yard = Yard.objects.create(
        address="Yard", geom=rectangle(80, 40, lon=centre.x - 0.0004, lat=centre.y - 0.0002)
    )
    card = client.get(f"/api/objects/yards/{yard.pk}", **auth("operator")).json()
    assert permits["acme"].pk in [f["id"] for f in card["related"]["permits"]["features"]]
    own = client.get(f"/api/objects/yards/{yard.pk}", **auth("other")).json()
    assert permits["acme"].pk not in [f["id"] for f in own["related"]["permits"]["features"]]
