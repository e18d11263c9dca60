"""POST /api/yards/plans: budget and count, versions, statuses, carried-over work, bad input."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from gis.roles import Role
from layers.models import Yard
from orders.planning.models import YardPlan, YardPlanItem

pytestmark = pytest.mark.django_db

URL = "/api/yards/plans"
YEAR = 2027


def make_plan(client: APIClient, **body) -> dict:
    response = client.post(URL, {"year": YEAR, "exclude": "none", **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def cost(yard: Yard, unit: str) -> Decimal:
    area = Yard.objects.get(pk=yard.pk).area_m2
    return (Decimal(str(area)) * Decimal(unit)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def test_a_count_takes_the_top_yards(planner: APIClient, yards: dict) -> None:
    body = make_plan(planner, count=2)
    assert [i["properties"]["yard"] for i in body["items"]] == [yards["Y1"].pk, yards["Y2"].pk]
    assert [i["properties"]["rank"] for i in body["items"]] == [1, 2]
    assert body["basis"] == "count" and body["version"] == 1 and body["is_record"]
    # Y1 asphalt at 60/m², Y2 paving at 95/m².
    assert body["items"][0]["properties"]["cost"] == float(cost(yards["Y1"], "60"))
    assert body["items"][1]["properties"]["cost"] == float(cost(yards["Y2"], "95"))
    assert body["total_cost"] == pytest.approx(
        float(cost(yards["Y1"], "60") + cost(yards["Y2"], "95"))
    )
    # Spread over May–October (6 months) in equal shares of area: Y1 first, in May; Y2 starts
    # after Y1's 10,000 of the 12,000 m², 5/6 into the season: October (September if Y1's
    # geodesic area is a hair under 10,000).
    a1, a2 = (Yard.objects.get(pk=yards[k].pk).area_m2 for k in ("Y1", "Y2"))
    assert body["items"][0]["properties"]["planned_month"] == f"{YEAR}-05"
    assert (
        body["items"][1]["properties"]["planned_month"]
        == f"{YEAR}-{5 + int(a1 / (a1 + a2) * 6):02d}"
    )


def test_a_budget_takes_yards_in_rank_order_while_their_cost_fits(
    planner: APIClient, yards: dict
) -> None:
    # Y1 ≈ 600,000 fits; Y2 ≈ 190,000 does not fit the 120,000 left; Y3 ≈ 100,000 does;
    # Y4 ≈ 63,000 does not fit the 20,000 left.
    body = make_plan(planner, budget="720000")
    assert [i["properties"]["yard"] for i in body["items"]] == [yards["Y1"].pk, yards["Y3"].pk]
    assert [i["properties"]["rank"] for i in body["items"]] == [1, 2]
    expected = cost(yards["Y1"], "60") + cost(yards["Y3"], "25")
    assert Decimal(str(body["total_cost"])) == expected
    assert body["total_cost"] <= 720_000
    assert body["items"][1]["properties"]["unit_cost"] == 25.0
    # Y3 starts after Y1's 10,000 of the 14,000 m²: 10/14 of six months → the 5th, September.
    assert [i["properties"]["planned_month"] for i in body["items"]] == [f"{YEAR}-05", f"{YEAR}-09"]

    small = make_plan(planner, budget="50000")
    assert small["items"] == [] and small["total_cost"] == 0


def test_a_budget_respects_the_exclusions(planner: APIClient, yards: dict) -> None:
    Yard.objects.filter(pk=yards["Y1"].pk).update(
        last_repaired_on=timezone.localdate() - timedelta(days=100)
    )
    body = make_plan(planner, budget="1000000", exclude="repaired:3")
    assert yards["Y1"].pk not in [i["properties"]["yard"] for i in body["items"]]
    assert body["exclude"] == {"open_permits": False, "repaired_years": 3}


def test_each_post_makes_a_new_version_and_the_latest_is_of_record(
    planner: APIClient, yards: dict
) -> None:
    first = make_plan(planner, count=2)
    second = make_plan(planner, count=3, weights="appeals:1")
    assert (first["version"], second["version"]) == (1, 2)
    plans = {p.version: p for p in YardPlan.objects.filter(year=YEAR)}
    assert not plans[1].is_record and plans[2].is_record
    assert plans[1].superseded_at is not None and plans[2].superseded_at is None
    # The superseded version is kept whole in its archive; only the plan of record has item
    # rows, which are the public yard_plan layer.
    assert not YardPlanItem.objects.filter(plan=plans[1]).exists()
    assert YardPlanItem.objects.filter(plan=plans[2]).count() == 3
    assert plans[1].archive == first["items"]
    assert plans[1].archive[0]["geometry"]["type"] == "Polygon"
    assert plans[1].weights == {"apartments": 0.5, "appeals": 0.3, "area": 0.2, "condition": 0.0}

    listed = planner.get(URL, {"year": YEAR}).json()["plans"]
    assert [(p["version"], p["is_record"], p["yards"]) for p in listed] == [
        (2, True, 3),
        (1, False, 2),
    ]
    detail = planner.get(f"{URL}/{first['id']}").json()
    assert detail["version"] == 1 and len(detail["items"]) == 2
    # Another year is numbered on its own.
    assert make_plan(planner, count=1, year=YEAR + 1)["version"] == 1


def test_a_dry_run_saves_nothing(planner: APIClient, yards: dict) -> None:
    response = planner.post(
        URL, {"year": YEAR, "count": 2, "exclude": "none", "dry_run": True}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["dry_run"] and [i["properties"]["yard"] for i in body["items"]] == [
        yards["Y1"].pk,
        yards["Y2"].pk,
    ]
    assert not YardPlan.objects.exists()


def test_planners_set_statuses_and_done_marks_the_yard_repaired(
    planner: APIClient, operator: APIClient, yards: dict
) -> None:
    plan = make_plan(planner, count=2)
    item = plan["items"][0]
    url = f"{URL}/{plan['id']}/items/{item['id']}"

    response = planner.patch(url, {"status": "in_progress"}, format="json")
    assert response.status_code == 200
    assert response.json()["properties"]["status"] == "in_progress"

    day = timezone.localdate() - timedelta(days=2)
    response = planner.patch(url, {"status": "done", "done_on": day.isoformat()}, format="json")
    assert response.status_code == 200
    assert response.json()["properties"]["done_on"] == day.isoformat()
    assert Yard.objects.get(pk=yards["Y1"].pk).last_repaired_on == day

    assert operator.patch(url, {"status": "planned"}, format="json").status_code == 403
    assert APIClient().patch(url, {"status": "planned"}, format="json").status_code == 401
    assert planner.patch(url, {"status": "lava"}, format="json").status_code == 400
    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    assert (
        planner.patch(url, {"status": "done", "done_on": future}, format="json").status_code == 400
    )
    assert planner.patch(f"{URL}/{plan['id']}/items/999999", {"status": "done"}).status_code == 404


def test_a_new_version_keeps_the_work_already_started(planner: APIClient, yards: dict) -> None:
    first = make_plan(planner, count=2)
    started = first["items"][1]  # Y2
    planner.patch(
        f"{URL}/{first['id']}/items/{started['id']}", {"status": "in_progress"}, format="json"
    )
    second = make_plan(planner, count=2, weights="appeals:1")
    # Y2 stays, first, as it was; then the best by appeals: Y3.
    assert [
        (i["properties"]["yard"], i["properties"]["status"], i["properties"]["carried_over"])
        for i in second["items"]
    ] == [
        (yards["Y2"].pk, "in_progress", True),
        (yards["Y3"].pk, "planned", False),
    ]
    assert (
        second["items"][0]["properties"]["planned_month"] == started["properties"]["planned_month"]
    )
    assert "kept from the last version" in second["notes"][0]
    # The superseded version is history: its items can no longer be changed.
    response = planner.patch(
        f"{URL}/{first['id']}/items/{started['id']}", {"status": "done"}, format="json"
    )
    assert response.status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"year": "abc", "count": 2},
        {"year": 1999, "count": 2},
        {"year": YEAR, "budget": -5},
        {"year": YEAR, "budget": "abc"},
        {"year": YEAR, "budget": 0},
        {"year": YEAR},
        {"year": YEAR, "budget": 1000, "count": 2},
        {"year": YEAR, "count": 0},
        {"year": YEAR, "count": 2, "weights": "apartments:-1"},
        {"year": YEAR, "count": 2, "weights": "foo:1"},
        {"year": YEAR, "count": 2, "first_month": 9, "last_month": 4},
        {"year": YEAR, "count": 2, "exclude": "everything"},
    ],
)
def test_bad_plan_input_is_a_400(planner: APIClient, yards: dict, body: dict) -> None:
    response = planner.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    assert not YardPlan.objects.exists()


def test_only_planners_make_plans(client_for, yards: dict) -> None:
    body = {"year": YEAR, "count": 1}
    assert client_for(None).post(URL, body, format="json").status_code == 401
    assert client_for(Role.OPERATOR).post(URL, body, format="json").status_code == 403
    assert client_for(Role.CONTRACTOR).post(URL, body, format="json").status_code == 403
    assert client_for(Role.CONTRACTOR).get(URL).status_code == 403
    assert client_for(Role.OPERATOR).get(URL).status_code == 200
    assert not YardPlan.objects.exists()


def test_the_admin_shows_plans_items_unit_costs_and_incidents(
    planner: APIClient, yards: dict, admin_client
) -> None:
    plan = make_plan(planner, count=2)
    make_plan(planner, count=1)  # the first becomes history
    for url in (
        "/admin/planning/yardplan/",
        f"/admin/planning/yardplan/{plan['id']}/change/",
        "/admin/planning/yardplanitem/",
        "/admin/planning/unitcost/",
        "/admin/planning/incident/",
    ):
        assert admin_client.get(url).status_code == 200, url
