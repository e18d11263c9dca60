"""Where breaks recur: DBSCAN clusters on points placed in metres, repair candidates, the chart."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from gis.roles import Role
from orders.planning.charts import breaks_chart_svg
from tests.orders.planning.conftest import days_ago, offset

pytestmark = pytest.mark.django_db

URL = "/api/networks/hotspots"
SVG = "{http://www.w3.org/2000/svg}"


def hotspots(client: APIClient, **params) -> dict:
    params = {"since": days_ago(365).isoformat(), "eps_m": "30", "min_points": "3", **params}
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


def test_two_clusters_and_noise_on_points_placed_in_metres(
    operator: APIClient, breaks: dict
) -> None:
    body = hotspots(operator)
    assert body["projection"]["srid"] == 32618
    assert body["projection"]["name"] == "WGS 84 / UTM zone 18N"
    # 9 water records + 1 sewer record + 2 break appeals (the rejected one, the non-break
    # category and the record before the period are left out).
    assert body["incidents"] == 12 and body["from_appeals"] == 2
    assert body["located"] == 11  # the appeal without a point is not clustered
    assert body["noise"] == 3  # 2 far water points and the lone sewer point

    clusters = [f["properties"] for f in body["clusters"]["features"]]
    assert [(c["kind"], c["incidents"], c["from_appeals"]) for c in clusters] == [
        ("water", 5, 1),
        ("water", 3, 0),
    ]
    a, b = clusters
    assert (a["first"], a["last"]) == (days_ago(300).isoformat(), days_ago(20).isoformat())
    assert a["segments"] == [
        {
            "id": breaks["a"].pk,
            "kind": "water",
            "name": "Main A",
            "owner": "Water Co",
            "incidents": 5,
        }
    ]
    assert b["segments"] == []  # 240 m from main B: on no mapped segment
    assert 5 < a["radius_m"] < 12
    lon, lat = body["clusters"]["features"][0]["geometry"]["coordinates"]
    assert (lon, lat) == pytest.approx(offset(8, 0.8), abs=2e-5)


def test_segments_with_k_breaks_are_repair_candidates(operator: APIClient, breaks: dict) -> None:
    body = hotspots(operator, k="3")
    # Segment A: 4 records snapped to it within 5 m, and 2 appeals linked to it.
    assert body["repair_candidates"] == [
        {
            "segment": breaks["a"].pk,
            "kind": "water",
            "name": "Main A",
            "owner": "Water Co",
            "owner_id": breaks["owner"].pk,
            "breaks": 6,
            "from_appeals": 2,
            "first": days_ago(300).isoformat(),
            "last": days_ago(20).isoformat(),
        }
    ]
    assert hotspots(operator, k="7")["repair_candidates"] == []
    # Snapping within 2 m leaves out the record 3 m off the line: 3 records and 2 appeals.
    assert hotspots(operator, k="2", snap_m="2")["repair_candidates"][0]["breaks"] == 5


def test_kind_period_and_eps_narrow_the_analysis(operator: APIClient, breaks: dict) -> None:
    sewer = hotspots(operator, kind="sewer")
    assert (sewer["incidents"], sewer["noise"], sewer["clusters"]["features"]) == (1, 1, [])
    assert hotspots(operator, eps_m="2")["clusters"]["features"] == []
    recent = hotspots(operator, since=days_ago(120).isoformat())
    assert recent["incidents"] == 2 + 2 + 1 + 2  # (16,0), (4,3), far pair, sewer, 2 appeals
    wide = hotspots(operator, since=days_ago(1000).isoformat())
    assert wide["incidents"] == 13
    assert hotspots(operator, min_points="2")["noise"] == 3


@pytest.mark.parametrize(
    "params",
    [
        {"eps_m": "0"},
        {"eps_m": "-5"},
        {"eps_m": "5000"},
        {"kind": "lava"},
        {"min_points": "1"},
        {"k": "0"},
        {"since": "2024-13-01"},
        {"since": "2025-01-02", "until": "2025-01-01"},
        {"snap_m": "100"},
    ],
)
def test_bad_hotspot_input_is_a_400(operator: APIClient, breaks: dict, params: dict) -> None:
    response = operator.get(URL, params)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "bad_query"


def test_hotspots_are_for_staff(client_for, breaks: dict) -> None:
    assert client_for(None).get(URL).status_code == 401
    assert client_for(Role.CONTRACTOR).get(URL).status_code == 403
    assert client_for(Role.PLANNER).get(URL).status_code == 200
    assert client_for(None).get("/api/networks/breaks-chart.svg").status_code == 401


def test_the_chart_has_a_bar_per_month_and_kind_summing_to_the_breaks(
    operator: APIClient, breaks: dict
) -> None:
    since, until = days_ago(365), timezone.localdate()
    response = operator.get(
        "/api/networks/breaks-chart.svg", {"since": since.isoformat(), "until": until.isoformat()}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    svg = ET.fromstring(response.content)
    assert svg.tag == f"{SVG}svg"
    bars = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert sum(int(r.get("data-count")) for r in bars) == 12
    assert {r.get("data-kind") for r in bars} == {"water", "sewer"}
    by_month: dict[str, int] = {}
    for r in bars:
        by_month[r.get("data-month")] = by_month.get(r.get("data-month"), 0) + int(
            r.get("data-count")
        )
    assert by_month[days_ago(150).strftime("%Y-%m")] >= 3  # cluster B's three on one day
    assert "Network breaks per month" in svg.find(f"{SVG}title").text

    water = operator.get("/api/networks/breaks-chart.svg", {"kind": "water", "since": since})
    bars = [r for r in ET.fromstring(water.content).iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert sum(int(r.get("data-count")) for r in bars) == 11
    too_long = operator.get("/api/networks/breaks-chart.svg", {"since": "2001-01-01"})
    assert too_long.status_code == 400


def test_the_chart_draws_stacked_bars_to_scale() -> None:
    data = {
        "months": ["2024-01", "2024-02", "2024-03"],
        "kinds": ["water", "gas"],
        "series": {"water": [4, 0, 2], "gas": [1, 0, 0]},
        "total": 7,
    }
    svg = ET.fromstring(breaks_chart_svg(data=data, title="t <&> t"))
    bars = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert [(r.get("data-month"), r.get("data-kind"), r.get("data-count")) for r in bars] == [
        ("2024-01", "water", "4"),
        ("2024-01", "gas", "1"),
        ("2024-03", "water", "2"),
    ]
    heights = [float(r.get("height")) for r in bars]
    assert heights[0] == pytest.approx(4 * heights[1], rel=0.02)
    assert heights[2] == pytest.approx(2 * heights[1], rel=0.02)
    # Stacked: gas sits on top of water in January.
    assert float(bars[1].get("y")) + heights[1] == pytest.approx(float(bars[0].get("y")), abs=0.2)
    empty = breaks_chart_svg(data={"months": ["2024-01"], "kinds": [], "series": {}}, title="x")
    assert "No breaks in this period" in empty
