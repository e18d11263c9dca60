"""Derived districts: Voronoi cells of the named place points, clipped to the city."""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import LineString, MultiPolygon, Point, Polygon
from pyproj import Geod

from importers.derive import DISTRICT_MARGIN_M, layers_derive
from layers.models import Building, District, Place, Street
from layers.selectors import district_of

pytestmark = pytest.mark.django_db

LON, LAT = -76.5700, 39.2800
GEOD = Geod(ellps="WGS84")
SIZE = 1000  # the city: streets around a 1 km square


def at(x: float, y: float) -> tuple[float, float]:
    """The lon/lat x metres east and y metres north of the city point."""
    lon, lat, _ = GEOD.fwd(LON, LAT, 90, x) if x else (LON, LAT, 0)
    lon, lat, _ = GEOD.fwd(lon, lat, 0, y) if y else (lon, lat, 0)
    return lon, lat


def place(name: str, x: float, y: float, kind: str = "neighbourhood") -> Place:
    return Place.objects.create(
        source="osm", source_id=f"n{name}{x}{y}", name=name, kind=kind, geom=Point(*at(x, y))
    )


@pytest.fixture
def city() -> dict[str, Building]:
    for n, ((x0, y0), (x1, y1)) in enumerate(
        [
            ((0, 0), (SIZE, 0)),
            ((SIZE, 0), (SIZE, SIZE)),
            ((SIZE, SIZE), (0, SIZE)),
            ((0, SIZE), (0, 0)),
        ]
    ):
        Street.objects.create(
            source="osm",
            source_id=f"w{n}",
            name=f"Street {n}",
            kind="residential",
            geom=LineString(at(x0, y0), at(x1, y1), srid=4326),
        )
    houses = {}
    for name, (x, y) in {"sw": (100, 100), "ne": (880, 880), "se": (880, 100)}.items():
        ring = [at(x, y), at(x + 10, y), at(x + 10, y + 10), at(x, y + 10), at(x, y)]
        houses[name] = Building.objects.create(
            source="osm", source_id=name, geom=MultiPolygon(Polygon(ring), srid=4326)
        )
    return houses


def names() -> list[str]:
    return list(District.objects.order_by("name").values_list("name", flat=True))


def test_each_place_gets_the_part_of_town_nearest_to_it(city) -> None:
    fells = place("Fells Point", 200, 200)
    canton = place("Canton", 800, 800, kind="suburb")
    place("Highlandtown", 800, 200, kind="quarter")
    Place.objects.create(
        source="osm", source_id="island", name="Isle", kind="island", geom=Point(*at(500, 500))
    )

    report = layers_derive()

    assert names() == ["Canton", "Fells Point", "Highlandtown"]
    assert set(District.objects.values_list("source", "admin_level")) == {("derived", None)}
    assert district_of(fells.geom)["name"] == "Fells Point"
    assert district_of(canton.geom)["name"] == "Canton"
    assert district_of(city["sw"].geom)["name"] == "Fells Point"
    assert district_of(city["ne"].geom)["name"] == "Canton"
    assert district_of(city["se"].geom)["name"] == "Highlandtown"
    assert any("3 derived from 3 named place points" in note for note in report.notes)


def test_districts_tile_the_city_without_overlaps_and_end_past_its_edge(city) -> None:
    place("A", 200, 200)
    place("B", 800, 800)
    place("C", 800, 200)
    layers_derive()

    districts = list(District.objects.all())
    for i, a in enumerate(districts):
        for b in districts[i + 1 :]:
            assert a.geom.intersection(b.geom).area < 1e-12
    # Every street corner lies in one district; a point well past the margin in none.
    for corner in [(0, 0), (SIZE, 0), (SIZE, SIZE), (0, SIZE)]:
        assert district_of(Point(*at(*corner), srid=4326)) is not None
    assert district_of(Point(*at(-DISTRICT_MARGIN_M - 100, 500), srid=4326)) is None


def test_second_run_changes_nothing(city) -> None:
    place("A", 200, 200)
    place("B", 800, 800)
    layers_derive()
    before = dict(District.objects.values_list("name", "pk"))

    second = layers_derive()

    assert (second.by_layer["districts"]["created"], second.by_layer["districts"]["updated"]) == (
        0,
        0,
    )
    assert dict(District.objects.values_list("name", "pk")) == before


def test_places_of_one_name_make_one_district(city) -> None:
    place("Canton", 800, 800)
    place("Canton", 800, 600)
    place("Fells Point", 200, 200)
    layers_derive()
    assert names() == ["Canton", "Fells Point"]


def test_a_place_gone_takes_its_derived_district_with_it(city) -> None:
    place("A", 200, 200)
    gone = place("B", 800, 800)
    layers_derive()
    gone.delete()

    report = layers_derive()

    assert names() == ["A"]
    assert "districts: removed 1 derived rows their inputs no longer give" in report.notes


def test_real_boundaries_are_never_replaced_and_derived_ones_then_go(city) -> None:
    place("A", 200, 200)
    place("B", 800, 800)
    layers_derive()
    ring = [at(0, 0), at(SIZE, 0), at(SIZE, SIZE), at(0, SIZE), at(0, 0)]
    District.objects.create(
        source="osm", source_id="r1", name="Real", admin_level=9, geom=MultiPolygon(Polygon(ring))
    )

    report = layers_derive()

    assert names() == ["Real"]
    assert "districts: the city has district boundaries; none derived" in report.notes


def test_no_places_no_districts(city) -> None:
    layers_derive()
    assert not District.objects.exists()
