"""derive_layers on a hand-made block: yards, manholes, snowplough routes and route stops."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib.gis.geos import (
    GEOSGeometry,
    LineString,
    MultiLineString,
    MultiPolygon,
    Point,
    Polygon,
)
from pyproj import Transformer

from importers.derive import MANHOLE_SPACING_M, SNOW_ORGANISATION, layers_derive
from importers.osm_mapping import rules_for
from layers.models import (
    Building,
    BusRoute,
    BusRouteStop,
    BusStop,
    LandArea,
    Manhole,
    NetworkKind,
    NetworkSegment,
    SnowploughRoute,
    Street,
    Yard,
)
from tests.factories import CITY_LAT, CITY_LON, CommandRun

pytestmark = pytest.mark.django_db

RunCommand = Callable[..., CommandRun]

# The fixture is drawn in metres east and north of the city point, in its UTM zone (18N), the
# projection derive measures in: lengths there are the lengths derive sees.
UTM = 32618
TO_UTM = Transformer.from_crs(4326, UTM, always_xy=True)
TO_LONLAT = Transformer.from_crs(UTM, 4326, always_xy=True)
ORIGIN = TO_UTM.transform(CITY_LON, CITY_LAT)
BLOCK_W, BLOCK_H = 100.0, 150.0
PIPELINE_M = 250.0
SNOW_STREET = "Eastern Avenue"


def at(x: float, y: float) -> tuple[float, float]:
    """Lon/lat of the point x metres east and y metres north of the city point."""
    return TO_LONLAT.transform(ORIGIN[0] + x, ORIGIN[1] + y)


def metres(geom: GEOSGeometry) -> tuple[float, float]:
    """A point's offset in metres east and north of the city point."""
    x, y = TO_UTM.transform(geom.x, geom.y)
    return x - ORIGIN[0], y - ORIGIN[1]


def line(*xy: tuple[float, float]) -> LineString:
    return LineString([at(x, y) for x, y in xy], srid=4326)


def box(x: float, y: float, width: float, height: float) -> Polygon:
    corners = ((x, y), (x + width, y), (x + width, y + height), (x, y + height), (x, y))
    return Polygon([at(*c) for c in corners], srid=4326)


def street(name: str, kind: str, *xy: tuple[float, float]) -> Street:
    return Street.objects.create(
        source="osm",
        source_id=f"w{Street.objects.count() + 1}",
        name=name,
        kind=kind,
        geom=line(*xy),
    )


def house(x: float, y: float, street: str, number: str) -> Building:
    """Save a 10 m square house with its south-west corner x, y metres from the city point."""
    return Building.objects.create(
        source="osm",
        source_id=f"w{street}{number}",
        kind="house",
        street=street,
        housenumber=number,
        geom=MultiPolygon(box(x, y, 10, 10), srid=4326),
    )


def stop(name: str, x: float, y: float) -> BusStop:
    return BusStop.objects.create(
        source="osm", source_id=name, name=name, geom=Point(*at(x, y), srid=4326)
    )


@dataclass
class City:
    block: Polygon
    houses: list[Building]
    pipeline: NetworkSegment
    power_line: NetworkSegment
    route: BusRoute
    listed_route: BusRoute
    stops: dict[str, BusStop]


@pytest.fixture
def city() -> City:
    """A 100 m × 150 m block between four streets, houses on its south side, networks, a route.

    The south side is one primary street mapped in two pieces; the others are residential and
    run past the corners, as real streets do.
    """
    street(SNOW_STREET, "primary", (-30, 0), (50, 0))
    street(SNOW_STREET, "primary", (50, 0), (130, 0))
    street("Fayette Street", "residential", (-30, BLOCK_H), (130, BLOCK_H))
    street("Linwood Avenue", "residential", (0, -30), (0, BLOCK_H + 30))
    street("Kenwood Avenue", "residential", (BLOCK_W, -30), (BLOCK_W, BLOCK_H + 30))
    houses = [house(12 + 20 * i, 12, SNOW_STREET, str(3400 + 2 * i)) for i in range(4)]
    houses.append(house(12, 60, "Linwood Avenue", "101"))
    pipeline = NetworkSegment.objects.create(
        source="osm", source_id="w900", kind=NetworkKind.WATER, geom=line((-20, 200), (230, 200))
    )
    power_line = NetworkSegment.objects.create(
        source="osm", source_id="w901", kind=NetworkKind.POWER, geom=line((-20, 220), (230, 220))
    )
    # A bus line 60 m south of the block, running east; stops 10, 25 and 35 m off it.
    route_geom = MultiLineString(line((-50, -60), (250, -60)), srid=4326)
    stops = {
        "east": stop("east", 200, -50),
        "west": stop("west", 20, -70),
        "middle": stop("middle", 100, -85),
        "too far": stop("too far", 150, -95),
    }
    route = BusRoute.objects.create(source="osm", source_id="r1", ref="22", geom=route_geom)
    listed_route = BusRoute.objects.create(source="osm", source_id="r2", ref="23", geom=route_geom)
    BusRouteStop.objects.create(route=listed_route, stop=stops["too far"], sequence=0)
    return City(
        block=box(0, 0, BLOCK_W, BLOCK_H),
        houses=houses,
        pipeline=pipeline,
        power_line=power_line,
        route=route,
        listed_route=listed_route,
        stops=stops,
    )


