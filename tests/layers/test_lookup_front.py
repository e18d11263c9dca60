"""The lookups the ASGI front answers itself (layers/asgi.py) answer as the Django views do.

Each request goes once through ``TileServer`` with ``JSON_ROUTES`` (its inner app stands in for
Django and answers 599, so a request the front passed on shows) and once through Django's test
client: status and JSON must be equal, for every role, every kind of bad input included.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from django.contrib.gis.geos import LineString, MultiPolygon

from gis.roles import Role
from gis.services import user_create_or_update
from layers.asgi import JSON_ROUTES
from layers.models import Building, NetworkKind, NetworkSegment, Organisation, Street, Yard
from layers.services import street_aliases_refresh
from orders.appeals.models import Appeal, Category
from orders.appeals.services.registration import appeal_register, categories_load
from tests.factories import CITY_LAT, CITY_LON, at, rectangle
from tests.front import run_front
from tiles.asgi import TileServer

pytestmark = pytest.mark.django_db(transaction=True)

PASSED_ON = 599


async def not_django(scope, receive, send) -> None:
    """The inner app: whatever reaches it was not answered by the front."""
    await send({"type": "http.response.start", "status": PASSED_ON, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def through_front(requests: list[tuple[str, dict[str, str]]]) -> list[httpx.Response]:
    async def scenario(client: httpx.AsyncClient, server: TileServer) -> list[httpx.Response]:
        return [await client.get(path, headers=headers) for path, headers in requests]

    return run_front(scenario, app=not_django, json_routes=JSON_ROUTES)


@pytest.fixture
def city() -> None:
    # An appeal at the city point: its label ("number: category") reads a related row.
    categories_load()
    appeal_register(
        category=Category.objects.get(code="pipe-burst"),
        channel=Appeal.Channel.PHONE,
        point=at(5, 5),
        by=user_create_or_update(username="registrar", role=Role.OPERATOR)[0],
    )
    water = Organisation.objects.create(name="Water service", kind=Organisation.Kind.SERVICE)
    for n, (street, number) in enumerate(
        [
            ("улица Ленина", "12 корп. 2"),
            ("улица Ленина", "12"),
            ("улица Ленина", "14"),
            ("проспект Абая", "16 с1"),
            ("North Charles Street", "1200"),
        ]
    ):
        corner = at(30 * n)
        house = Building(
            source="t",
            source_id=str(n),
            street=street,
            housenumber=number,
            flats=10 + n,
            geom=MultiPolygon(rectangle(12, 12, corner.x, corner.y), srid=4326),
        )
        house.refresh_search_key()  # as importers do
        house.save()
    # The avenue's houses carry its Russian name; its own name is Kazakh.
    Street.objects.create(
        source="t",
        source_id="abaya",
        name="Абай даңғылы",
        names={"kk": "Абай даңғылы", "ru": "проспект Абая"},
        kind="primary",
        # Far from the city point: not among what nearby finds there.
        geom=LineString((at(5000).x, at(5000).y), (at(5100).x, at(5100).y), srid=4326),
    )
    street_aliases_refresh()
    yard = Yard(source="t", source_id="y", address="улица Ленина 12", geom=rectangle(60, 40))
    yard.refresh_search_key()
    yard.save()
    NetworkSegment.objects.create(
        source="t",
        source_id="w",
        kind=NetworkKind.WATER,
        owner=water,
        geom=LineString((CITY_LON, CITY_LAT), (at(90).x, at(90).y), srid=4326),
    )


def token(role: Role, **extra: Any) -> dict[str, str]:
    key = user_create_or_update(username=role.value, role=role, **extra)[1]
    return {"Authorization": f"Token {key}"}


NEAR = f"lon={CITY_LON}&lat={CITY_LAT}"
REQUESTS = [
    "/api/search?q=Ленина 12 корп 2",
    "/api/search?q=ул. Ленина, д. 12к2&limit=3",
    "/api/search?q=16 стр. 1 пр-т Абая",
    "/api/search?q=N Charles st 1200",
    "/api/search?q=ktybyf 12r2",
    f"/api/search?q=Ленина 12&near={CITY_LON},{CITY_LAT}",
    "/api/search?q=Ленина&layers=yards",
    "/api/search?q=x",
    "/api/search?q=Ленина 12&limit=1000000000",
    "/api/search?q=Ленина 12&near=abc",
    "/api/search?q=Ленина 12&layers=no_such_layer",
    "/api/search?q=Ленина 12&layers=networks",
    "/api/search?q=';DROP TABLE layers_building;--",
    "/api/search?q=ab%00cd",
    f"/api/nearby?{NEAR}&radius=100",
    f"/api/nearby?{NEAR}&radius=200&layers=buildings,yards&limit=3",
    f"/api/nearby?{NEAR}&radius=50&layers=networks",
    f"/api/nearby?{NEAR}&radius=1000000",
    "/api/nearby?lon=abc&lat=1",
    f"/api/nearby?{NEAR}&layers=x'%20OR%201=1",
    f"/api/nearby?{NEAR}&layers=build%00ings",
]


@pytest.mark.parametrize("role", [None, Role.OPERATOR, Role.CONTRACTOR])
def test_the_front_answers_each_lookup_as_the_django_view(city, client, role) -> None:
    headers = {} if role is None else token(role, organisation_name="Acme")
    front = through_front([(path, headers) for path in REQUESTS])
    django_headers = {f"HTTP_{k.upper()}": v for k, v in headers.items()}
    statuses = set()
    for path, answer in zip(REQUESTS, front, strict=True):
        expected = client.get(path, **django_headers)
        assert answer.status_code == expected.status_code, path
        assert answer.json() == json.loads(expected.content), path
        assert answer.headers["content-type"] == "application/json"
        statuses.add(answer.status_code)
    # Hits, refusals and role decisions all came from the front, none from the inner app.
    assert {200, 400, 404} <= statuses
    assert (401 if role is None else 403 if role == Role.CONTRACTOR else 200) in statuses


def test_nearby_at_the_front_labels_an_appeal_by_its_category(city, client) -> None:
    path = f"/api/nearby?{NEAR}&radius=50&layers=appeals"
    (answer,) = through_front([(path, {})])
    assert answer.status_code == 200
    (appeal,) = answer.json()["features"]
    assert appeal["properties"]["label"].endswith(": Pipe burst or water leak")
    assert answer.json() == client.get(path).json()


def test_the_front_finds_the_house_and_its_neighbours(city) -> None:
    search, nearby = through_front(
        [("/api/search?q=Ленина 12 корп 2", {}), (f"/api/nearby?{NEAR}&radius=100", {})]
    )
    first = search.json()["results"][0]
    assert first["address"] == "12 корп. 2 улица Ленина"
    assert first["layer"] == "buildings"
    features = nearby.json()["features"]
    assert features[0]["properties"]["label"] == "12 корп. 2 улица Ленина"  # the house at the point
    assert [f["properties"]["distance_m"] for f in features] == sorted(
        f["properties"]["distance_m"] for f in features
    )
    # The public never sees the water network, whatever the radius.
    assert {f["properties"]["layer"] for f in features} == {"appeals", "buildings", "yards"}


@pytest.mark.parametrize(
    ("headers", "address"),
    [
        ({"Accept-Language": "kk"}, "16 с1 Абай даңғылы"),
        ({"Accept-Language": "kk-KZ,ru;q=0.8"}, "16 с1 Абай даңғылы"),
        ({"Cookie": "citygis_language=kk"}, "16 с1 Абай даңғылы"),
        ({"Cookie": "citygis_language=kk", "Accept-Language": "ru"}, "16 с1 Абай даңғылы"),
        ({"Accept-Language": "ru"}, "16 с1 проспект Абая"),
        ({"Accept-Language": "de"}, "16 с1 проспект Абая"),
        ({}, "16 с1 проспект Абая"),
    ],
)
def test_a_street_is_named_in_the_viewers_language_at_the_front_as_in_django(
    city, client, headers: dict[str, str], address: str
) -> None:
    path = "/api/search?q=Абай даңғылы 16 с1"
    (answer,) = through_front([(path, headers)])
    assert answer.status_code == 200
    assert answer.json()["results"][0]["address"] == address
    django = client.get(
        path, **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    )
    assert answer.json() == django.json()


def test_the_front_reads_russian_typed_on_the_latin_layout(city) -> None:
    (search,) = through_front([("/api/search?q=ktybyf 12r2", {})])
    assert search.json()["parsed"] == {"street": "ленина ул", "housenumber": "12к2"}
    assert search.json()["results"][0]["address"] == "12 корп. 2 улица Ленина"


@pytest.mark.parametrize(
    "headers",
    [
        {"Accept": "text/html"},  # the browsable API is Django's
        {"Cookie": "sessionid=abc"},  # a browser session: only Django reads it
        {"Authorization": "Basic dXNlcjpwYXNz"},  # not a token: DRF reads it as anonymous
    ],
)
def test_what_only_django_can_answer_is_passed_on(city, headers) -> None:
    (answer,) = through_front([("/api/search?q=Ленина 12", headers)])
    assert answer.status_code == PASSED_ON


def test_a_format_parameter_is_passed_on(city) -> None:
    (answer,) = through_front([("/api/search?q=Ленина 12&format=api", {})])
    assert answer.status_code == PASSED_ON


def test_a_wrong_token_is_401_at_the_front(city) -> None:
    (answer,) = through_front([("/api/search?q=Ленина 12", {"Authorization": "Token nope"})])
    assert answer.status_code == 401
    assert answer.json()["error"]["message"] == "Invalid token."


def test_a_host_that_is_not_ours_is_400_at_the_front(city) -> None:
    (answer,) = through_front([("/api/search?q=Ленина 12", {"Host": "evil.example.com"})])
    assert answer.status_code == 400
    assert "Host" in answer.json()["error"]["message"]
