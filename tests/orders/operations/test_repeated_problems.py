"""Repeated problems on a fixture with known answers, the refresh command and its tile layer."""

from __future__ import annotations

from datetime import timedelta

import httpx
import mapbox_vector_tile
import pytest
from django.utils import timezone

from gis.roles import Role
from gis.spatial import lonlat_to_tile
from layers.models import StreetLight, Yard
from orders.appeals.models import Appeal, Category
from orders.operations.models import RepeatedProblem
from tests.factories import WGS84, at, point, rectangle
from tests.front import run_front
from tiles.asgi import TileServer

FAR_EAST_M = 1500  # the lone unlinked appeal, far from the place cluster


@pytest.fixture
def city(db):
    """An object with 3 counted appeals, one with 2, a place of 3 unlinked ones, one far away.

    Known answers (36 months, min 3, radius 50 m): the yard (3 appeals: pothole 2, flooding 1;
    1 of 3 open) and the place (3 appeals 20 m apart: pothole 3; 2 of 3 open). Not counted: the
    lamp (2 appeals), the yard's rejected and its 40-month-old appeals, the far appeal.
    """
    now = timezone.now()
    pothole = Category.objects.create(code="pothole", name="Pothole", layer="yards")
    flooding = Category.objects.create(code="flooding", name="Flooding", layer="yards")
    lamp_out = Category.objects.create(code="light-out", name="Light out", layer="street_lights")
    yard = Yard.objects.create(
        source="test", source_id="y1", address="1 Yard Lane", geom=rectangle(40, 30)
    )
    lamp = StreetLight.objects.create(source="test", source_id="l1", ref="L-7", geom=at(400))
    S = Appeal.Status
    made = iter(range(1, 100))

    def appeal(category, status, days_ago, *, linked=None, geom=None):
        n = next(made)
        return Appeal.objects.create(
            number=f"A-{n:03d}",
            channel=Appeal.Channel.PHONE,
            category=category,
            status=status,
            received_at=now - timedelta(days=days_ago),
            geom=geom,
            linked_layer=linked[0] if linked else "",
            linked_id=linked[1].pk if linked else None,
        )

    on_yard = ("yards", yard)
    yard_appeals = [
        appeal(pothole, S.NEW, 400, linked=on_yard, geom=at(5, 5)),
        appeal(pothole, S.ARCHIVED, 30, linked=on_yard, geom=at(6, 6)),
        appeal(flooding, S.DONE, 3, linked=on_yard, geom=at(7, 7)),
    ]
    appeal(pothole, S.REJECTED, 10, linked=on_yard)  # not the city's: not counted
    appeal(pothole, S.NEW, 40 * 31, linked=on_yard)  # before the 36 months
    lamp_appeals = [
        appeal(lamp_out, S.IN_WORK, 20, linked=("street_lights", lamp)),
        appeal(lamp_out, S.NEW, 10, linked=("street_lights", lamp)),
    ]
    place_appeals = [
        appeal(pothole, S.IN_WORK, 100, geom=at(800)),
        appeal(pothole, S.REOPENED, 50, geom=at(820)),
        appeal(pothole, S.ARCHIVED, 5, geom=at(800, 20)),
    ]
    far = appeal(pothole, S.NEW, 5, geom=at(FAR_EAST_M))
    return {
        "yard": yard,
        "lamp": lamp,
        "yard_appeals": yard_appeals,
        "lamp_appeals": lamp_appeals,
        "place_appeals": place_appeals,
        "far": far,
        "now": now,
    }


def local_day(moment) -> str:
    return timezone.localtime(moment).date().isoformat()


def get(client, **params):
    return client.get("/api/problems/repeated", params)


def test_finds_the_object_and_the_place_with_their_counts_dates_and_open_share(city, client_for):
    response = get(client_for(Role.OPERATOR), months=36, min=3)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["objects"], body["places"]) == (1, 1)
    yard, place = (f["properties"] for f in body["problems"]["features"])
    # Sorted by count, then by the latest appeal: both have 3; the yard's last is 3 days ago.
    assert yard["kind"] == "object"
    assert (yard["layer"], yard["object_id"]) == ("yards", city["yard"].pk)
    assert yard["label"] == "1 Yard Lane"
    assert yard["appeals"] == 3
    assert yard["open"] == 1 and yard["open_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert yard["categories"] == [
        {"category": "pothole", "appeals": 2},
        {"category": "flooding", "appeals": 1},
    ]
    assert yard["numbers"] == [a.number for a in city["yard_appeals"]]
    assert yard["first_date"] == local_day(city["yard_appeals"][0].received_at)
    assert yard["last_date"] == local_day(city["yard_appeals"][2].received_at)

    assert place["kind"] == "place" and place["layer"] is None
    assert place["appeals"] == 3
    assert place["open_share"] == pytest.approx(2 / 3, abs=1e-4)
    assert place["categories"] == [{"category": "pothole", "appeals": 3}]
    assert sorted(place["numbers"]) == sorted(a.number for a in city["place_appeals"])
    assert city["far"].number not in place["numbers"]

    # The yard is drawn on its surface; the place at the centroid of its appeals.
    yard_point = body["problems"]["features"][0]["geometry"]["coordinates"]
    assert city["yard"].geom.contains(point(*yard_point))
    lon, lat = body["problems"]["features"][1]["geometry"]["coordinates"]
    expected = at(806.7, 6.7)
    assert WGS84.inv(lon, lat, expected.x, expected.y)[2] < 2
    assert body["projection"]["srid"] == 32618  # UTM 18N: Baltimore


