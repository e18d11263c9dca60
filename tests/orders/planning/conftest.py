"""A small city for planning: four yards with known areas, flats around them and appeals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.gis.geos import LineString, MultiPolygon, Point
from django.utils import timezone
from rest_framework.test import APIClient

from gis.roles import Role
from gis.services import user_create_or_update
from layers.models import Building, NetworkKind, NetworkSegment, Organisation, Yard
from orders.appeals.models import Appeal, Category
from orders.planning.models import Incident, UnitCost
from tests.factories import CITY_LAT, CITY_LON, WGS84, rectangle

# What a m² costs in these tests, set here so no test depends on the migration's placeholders.
UNIT_COSTS = {
    "asphalt": "60.00",
    "paving": "95.00",
    "gravel": "25.00",
    "grass": "15.00",
    "mixed": "70.00",
    "unknown": "70.00",
}


def offset(east_m: float, north_m: float, lon: float = CITY_LON, lat: float = CITY_LAT):
    """The lon/lat east_m east and north_m north of a point (geodesic)."""
    lon, lat, _ = WGS84.fwd(lon, lat, 90, east_m) if east_m else (lon, lat, 0)
    lon, lat, _ = WGS84.fwd(lon, lat, 0, north_m) if north_m else (lon, lat, 0)
    return lon, lat


def point_at(east_m: float, north_m: float) -> Point:
    return Point(*offset(east_m, north_m), srid=4326)


@pytest.fixture
def client_for(db) -> Callable[[Role | None], APIClient]:
    """An API client acting as a new user of the role (None: the public)."""

    def make(role: Role | None) -> APIClient:
        client = APIClient()
        if role is not None:
            _, token = user_create_or_update(
                username=f"test-{role}",
                role=role,
                organisation_name="Acme Works" if role == Role.CONTRACTOR else None,
            )
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client

    return make


@pytest.fixture
def planner(client_for) -> APIClient:
    return client_for(Role.PLANNER)


@pytest.fixture
def operator(client_for) -> APIClient:
    return client_for(Role.OPERATOR)


@pytest.fixture
def unit_costs(db) -> dict[str, Decimal]:
    for surface, cost in UNIT_COSTS.items():
        UnitCost.objects.update_or_create(surface=surface, defaults={"cost_per_m2": cost})
    return {s: Decimal(c) for s, c in UNIT_COSTS.items()}


@dataclass(frozen=True)
class YardSeed:
    key: str
    east_m: float
    width_m: float
    height_m: float
    surface: str
    condition: str
    flats: tuple[int | None, ...]
    """Flats of the buildings 5 m from the yard (None: a building with no flats count)."""
    appeals: int
    """Appeals linked to it in the last 12 months (more, older or rejected, are added too)."""


# Hand-checked in test_ranking.py: areas 10,000 / 2,000 / 4,000 / 900 m²; apartments 60 / 100 /
# 0 / 10; appeals 1 / 0 / 4 / 2. The yards are 600 m apart, so no building serves two.
SEEDS = (
    YardSeed("Y1", 0, 100, 100, "asphalt", "unknown", (40, 20), 1),
    YardSeed("Y2", 600, 50, 40, "paving", "good", (100,), 0),
    YardSeed("Y3", 1200, 80, 50, "gravel", "fair", (None,), 4),
    YardSeed("Y4", 1800, 30, 30, "unknown", "poor", (10,), 2),
)


@pytest.fixture
def yards(db, unit_costs) -> dict[str, Yard]:
    """Make the four yards, their buildings (and one beyond the radius) and their appeals."""
    now = timezone.now()
    category = Category.objects.create(code="yard-surface", name="Broken yard", layer="yards")
    made: dict[str, Yard] = {}
    number = 0
    for seed in SEEDS:
        lon, lat = offset(seed.east_m, 0)
        yard = Yard.objects.create(
            source="test",
            source_id=seed.key,
            address=f"{seed.key} Test Street",
            surface=seed.surface,
            condition=seed.condition,
            geom=rectangle(seed.width_m, seed.height_m, lon, lat),
        )
        made[seed.key] = yard
        for i, flats in enumerate(seed.flats):
            # 5 m east of the yard's east edge, one above the other.
            b_lon, b_lat = offset(seed.east_m + seed.width_m + 5, i * 12)
            Building.objects.create(
                source="test",
                source_id=f"{seed.key}-b{i}",
                flats=flats,
                geom=MultiPolygon(rectangle(10, 10, b_lon, b_lat)),
            )
        # 30 m west of the yard: beyond the 15 m radius, and big enough to change any ranking.
        f_lon, f_lat = offset(seed.east_m - 40, 0)
        Building.objects.create(
            source="test",
            source_id=f"{seed.key}-far",
            flats=999,
            geom=MultiPolygon(rectangle(10, 10, f_lon, f_lat)),
        )
        received = [now - timedelta(days=10 + i) for i in range(seed.appeals)]
        ignored = [
            (now - timedelta(days=400), Appeal.Status.DONE),  # older than 12 months
            (now - timedelta(days=5), Appeal.Status.REJECTED),
            (now - timedelta(days=5), Appeal.Status.DUPLICATE),
        ]
        for at, status in [(at, Appeal.Status.NEW) for at in received] + ignored:
            number += 1
            Appeal.objects.create(
                number=f"T-{number}",
                channel=Appeal.Channel.WEB,
                category=category,
                received_at=at,
                status=status,
                linked_layer="yards",
                linked_id=yard.pk,
            )
    return made


# --- network breaks ---------------------------------------------------------------------------


def days_ago(n: int) -> date:
    return timezone.localdate() - timedelta(days=n)


def record(east: float, north: float, when: date, kind: str = NetworkKind.WATER) -> Incident:
    return Incident.objects.create(
        source="test",
        source_id=f"{kind}-{east}-{north}-{when}",
        kind=kind,
        occurred_on=when,
        geom=point_at(east, north),
    )


@pytest.fixture
def breaks(db) -> dict:
    return breaks_make()


def breaks_make() -> dict:
    """Make two water clusters, far points, a sewer point and breaks that must not count.

    Cluster A: 4 records and 1 located appeal on segment A (owned by Water Co); cluster B: 3
    records 240 m from any segment; 2 water points far apart; a sewer point beside A; an appeal
    on segment A without a point, a rejected one, one of a category that is no break, and a
    record before the period.
    """
    owner = Organisation.objects.create(name="Water Co", kind=Organisation.Kind.SERVICE)
    seg_a = NetworkSegment.objects.create(
        source="test",
        source_id="A",
        kind=NetworkKind.WATER,
        name="Main A",
        owner=owner,
        geom=LineString(offset(-100, 0), offset(100, 0), srid=4326),
    )
    seg_b = NetworkSegment.objects.create(
        source="test",
        source_id="B",
        kind=NetworkKind.WATER,
        name="Main B",
        geom=LineString(offset(500, -200), offset(600, -200), srid=4326),
    )
    # A sewer line under cluster A: a water break never lies on it.
    NetworkSegment.objects.create(
        source="test",
        source_id="S",
        kind=NetworkKind.SEWER,
        geom=LineString(offset(-100, 1), offset(100, 1), srid=4326),
    )
    for (east, north), age in zip(
        ((0, 0), (8, 0), (16, 0), (4, 3)), (300, 200, 100, 50), strict=True
    ):
        record(east, north, days_ago(age))
    for east, north in ((500, 40), (510, 40), (505, 48)):
        record(east, north, days_ago(150))
    record(1500, 0, days_ago(30))
    record(2500, 0, days_ago(30))
    record(2, 2, days_ago(40), kind=NetworkKind.SEWER)
    record(0, 0, days_ago(800))  # before the period

    burst = Category.objects.create(
        code="pipe-burst", name="Pipe burst", layer="networks", network_break=True
    )
    other = Category.objects.create(code="hatch", name="Loose hatch", layer="networks")

    def appeal(n: int, category: Category, status: str, geom=None, age: int = 20) -> Appeal:
        return Appeal.objects.create(
            number=f"H-{n}",
            channel=Appeal.Channel.PHONE,
            category=category,
            status=status,
            geom=geom,
            received_at=timezone.now() - timedelta(days=age),
            linked_layer="networks",
            linked_id=seg_a.pk,
        )

    appeal(1, burst, Appeal.Status.NEW, geom=point_at(12, 1), age=20)  # in cluster A
    appeal(2, burst, Appeal.Status.IN_WORK, age=60)  # no point: counts for segment A only
    appeal(3, burst, Appeal.Status.REJECTED, geom=point_at(6, 0))
    appeal(4, other, Appeal.Status.NEW, geom=point_at(6, 0))
    return {"a": seg_a, "b": seg_b, "owner": owner}
