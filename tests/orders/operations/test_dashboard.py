"""GET /api/dashboard and /api/dashboard/districts on the hand-made set of dashboard_set.py."""

from __future__ import annotations

from typing import Any

import pytest

from orders.appeals.models import Appeal
from orders.appeals.services.registration import appeal_register
from orders.appeals.services.transitions import appeal_transition
from tests.orders.operations.dashboard_set import FIRST, LAST, at, build_set

pytestmark = pytest.mark.django_db

URL = "/api/dashboard"


@pytest.fixture
def made(db) -> dict[str, Any]:
    return build_set()


def get(client, token: str | None, **params: Any):
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}
    return client.get(URL, {"from": FIRST, "to": LAST, **params}, **headers)


def figures(received, done, archived, reopened, open_, in_work, overdue, median):
    return {
        "received": received,
        "done": done,
        "archived": archived,
        "reopened": reopened,
        "open": open_,
        "in_work": in_work,
        "overdue": overdue,
        "median_hours_to_close": median,
    }


WATER = figures(4, 3, 2, 0, 2, 1, 1, 6.0)
ROADS = figures(2, 1, 0, 1, 3, 2, 2, 24.0)
WEST = figures(4, 3, 1, 1, 1, 1, 1, 6.0)
EAST = figures(2, 0, 0, 0, 3, 1, 1, None)
NO_DISTRICT = figures(0, 1, 1, 0, 1, 1, 1, 240.0)


def rows(data: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    return {r["id"]: {k: v for k, v in r.items() if k not in ("id", "name", "code")} for r in data}


def test_the_totals_breakdowns_and_series_match_the_hand_made_set(client, made):
    response = get(client, made["operator"])
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["from"], data["to"]) == (FIRST, LAST)
    assert data["totals"] == figures(6, 4, 2, 1, 5, 3, 3, 15.0)
    assert rows(data["by_organisation"]) == {made["water"]: WATER, made["roads"]: ROADS}
    assert rows(data["by_district"]) == {made["west"]: WEST, made["east"]: EAST, None: NO_DISTRICT}
    assert [r["name"] for r in data["by_district"]] == ["East", "West", "(no district)"]
    by_category = {r["code"]: r for r in data["by_category"]}
    assert set(by_category) == {"pipe-burst", "pothole"}
    assert rows([by_category["pipe-burst"]]) == {by_category["pipe-burst"]["id"]: WATER}
    assert [(d["day"], d["received"], d["done"]) for d in data["series"]] == [
        ("2026-01-05", 2, 1),
        ("2026-01-06", 1, 2),
        ("2026-01-07", 1, 0),
        ("2026-01-08", 1, 0),
        ("2026-01-09", 0, 1),
        ("2026-01-10", 1, 0),
        ("2026-01-11", 0, 0),
    ]


def test_the_district_filter_narrows_every_figure(client, made):
    data = get(client, made["planner"], district=made["west"]).json()
    assert data["totals"] == WEST
    assert rows(data["by_district"]) == {made["west"]: WEST}
    # West: w1, w2 of water; r1, r5 of roads.
    assert rows(data["by_organisation"]) == {
        made["water"]: figures(2, 2, 1, 0, 0, 0, 0, 4.0),
        made["roads"]: figures(2, 1, 0, 1, 1, 1, 1, 24.0),
    }
    assert sum(d["received"] for d in data["series"]) == 4

    nowhere = get(client, made["operator"], district="none").json()
    assert nowhere["totals"] == NO_DISTRICT
    assert rows(nowhere["by_district"]) == {None: NO_DISTRICT}


def test_the_organisation_filter_narrows_every_figure(client, made):
    data = get(client, made["operator"], organisation=made["water"]).json()
    assert data["totals"] == WATER
    assert rows(data["by_organisation"]) == {made["water"]: WATER}
    assert rows(data["by_district"]) == {
        made["west"]: figures(2, 2, 1, 0, 0, 0, 0, 4.0),
        made["east"]: figures(2, 0, 0, 0, 2, 1, 1, None),
        None: figures(0, 1, 1, 0, 0, 0, 0, 240.0),
    }
    both = get(client, made["operator"], organisation=made["roads"], district=made["east"])
    # r3 (received after the period, open) is the only roads appeal in East that counts.
    assert both.json()["totals"] == figures(0, 0, 0, 0, 1, 0, 0, None)


