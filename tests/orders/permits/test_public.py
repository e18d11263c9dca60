"""GET /api/public/restoration: open permits at or near an address, with no personal data."""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import MultiPolygon

from orders.permits.models import Permit
from orders.permits.selectors import _geocode
from tests.factories import building
from tests.orders.permits.conftest import site

pytestmark = pytest.mark.django_db


@pytest.fixture
def house(db):
    """2900 Eastern Avenue, around ``site(0)``, with its search keys as an import sets them."""
    house = building(
        street="Eastern Avenue",
        housenumber="2900",
        geom=MultiPolygon(site(0).buffer(0.00005), srid=4326),
    )
    house.refresh_search_key()
    house.save()
    return house


def test_open_permits_near_the_address_with_overdue_days_and_no_personal_data(
    client, house, make_permit
):
    late = make_permit(overdue_by=6, geom=site(0), address="2900 Eastern Avenue")
    far = make_permit(geom=site(40))  # 2 km east

    response = client.get("/api/public/restoration", {"address": "2900 Eastern Avenue"})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["located"]["label"]
    [found] = body["permits"]
    assert found["number"] == late.number
    assert found["contractor"] == "Acme Digging"
    assert found["purpose"] == "Repair a water main"
    assert (found["status"], found["overdue_days"]) == ("in_progress", 6)
    assert found["deadline"] == late.deadline.isoformat()
    text = response.content.decode()
    assert "Ivan Petrov" not in text and "555" not in text  # responsible person, phone
    assert far.number not in text


def test_closed_permits_are_not_listed(client, house, make_permit):
    permit = make_permit(geom=site(0))
    Permit.objects.filter(pk=permit.pk).update(status="closed")
    body = client.get("/api/public/restoration", {"address": "2900 Eastern Ave"}).json()
    assert body["permits"] == []


@pytest.mark.parametrize("address", ["", " ", "a"])
def test_empty_or_one_character_address_is_400(client, address):
    response = client.get("/api/public/restoration", {"address": address})
    assert response.status_code == 400
    assert "address" in response.json()["error"]["fields"]


def test_missing_address_is_400(client):
    assert client.get("/api/public/restoration").status_code == 400


def test_unknown_address_answers_nothing_located(client, make_permit):
    body = client.get("/api/public/restoration", {"address": "1 Nowhere Lane"}).json()
    assert body["located"] is None and body["permits"] == []


def test_unlocated_address_still_finds_a_permit_by_its_written_address(client, make_permit):
    permit = make_permit(address="Yard behind 12 Elm Court")
    body = client.get("/api/public/restoration", {"address": "12 Elm Court"}).json()
    assert [p["number"] for p in body["permits"]] == [permit.number]


def test_geocoder_falls_back_to_the_stored_address_key(house, monkeypatch):
    import layers.search

    monkeypatch.delattr(layers.search, "addresses_search")  # the search not there (yet)
    located = _geocode("2900 Eastern Avenue")
    assert located is not None and located.method == "key"


def test_a_permit_written_to_the_address_counts_even_if_dug_further_away(
    client, house, make_permit
):
    behind = make_permit(geom=site(5), address="Yard behind 2900 Eastern Avenue")  # 250 m east
    same = make_permit(geom=site(6), address="2900 Eastern Ave.")
    body = client.get("/api/public/restoration", {"address": "2900 Eastern Avenue"}).json()
    found = {p["number"]: p for p in body["permits"]}
    assert set(found) == {behind.number, same.number}
    assert found[same.number]["distance_m"] > 200
