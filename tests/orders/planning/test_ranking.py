"""GET /api/yards/ranking: scores checked by hand, weights reorder, exclusions, bad input."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from gis.roles import Role
from layers.models import Organisation, Yard
from orders.permits.models import Permit
from tests.factories import rectangle
from tests.orders.planning.conftest import offset

pytestmark = pytest.mark.django_db

URL = "/api/yards/ranking"


def rank(client: APIClient, **params: str) -> dict:
    response = client.get(URL, {"exclude": "none", **params})
    assert response.status_code == 200, response.content
    return response.json()


def by_key(body: dict, yards: dict[str, Yard]) -> dict[str, dict]:
    keys = {y.pk: k for k, y in yards.items()}
    return {keys[row["id"]]: row for row in body["yards"]}


def minmax(values: dict[str, float]) -> dict[str, float]:
    low, high = min(values.values()), max(values.values())
    return {k: (v - low) / (high - low) for k, v in values.items()}


def test_scores_match_the_formula_worked_by_hand(planner: APIClient, yards: dict) -> None:
    body = rank(planner, weights="apartments:0.5,appeals:0.3,area:0.2")
    rows = by_key(body, yards)

    # Raw components: flats within 15 m (the 999-flat house 30 m off is not), appeals of the
    # last 12 months (not the older, rejected or duplicate ones), geodesic area.
    assert {k: r["components"]["apartments"]["raw"] for k, r in rows.items()} == {
        "Y1": 60,
        "Y2": 100,
        "Y3": 0,
        "Y4": 10,
    }
    assert {k: r["components"]["appeals"]["raw"] for k, r in rows.items()} == {
        "Y1": 1,
        "Y2": 0,
        "Y3": 4,
        "Y4": 2,
    }
    areas = {k: Yard.objects.get(pk=y.pk).area_m2 for k, y in yards.items()}
    assert areas == pytest.approx({"Y1": 10_000, "Y2": 2_000, "Y3": 4_000, "Y4": 900}, rel=2e-3)
    assert rows["Y3"]["buildings_within"] == 1 and rows["Y3"]["buildings_with_flats"] == 0

    # Min-max by hand: apartments 0…100, appeals 0…4, area 900…10,000.
    apartments = {"Y1": 0.6, "Y2": 1.0, "Y3": 0.0, "Y4": 0.1}
    appeals = {"Y1": 0.25, "Y2": 0.0, "Y3": 1.0, "Y4": 0.5}
    area = minmax(areas)
    assert area["Y2"] == pytest.approx(1_100 / 9_100, rel=1e-2)
    for key, row in rows.items():
        c = row["components"]
        assert c["apartments"]["normalised"] == pytest.approx(apartments[key], abs=1e-6)
        assert c["appeals"]["normalised"] == pytest.approx(appeals[key], abs=1e-6)
        assert c["area"]["normalised"] == pytest.approx(area[key], abs=1e-6)
        expected = 0.5 * apartments[key] + 0.3 * appeals[key] + 0.2 * area[key]
        assert row["score"] == pytest.approx(expected, abs=1e-6)
        assert sum(p["points"] for p in c.values()) == pytest.approx(row["score"], abs=1e-5)
    # Y1 0.575, Y2 0.524, Y3 0.368, Y4 0.2
    assert [row["id"] for row in body["yards"]] == [yards[k].pk for k in ("Y1", "Y2", "Y3", "Y4")]
    assert [row["rank"] for row in body["yards"]] == [1, 2, 3, 4]
    assert rows["Y1"]["score"] == pytest.approx(0.575, abs=1e-3)
    assert body["candidates"] == 4 and body["total_yards"] == 4
    assert body["notes"] == []


def test_changing_the_weights_reorders_the_yards(planner: APIClient, yards: dict) -> None:
    order = {
        "apartments:1": ["Y2", "Y1", "Y4", "Y3"],
        "appeals:1": ["Y3", "Y4", "Y1", "Y2"],
        "area:1": ["Y1", "Y3", "Y2", "Y4"],
        # Condition on its fixed scale: poor 1, fair 0.5, good 0, unknown 0.5.
        "area:1,condition:1": ["Y1", "Y4", "Y3", "Y2"],
    }
    ids = {y.pk: k for k, y in yards.items()}
    for weights, expected in order.items():
        body = rank(planner, weights=weights)
        assert [ids[r["id"]] for r in body["yards"]] == expected, weights
    # Weights are relative: doubling them all changes nothing.
    a = rank(planner, weights="apartments:0.5,appeals:0.3,area:0.2")["yards"]
    b = rank(planner, weights="apartments:1,appeals:0.6,area:0.4")["yards"]
    assert [(r["id"], r["score"]) for r in a] == [(r["id"], r["score"]) for r in b]
    # condition:1 alone: Y4 (poor) 1, Y3 (fair) 0.5, Y1 (unknown) 0.5, Y2 (good) 0.
    body = rank(planner, weights="condition:1")
    assert [(ids[r["id"]], r["score"]) for r in body["yards"]] == [
        ("Y4", 1.0),
        ("Y1", 0.5),
        ("Y3", 0.5),
        ("Y2", 0.0),
    ]


def test_the_apartments_radius_is_a_parameter(planner: APIClient, yards: dict) -> None:
    rows = by_key(rank(planner, weights="apartments:1", apartments_radius_m="35"), yards)
    # At 35 m the 999-flat house 30 m west of each yard counts too.
    assert rows["Y1"]["components"]["apartments"]["raw"] == 60 + 999
    rows = by_key(rank(planner, weights="apartments:1", apartments_radius_m="2"), yards)
    assert rows["Y1"]["components"]["apartments"]["raw"] == 0


def test_limit_cuts_the_list_but_not_the_normalisation(planner: APIClient, yards: dict) -> None:
    full = rank(planner)["yards"]
    top = rank(planner, limit="2")
    assert top["yards"] == full[:2]
    assert top["candidates"] == 4


def test_open_permits_and_recent_repairs_are_excluded(planner: APIClient, yards: dict) -> None:
    today = timezone.localdate()
    contractor = Organisation.objects.create(name="Diggers", kind=Organisation.Kind.CONTRACTOR)

    def permit(key: str, status: str) -> Permit:
        # A 20 m trench area across the yard's south-west corner.
        lon, lat = offset({"Y1": 0, "Y2": 600}[key] - 10, -10)
        return Permit.objects.create(
            number=f"P-{key}-{status}",
            contractor=contractor,
            responsible_person="A. Digger",
            purpose="water main",
            geom=rectangle(20, 20, lon, lat),
            issued_on=today,
            planned_start=today,
            deadline=today + timedelta(days=30),
            status=status,
        )

    permit("Y1", Permit.Status.IN_PROGRESS)
    permit("Y2", Permit.Status.CLOSED)  # restored already: no reason to skip the yard
    Yard.objects.filter(pk=yards["Y3"].pk).update(last_repaired_on=today - timedelta(days=730))
    Yard.objects.filter(pk=yards["Y4"].pk).update(last_repaired_on=date(2001, 5, 1))

    ids = {y.pk: k for k, y in yards.items()}
    body = rank(planner, exclude="open_permits,repaired:3")
    assert [ids[r["id"]] for r in body["yards"]] == ["Y2", "Y4"]
    assert body["excluded"] == {"open_permits": 1, "repaired": 1}
    assert body["candidates"] == 2

    body = rank(planner, exclude="repaired:1")
    assert sorted(ids[r["id"]] for r in body["yards"]) == ["Y1", "Y2", "Y3", "Y4"]
    body = rank(planner, exclude="open_permits")
    assert sorted(ids[r["id"]] for r in body["yards"]) == ["Y2", "Y3", "Y4"]
    # The default is open_permits,repaired:3.
    response = planner.get(URL)
    assert [ids[r["id"]] for r in response.json()["yards"]] == ["Y2", "Y4"]


def test_no_flats_anywhere_is_said_not_hidden(planner: APIClient, yards: dict) -> None:
    from layers.models import Building

    Building.objects.update(flats=None)
    body = rank(planner)
    assert body["buildings_with_flats"] == 0
    assert "apartments are unknown" in body["notes"][0]
    assert all(r["components"]["apartments"]["normalised"] == 0 for r in body["yards"])


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"weights": "apartments:-1"}, "between 0"),
        ({"weights": "foo:1"}, "Unknown weight"),
        ({"weights": "apartments:0"}, "above 0"),
        ({"weights": "apartments:0,area:0"}, "above 0"),
        ({"weights": "apartments:x"}, "not a number"),
        ({"weights": "apartments:nan"}, "between 0"),
        ({"weights": "apartments:1,apartments:2"}, "twice"),
        ({"weights": "apartments"}, "name:value"),
        ({"exclude": "lava"}, "Unknown exclusion"),
        ({"exclude": "repaired:x"}, "number of years"),
        ({"exclude": "repaired:0"}, "1 to 100"),
        ({"limit": "0"}, "Invalid input"),
        ({"apartments_radius_m": "-1"}, "Invalid input"),
    ],
)
def test_bad_ranking_input_is_a_400_naming_it(
    planner: APIClient, yards: dict, params: dict, needle: str
) -> None:
    response = planner.get(URL, params)
    assert response.status_code == 400, response.content
    assert needle in response.json()["error"]["message"]


def test_the_ranking_is_for_operators_and_planners_only(client_for, yards: dict) -> None:
    assert client_for(None).get(URL).status_code == 401
    assert client_for(Role.CONTRACTOR).get(URL).status_code == 403
    assert client_for(Role.OPERATOR).get(URL).status_code == 200


@pytest.mark.parametrize("radius", ["5e-324", "1e-300", "0.004"])
def test_a_radius_below_a_centimetre_is_no_radius_not_an_underflow(
    planner: APIClient, yards: dict, radius: str
) -> None:
    response = planner.get(f"/api/yards/ranking?apartments_radius_m={radius}")
    assert response.status_code == 200, response.content[:300]
    assert response.json()["apartments_radius_m"] == 0


@pytest.mark.parametrize("radius", ["-1", "nan", "inf", "1e308"])
def test_a_radius_out_of_range_is_400(planner: APIClient, yards: dict, radius: str) -> None:
    response = planner.get(f"/api/yards/ranking?apartments_radius_m={radius}")
    assert response.status_code == 400
