"""Appeals know their district by space; a "light is out" appeal links to the nearest lamp."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.contrib.gis.geos import MultiPolygon

from layers.models import District, StreetLight
from orders.appeals.models import Appeal, Category
from tests.orders.appeals.conftest import at, square, token

LIGHT_N = 2400  # north of every other object of the conftest city, beyond every radius


@pytest.fixture
def districts(db) -> dict[str, District]:
    """Two hand-made districts: west and east of the city point's meridian, 5 km tall."""
    return {
        "west": District.objects.create(
            source="t",
            source_id="w",
            name="Алмалинский район",
            geom=MultiPolygon(square(-2500, 0, 2500 - 0.01), srid=4326),
        ),
        "east": District.objects.create(
            source="t",
            source_id="e",
            name="East",
            geom=MultiPolygon(square(2500, 0, 2500 - 0.01), srid=4326),
        ),
    }


@pytest.fixture
def lamp(db) -> StreetLight:
    return StreetLight.objects.create(source="t", source_id="L1", ref="L-1", geom=at(0, LIGHT_N))


def test_lamp_out_appeal_links_the_nearest_street_light_in_range(register, lamp) -> None:
    StreetLight.objects.create(source="t", source_id="L2", ref="L-2", geom=at(25, LIGHT_N))

    appeal = register("street-light-out", (5, LIGHT_N))

    assert (appeal.linked_layer, appeal.linked_id) == ("street_lights", lamp.pk)
    assert appeal.link_method == Appeal.LinkMethod.AUTO
    assert appeal.link_distance_m == pytest.approx(5, abs=0.5)
    assert not appeal.needs_attention


def test_lamp_out_appeal_with_no_light_in_range_is_flagged_not_guessed(register, lamp) -> None:
    appeal = register("street-light-out", (0, LIGHT_N + 60))

    assert (appeal.linked_layer, appeal.linked_id) == ("", None)
    assert appeal.link_candidates == []
    assert appeal.needs_attention


def test_appeal_detail_names_its_district(client, people, register, districts) -> None:
    east = register("pipe-burst", (20, 310))
    west = register("pipe-burst", (-20, 310))
    op = token(people["operator"])

    assert client.get(f"/api/appeals/{east.pk}", **op).json()["district"] == {
        "id": districts["east"].pk,
        "name": "East",
    }
    assert client.get(f"/api/appeals/{west.pk}", **op).json()["district"] == {
        "id": districts["west"].pk,
        "name": "Алмалинский район",
    }


def test_an_appeal_outside_every_district_or_unlocated_has_none(
    client, people, register, districts
) -> None:
    far = register("pipe-burst", (0, 3500))  # north of both, inside the city's 2 km margin
    unlocated = register("pipe-burst", None, address="somewhere unknown")
    op = token(people["operator"])

    assert client.get(f"/api/appeals/{far.pk}", **op).json()["district"] is None
    assert client.get(f"/api/appeals/{unlocated.pk}", **op).json()["district"] is None


def test_the_list_stays_without_districts(client, people, register, districts) -> None:
    register("pipe-burst", (20, 310))
    (listed,) = client.get("/api/appeals", **token(people["operator"])).json()["results"]
    assert "district" not in listed


def test_existing_databases_move_the_lamp_category_to_the_street_lights_layer(categories) -> None:
    migration = importlib.import_module(
        "layers.migrations.0007_street_light_out_links_street_lights"
    )
    Category.objects.filter(code="street-light-out").update(layer="", link_radius_m=0)
    Category.objects.filter(code="park-maintenance").update(layer="")

    migration.link_to_street_lights(django_apps, None)

    lamp = Category.objects.get(code="street-light-out")
    assert (lamp.layer, lamp.link_radius_m) == ("street_lights", 30)
    assert Category.objects.get(code="park-maintenance").layer == ""


def test_the_migration_leaves_a_layer_an_administrator_chose(categories) -> None:
    migration = importlib.import_module(
        "layers.migrations.0007_street_light_out_links_street_lights"
    )
    Category.objects.filter(code="street-light-out").update(layer="buildings")

    migration.link_to_street_lights(django_apps, None)

    assert Category.objects.get(code="street-light-out").layer == "buildings"