def test_a_period_without_appeals_has_zero_totals_and_a_series_of_zeros(client, made):
    data = get(client, made["operator"], **{"from": "2024-03-01", "to": "2024-03-03"}).json()
    # Open and overdue are "now": they do not depend on the period.
    assert data["totals"] == figures(0, 0, 0, 0, 5, 3, 3, None)
    assert [(d["received"], d["done"]) for d in data["series"]] == [(0, 0)] * 3


def test_the_public_gets_401_and_a_service_403(client, made):
    assert get(client, None).status_code == 401
    response = get(client, made["service"])
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    districts = client.get(f"{URL}/districts", HTTP_AUTHORIZATION=f"Token {made['service']}")
    assert districts.status_code == 403
    assert client.get(f"{URL}/districts").status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-01-12", "to": "2026-01-11"}, "from"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "to"),  # 367 days
        ({"district": "abc"}, "district"),
        ({"district": "999999"}, "district"),
        ({"organisation": "-1"}, "organisation"),
        ({"organisation": "999999"}, "organisation"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, made, params, field):
    response = get(client, made["operator"], **params)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]


def test_a_period_of_366_days_is_allowed(client, made):
    response = get(client, made["operator"], **{"from": "2025-01-11", "to": "2026-01-11"})
    assert response.status_code == 200
    assert len(response.json()["series"]) == 366


def test_the_etag_answers_304_until_an_appeal_changes(client, made):
    auth = {"HTTP_AUTHORIZATION": f"Token {made['operator']}"}
    first = get(client, made["operator"])
    etag = first["ETag"]
    again = client.get(URL, {"from": FIRST, "to": LAST}, HTTP_IF_NONE_MATCH=etag, **auth)
    assert again.status_code == 304
    assert again.content == b""
    other_query = client.get(
        URL, {"from": FIRST, "to": LAST, "district": made["west"]}, HTTP_IF_NONE_MATCH=etag, **auth
    )
    assert other_query.status_code == 200

    appeal = appeal_register(
        category=made["water_category"], channel=Appeal.Channel.WEB, point=at(-400, 10)
    )
    changed = client.get(URL, {"from": FIRST, "to": LAST}, HTTP_IF_NONE_MATCH=etag, **auth)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert changed.json()["totals"]["open"] == 6  # received now, after the period: open only

    etag = changed["ETag"]
    appeal_transition(appeal_id=appeal.pk, to=Appeal.Status.REJECTED, by=made["operator_user"])
    moved = client.get(URL, {"from": FIRST, "to": LAST}, HTTP_IF_NONE_MATCH=etag, **auth)
    assert moved.status_code == 200
    assert moved.json()["totals"]["open"] == 5


def test_districts_come_as_geojson_with_their_figures(client, made):
    response = client.get(
        f"{URL}/districts",
        {"from": FIRST, "to": LAST},
        HTTP_AUTHORIZATION=f"Token {made['operator']}",
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/geo+json")
    data = response.json()
    assert data["type"] == "FeatureCollection"
    by_name = {f["properties"]["name"]: f for f in data["features"]}
    assert set(by_name) == {"West", "East"}
    assert by_name["West"]["geometry"]["type"] == "MultiPolygon"
    assert by_name["West"]["id"] == made["west"]
    assert {k: by_name["East"]["properties"][k] for k in EAST} == EAST

    # A district without an appeal counted is there with zeros.
    quiet = client.get(
        f"{URL}/districts",
        {"from": FIRST, "to": LAST, "organisation": made["water"], "district": made["west"]},
        HTTP_AUTHORIZATION=f"Token {made['operator']}",
    ).json()
    east = next(f for f in quiet["features"] if f["properties"]["name"] == "East")
    assert east["properties"]["received"] == 0 and east["properties"]["overdue"] == 0
