"""Every object knows its district by space: layers.selectors.district_of / with_district."""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import LineString, MultiPolygon, Point, Polygon

from gis.roles import Role
from layers.models import Building, District, Street, Yard
from layers.selectors import district_of, object_card, with_district
from tests.factories import viewer

# Two districts side by side, their shared border on lon -76.570.
WEST_LON, BORDER_LON, EAST_LON = -76.580, -76.570, -76.560
SOUTH, NORTH = 39.275, 39.285
MID = (SOUTH + NORTH) / 2


def box(west: float, south: float, east: float, north: float) -> MultiPolygon:
    ring = ((west, south), (east, south), (east, north), (west, north), (west, south))
    return MultiPolygon(Polygon(ring), srid=4326)


def house(lon: float, lat: float, half: float = 0.0001, **fields) -> Building:
    return Building.objects.create(
        source="t",
        source_id=f"{lon},{lat}",
        geom=box(lon - half, lat - half, lon + half, lat + half),
        **fields,
    )


@pytest.fixture
def districts(db) -> dict[str, District]:
    return {
        "west": District.objects.create(
            source="t",
            source_id="w",
            name="Алмалинский район",
            geom=box(WEST_LON, SOUTH, BORDER_LON, NORTH),
        ),
        "east": District.objects.create(
            source="t", source_id="e", name="East", geom=box(BORDER_LON, SOUTH, EAST_LON, NORTH)
        ),
    }


def ref(district: District) -> dict:
    return {"id": district.pk, "name": district.name}


def test_a_point_is_in_the_district_that_covers_it(districts) -> None:
    assert district_of(Point(-76.575, MID, srid=4326)) == ref(districts["west"])
    assert district_of(Point(-76.565, MID, srid=4326)) == ref(districts["east"])


def test_outside_every_district_or_without_a_place_is_none(districts) -> None:
    assert district_of(Point(-76.50, MID, srid=4326)) is None
    assert district_of(None) is None


def test_a_point_on_the_shared_border_still_gets_exactly_one_district(districts) -> None:
    found = district_of(Point(BORDER_LON, MID, srid=4326))
    assert found in (ref(districts["west"]), ref(districts["east"]))


def test_an_area_straddling_the_border_belongs_where_a_point_on_it_lies(districts) -> None:
    # Mostly east: 1 m of it west of the border, 200 m east.
    wide = house(BORDER_LON + 0.0011, MID, half=0.00115)
    assert district_of(wide.geom) == ref(districts["east"])


def test_with_district_annotates_every_row_in_one_query(
    districts, django_assert_num_queries
) -> None:
    west = house(-76.575, MID)
    east = house(-76.565, MID)
    outside = house(-76.50, MID)
    street = Street.objects.create(
        source="t",
        source_id="s",
        kind="residential",
        geom=LineString((-76.566, MID), (-76.564, MID), srid=4326),
    )
    with django_assert_num_queries(1):
        rows = dict(with_district(Building.objects.all()).values_list("pk", "district"))
    assert rows == {
        west.pk: ref(districts["west"]),
        east.pk: ref(districts["east"]),
        outside.pk: None,
    }
    assert with_district(Street.objects.filter(pk=street.pk)).get().district == ref(
        districts["east"]
    )


def test_surveyed_district_wins_over_a_derived_one_left_beside_it(districts) -> None:
    District.objects.create(
        source="derived", source_id="d", name="Derived", geom=box(WEST_LON, SOUTH, EAST_LON, NORTH)
    )
    assert district_of(Point(-76.565, MID, srid=4326)) == ref(districts["east"])


def test_district_before_its_sub_district(districts) -> None:
    sub = District.objects.create(
        source="osm",
        source_id="r10",
        name="Sub",
        admin_level=10,
        geom=box(-76.568, SOUTH, -76.562, NORTH),
    )
    District.objects.filter(pk=districts["east"].pk).update(admin_level=9)
    assert district_of(Point(-76.565, MID, srid=4326)) == ref(districts["east"])
    assert district_of(Point(-76.565, MID, srid=4326)) != ref(sub)


def test_the_object_card_names_the_district(districts, client) -> None:
    building = house(-76.575, MID, street="Main Street", housenumber="1")
    card = object_card(layer="buildings", pk=building.pk, viewer=viewer(Role.PUBLIC))
    assert card["district"] == ref(districts["west"])

    yard = Yard.objects.create(
        source="t", source_id="y", geom=box(-76.566, MID, -76.565, MID + 0.001)[0]
    )
    body = client.get(f"/api/objects/yards/{yard.pk}").json()
    assert body["district"] == ref(districts["east"])


def test_the_card_of_an_object_outside_every_district_has_none(districts, client) -> None:
    building = house(-76.50, MID)
    assert client.get(f"/api/objects/buildings/{building.pk}").json()["district"] is None