def test_a_lower_threshold_adds_the_object_with_two(city, client_for):
    body = get(client_for(Role.PLANNER), min=2).json()
    counts = [
        (f["properties"]["label"], f["properties"]["appeals"]) for f in body["problems"]["features"]
    ]
    assert ("street light L-7", 2) in counts
    assert [c for _, c in counts] == sorted((c for _, c in counts), reverse=True)


def test_a_smaller_radius_breaks_the_place_and_a_category_narrows(city, client_for):
    operator = client_for(Role.OPERATOR)
    body = get(operator, radius_m=10).json()
    assert (body["objects"], body["places"]) == (1, 0)
    body = get(operator, category="flooding", min=2).json()
    assert body["problems"]["features"] == []
    body = get(operator, category="pothole", min=2).json()
    place, yard = (f["properties"] for f in body["problems"]["features"])
    assert place["kind"] == "place" and place["appeals"] == 3
    assert yard["appeals"] == 2 and yard["categories"] == [{"category": "pothole", "appeals": 2}]


def test_a_short_period_leaves_out_older_appeals(city, client_for):
    body = get(client_for(Role.OPERATOR), months=2, min=2).json()
    labels = {
        f["properties"]["label"]: f["properties"]["appeals"] for f in body["problems"]["features"]
    }
    assert labels == {"1 Yard Lane": 2, "street light L-7": 2, "Place 1: 2 unlinked appeals": 2}


@pytest.mark.parametrize(
    "params",
    [
        {"months": 0},
        {"months": "abc"},
        {"months": 1000},
        {"min": 1},
        {"min": "x"},
        {"radius_m": -5},
        {"radius_m": 5000},
        {"radius_m": "nan"},
        {"category": "no-such-category"},
        {"category": 'x";DROP TABLE'},
    ],
)
def test_bad_parameters_are_400(city, client_for, params):
    response = get(client_for(Role.OPERATOR), **params)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "bad_query"


def test_only_operators_and_planners_see_repeated_problems(city, client_for):
    assert get(client_for(None)).status_code == 401
    assert get(client_for(Role.CONTRACTOR)).status_code == 403


def test_refresh_fills_the_table_and_replaces_its_rows(city, run_command):
    RepeatedProblem.objects.create(
        kind="place",
        appeals=9,
        open_share=1,
        categories="stale 9",
        first_date=city["now"].date(),
        last_date=city["now"].date(),
        geom=at(3000),
        refreshed_at=city["now"],
    )
    run = run_command("refresh_repeated_problems")
    assert run.stdout.strip() == "repeated problems: 1 objects, 1 places"
    rows = list(RepeatedProblem.objects.order_by("kind"))
    assert [(r.kind, r.appeals, r.categories) for r in rows] == [
        ("object", 3, "pothole 2, flooding 1"),
        ("place", 3, "pothole 3"),
    ]
    assert rows[0].label == "1 Yard Lane" and rows[0].object_id == city["yard"].pk
    assert rows[1].open_share == pytest.approx(2 / 3, abs=1e-4)
    # Twice is the same: rows replaced, not added.
    run_command("refresh_repeated_problems")
    assert RepeatedProblem.objects.count() == 2


def test_the_periodic_task_is_registered_with_the_cron_setting(settings):
    from procrastinate.contrib.django import app

    from orders.operations import tasks

    periodic = {p.periodic_id: p.cron for p in app.periodic_registry.periodic_tasks.values()}
    assert periodic["repeated_problems_refresh"] == settings.REPEATED_PROBLEMS_CRON
    assert tasks.refresh_repeated_problems.name == "operations.refresh_repeated_problems"


@pytest.mark.django_db(transaction=True)
def test_the_tile_layer_shows_the_problems_to_operators_not_to_the_public(
    city, client_for, run_command
):
    run_command("refresh_repeated_problems")
    from rest_framework.authtoken.models import Token

    client_for(Role.OPERATOR)
    token = Token.objects.get(user__username=f"test-{Role.OPERATOR}").key
    place = RepeatedProblem.objects.get(kind="place").geom
    x, y = lonlat_to_tile(place.x, place.y, 15)
    path = f"/tiles/repeated_problems/15/{x}/{y}.mvt"

    async def scenario(client: httpx.AsyncClient, server: TileServer):
        public = await client.get(path)
        staff = await client.get(path, headers={"Authorization": f"Token {token}"})
        return public, staff

    public, staff = run_front(scenario)
    assert public.status_code == 401
    assert staff.status_code == 200
    [feature] = mapbox_vector_tile.decode(staff.content)["repeated_problems"]["features"]
    assert feature["properties"]["appeals"] == 3
    assert feature["properties"]["categories"] == "pothole 3"
    assert feature["properties"]["kind"] == "place"


@pytest.mark.parametrize("months", [100, 200, 240])
def test_the_longest_documented_periods_answer(city, client_for, months):
    response = client_for(Role.OPERATOR).get(f"/api/problems/repeated?months={months}")
    assert response.status_code == 200, response.content[:300]
    assert response.json()["parameters"]["months"] == months