# --- yards -----------------------------------------------------------------------------------


def test_block_of_houses_gets_one_yard_named_after_its_main_street(city: City) -> None:
    layers_derive()

    yard = Yard.objects.get()
    assert yard.source == "derived"
    assert yard.name == "Yard behind 3400–3406 Eastern Avenue"
    assert yard.address == "3400 Eastern Avenue"


def test_yard_lies_inside_the_block_clear_of_the_buildings(city: City) -> None:
    layers_derive()

    yard = Yard.objects.get()
    assert yard.geom.valid
    assert yard.geom.within(city.block)
    assert not Building.objects.filter(geom__intersects=yard.geom).exists()
    # The block less a 9 m street setback (82 m × 132 m) and the five houses with 1 m around.
    assert yard.area_m2 == pytest.approx(82 * 132 - 5 * (12 * 12), rel=0.02)


@pytest.mark.parametrize(
    "kind", ["park", "school", "water", "cemetery", "hospital"], ids=lambda k: f"{k} ground"
)
def test_no_yard_over_a_park_a_school_ground_or_water(city: City, kind: str) -> None:
    # The ground takes the north half of the block: the yard is what is left of the south half.
    LandArea.objects.create(
        source="osm", source_id="w77", kind=kind, geom=MultiPolygon(box(-5, 75, 110, 80))
    )
    layers_derive()

    yard = Yard.objects.get()
    assert not yard.geom.intersects(box(0, 76, BLOCK_W, 70))
    assert yard.area_m2 == pytest.approx(82 * (75 - 9) - 5 * (12 * 12), rel=0.03)


def test_a_block_that_is_all_park_gets_no_yard(city: City) -> None:
    LandArea.objects.create(
        source="osm", source_id="w78", kind="park", geom=MultiPolygon(box(-5, -5, 110, 160))
    )
    layers_derive()

    assert not Yard.objects.exists()


def test_a_grass_patch_in_the_block_stays_in_the_yard(city: City) -> None:
    LandArea.objects.create(
        source="osm", source_id="w79", kind="grass", geom=MultiPolygon(box(40, 80, 20, 20))
    )
    layers_derive()

    assert Yard.objects.get().geom.contains(box(41, 81, 18, 18))


def test_a_yard_in_a_russian_city_is_named_in_russian_numbers_in_numeric_order(
    city: City, settings
) -> None:
    settings.CITY_LANGUAGE, settings.ADDRESS_NUMBER_FIRST = "ru", False
    Building.objects.all().delete()
    for i, number in enumerate(("14", "2", "12к1", "12")):
        house(12 + 20 * i, 12, "улица Ленина", number)
    layers_derive()

    yard = Yard.objects.get()
    assert yard.name == "Двор за домами улица Ленина, 2–14"
    assert yard.address == "улица Ленина, 2"
    assert Yard.objects.filter(street_key=yard.street_key, house_key="2").exists()


def test_a_yard_of_one_addressed_house_is_named_in_kazakh(city: City, settings) -> None:
    settings.CITY_LANGUAGE, settings.ADDRESS_NUMBER_FIRST = "kk", False
    Building.objects.all().delete()
    house(12, 12, "Абай даңғылы", "10")
    for i in range(1, 4):
        Building.objects.create(
            source="osm",
            source_id=f"flat{i}",
            kind="apartments",
            geom=MultiPolygon(box(12 + 20 * i, 12, 10, 10), srid=4326),
        )
    layers_derive()

    assert Yard.objects.get().name == "Абай даңғылы, 10 үйінің артындағы аула"


def test_block_with_too_few_houses_gets_no_yard(city: City) -> None:
    for building in city.houses[2:]:
        building.delete()

    layers_derive()

    assert not Yard.objects.exists()


