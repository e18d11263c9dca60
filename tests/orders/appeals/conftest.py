"""A small city laid out in metres around one point, the categories, and the people who act."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.gis.geos import LineString, MultiLineString, MultiPolygon, Polygon

from gis.models import User
from gis.roles import Role
from gis.services import user_create_or_update
from layers.models import (
    Building,
    BusStop,
    Manhole,
    NetworkKind,
    NetworkSegment,
    Playground,
    SnowploughRoute,
    Street,
    Yard,
)
from orders.appeals import categories as seed
from orders.appeals import refdata
from orders.appeals.models import Appeal, Category
from orders.appeals.services.registration import appeal_register, categories_load
from tests.factories import at


def square(east_m: float, north_m: float, half_m: float) -> Polygon:
    corners = [
        at(east_m - half_m, north_m - half_m),
        at(east_m + half_m, north_m - half_m),
        at(east_m + half_m, north_m + half_m),
        at(east_m - half_m, north_m + half_m),
    ]
    ring = [(p.x, p.y) for p in corners]
    return Polygon([*ring, ring[0]], srid=4326)


def line(north_m: float, half_m: float = 100) -> LineString:
    a, b = at(-half_m, north_m), at(half_m, north_m)
    return LineString((a.x, a.y), (b.x, b.y), srid=4326)


# Where each kind of object lies, in metres (east, north): 300 m apart, beyond every radius.
STREET_N, NETWORK_N, YARD_N, PLAYGROUND_N, STOP_N, ROUTE_N, MANHOLE_N = (
    0,
    300,
    600,
    900,
    1200,
    1500,
    1800,
)
FAR = (3000, 3000)


def _house(street: str, number: str, outline: Polygon) -> Building:
    house = Building(source="t", source_id=f"{street} {number}", street=street, housenumber=number)
    house.geom = MultiPolygon(outline, srid=4326)
    house.refresh_search_key()  # as importers and the admin do
    house.save()
    return house


@pytest.fixture(autouse=True)
def refdata_listener_closed() -> Iterator[None]:
    """The listener of orders.appeals.refdata closed (a test database cannot be dropped under it).

    A test outside a transaction (``transaction=True``) may have started it.
    """
    yield
    refdata.cache.stop()


@pytest.fixture
def categories(db) -> dict[str, Category]:
    categories_load()
    return {c.code: c for c in Category.objects.select_related("organisation")}


@pytest.fixture
def city(db) -> dict[str, Any]:
    return {
        "street": Street.objects.create(
            source="t", source_id="s", name="Main Street", kind="residential", geom=line(STREET_N)
        ),
        "house": _house("Main Street", "12", square(0, 15, 5)),
        "pipe": NetworkSegment.objects.create(
            source="t", source_id="n", kind=NetworkKind.WATER, geom=line(NETWORK_N)
        ),
        "yard": Yard.objects.create(
            source="t", source_id="y", address="12 Main Street", geom=square(0, YARD_N, 20)
        ),
        "playground": Playground.objects.create(
            source="t", source_id="p", name="Sandpit", geom=at(0, PLAYGROUND_N)
        ),
        "stop": BusStop.objects.create(
            source="t", source_id="st", name="Main St", geom=at(0, STOP_N)
        ),
        "route": SnowploughRoute.objects.create(
            source="t", source_id="r", name="Main Street", geom=MultiLineString(line(ROUTE_N))
        ),
        "manhole": Manhole.objects.create(
            source="t", source_id="m", kind="storm", geom=at(0, MANHOLE_N)
        ),
    }


@pytest.fixture
def people(categories) -> dict[str, User]:
    def make(username: str, role: Role, organisation: str | None = None) -> User:
        user, _ = user_create_or_update(
            username=username,
            role=role,
            organisation_name=organisation,
            email=f"{username}@t.invalid",
        )
        return user

    return {
        "operator": make("op", Role.OPERATOR),
        "planner": make("pl", Role.PLANNER),
        "water": make("water", Role.CONTRACTOR, seed.WATER),
        "roads": make("roads", Role.CONTRACTOR, seed.ROADS),
    }


def token(user: User) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Token {user.auth_token.key}"}


@pytest.fixture
def register(categories, city, people) -> Callable[..., Appeal]:
    """Register an appeal of a category at (east, north) metres, by the operator."""

    def make(
        code: str = "pipe-burst", where: tuple[float, float] | None = (0, 310), **kw
    ) -> Appeal:
        kw.setdefault("channel", Appeal.Channel.PHONE)
        kw.setdefault("by", people["operator"])
        if where is not None:
            kw.setdefault("point", at(*where))
        return appeal_register(category=categories[code], **kw)

    return make