# --- manholes --------------------------------------------------------------------------------


def test_manholes_every_80_m_along_the_pipeline(city: City) -> None:
    layers_derive()

    manholes = list(Manhole.objects.order_by("source_id"))
    assert len(manholes) == math.floor(PIPELINE_M / MANHOLE_SPACING_M) + 1
    assert {(m.source, m.kind, m.segment_id) for m in manholes} == {
        ("derived", NetworkKind.WATER, city.pipeline.pk)
    }
    for i, manhole in enumerate(manholes):
        x, y = metres(manhole.geom)
        assert x == pytest.approx(-20 + i * MANHOLE_SPACING_M, abs=0.01)
        assert y == pytest.approx(200, abs=0.01)


def test_no_manholes_along_overhead_power_lines(city: City) -> None:
    layers_derive()

    assert not Manhole.objects.filter(segment=city.power_line).exists()


@pytest.mark.parametrize("location", ["overground", "overhead"])
def test_no_manholes_along_pipelines_above_the_ground(city: City, location: str) -> None:
    heating = NetworkSegment.objects.create(
        source="osm",
        source_id="w902",
        kind=NetworkKind.HEAT,
        location=location,
        geom=line((-20, 240), (230, 240)),
    )
    layers_derive()

    assert not Manhole.objects.filter(segment=heating).exists()
    assert Manhole.objects.filter(segment=city.pipeline).exists()


@pytest.mark.parametrize(
    ("tags", "location"),
    [
        ({"man_made": "pipeline", "location": "overground"}, "overground"),
        ({"man_made": "pipeline", "location": "Overhead"}, "overhead"),
        ({"man_made": "pipeline", "location": "underground"}, "underground"),
        ({"man_made": "pipeline"}, ""),
        ({"power": "line"}, "overhead"),
        ({"power": "cable"}, "underground"),
        ({"power": "cable", "location": "underwater"}, "underwater"),
    ],
)
def test_osm_location_of_a_network_line(tags: dict[str, str], location: str) -> None:
    [rule] = rules_for("line", tags)
    assert rule.fields(tags)["location"] == location


# --- snowplough routes -----------------------------------------------------------------------


def test_main_street_pieces_make_one_snowplough_route(city: City) -> None:
    layers_derive()

    route = SnowploughRoute.objects.get()
    assert (route.name, route.priority, route.source) == (SNOW_STREET, 1, "derived")
    assert route.organisation.name == SNOW_ORGANISATION
    assert route.schedule.startswith("Priority 1")
    # The two pieces are merged into one line from end to end.
    [merged] = route.geom
    ends = {metres(Point(*merged[i], srid=4326)) for i in (0, -1)}
    assert {(round(x, 2), round(y, 2)) for x, y in ends} == {(-30, 0), (130, 0)}


# --- bus route stops -------------------------------------------------------------------------


def test_route_without_stops_gets_the_near_ones_in_passing_order(city: City) -> None:
    layers_derive()

    route_stops = list(BusRouteStop.objects.filter(route=city.route).order_by("sequence"))
    assert [rs.stop.name for rs in route_stops] == ["west", "middle", "east"]
    assert [rs.sequence for rs in route_stops] == [0, 1, 2]
    assert all(rs.derived for rs in route_stops)


def test_route_with_listed_stops_keeps_them(city: City) -> None:
    layers_derive()

    assert list(
        BusRouteStop.objects.filter(route=city.listed_route).values_list("stop__name", "derived")
    ) == [("too far", False)]


# --- running again ---------------------------------------------------------------------------


def test_command_reports_what_it_derived(run_command: RunCommand, city: City) -> None:
    run = run_command("derive_layers")

    assert "derive_layers: read 6, created 6, updated 0, unchanged 0, rejected 0" in run.stdout
    assert "note: stops matched by distance on 1 bus routes" in run.stdout


def test_second_run_creates_and_updates_nothing(run_command: RunCommand, city: City) -> None:
    layers_derive()
    ids = {
        model: set(model.objects.values_list("pk", flat=True))
        for model in (Yard, Manhole, SnowploughRoute, BusRouteStop)
    }

    second = run_command("derive_layers")

    assert "created 0, updated 0, unchanged 6, rejected 0" in second.stdout
    assert "stops matched" not in second.stdout
    assert {model: set(model.objects.values_list("pk", flat=True)) for model in ids} == ids


def test_nothing_to_derive_without_streets() -> None:
    report = layers_derive()

    assert report.notes == ["no streets loaded: nothing to derive from"]
    assert (report.created, report.read) == (0, 0)
