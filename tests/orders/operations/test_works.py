"""Works on a date: which permits, yards and repairs are on the ground, for whom; the tile layer.

The fixture (conftest ``works``), with DAY = 2025-06-10 and TODAY = 2025-06-20:

* P1 in progress 06-05→06-15 (Acme): covers DAY.        P2 issued 06-13→07-01 (Other): later.
* P3 closed, restored 06-02: before DAY.                 P4 in progress 05-20→06-08 (Other):
  overran, still open — covers DAY.                      P5 cancelled: never.
* P6 closed, restored 06-12 (Acme): covers DAY.
* Y1 in progress, June: covers DAY. Y2 planned, August. Y3 done 05-20. Y4 in progress, September:
  covers TODAY only (started before its month).
* R1 planned 06-09→06-11: covers DAY. R2 cancelled. R3 done in May.
"""

from __future__ import annotations

import asyncio
from datetime import date

import httpx
import mapbox_vector_tile
import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from gis.roles import PUBLIC, Role, Viewer
from gis.spatial import lonlat_to_tile
from layers.registry import LAYERS, layers_purged_with
from orders.operations.works import works_on
from orders.permits.models import Permit
from tests.front import run_front
from tests.orders.operations.conftest import DAY, TODAY
from tiles.asgi import TileServer
from tiles.triggers import views

OPERATOR = Viewer(role=Role.OPERATOR)


def key(feature: dict) -> str:
    """A work's fixture key: "Permit P1: Dig P1", "Yard repair: Y1 Yard", "… network: Main R1"."""
    words = feature["properties"]["title"].split()
    kind = feature["properties"]["kind"]
    return {"permit": words[1].rstrip(":"), "yard": words[2]}.get(kind, words[-1])


def titles(result: dict) -> set[str]:
    return {key(f) for f in result["features"]}


def test_works_on_a_day_for_an_operator(works):
    result = works_on(day=DAY, today=TODAY, viewer=OPERATOR)
    assert titles(result) == {"P1", "P4", "P6", "Y1", "R1"}
    assert result["counts"] == {"permit": 3, "yard": 1, "network_repair": 1, "improvement": 0}
    why = {
        f["properties"]["title"].split(":")[0]: f["properties"]["on_the_date"]
        for f in result["features"]
    }
    assert why["Permit P1"] == "planned"
    assert why["Permit P4"] == "still open past its end"
    p6 = next(f for f in result["features"] if f["properties"]["title"].startswith("Permit P6"))
    assert p6["properties"]["ends_on"] == "2025-06-12"  # the restoration act's day
    assert p6["properties"]["organisation"] == "Acme Digging"
    assert p6["geometry"]["type"] == "Polygon"
    y1 = next(f for f in result["features"] if f["properties"]["kind"] == "yard")
    assert (y1["properties"]["planned_month"], y1["properties"]["starts_on"]) == (6, "2025-06-01")
    assert y1["properties"]["ends_on"] == "2025-06-30"
    r1 = next(f for f in result["features"] if f["properties"]["kind"] == "network_repair")
    assert r1["geometry"]["type"] == "LineString"
    assert r1["properties"]["organisation"] == "Water service"
    assert result["yard_plan"] == {
        "year": 2025,
        "yards": 4,
        "by_status": {"planned": 1, "in_progress": 2, "done": 1},
    }


def test_today_adds_work_in_progress_before_its_planned_start(works):
    result = works_on(day=TODAY, today=TODAY, viewer=OPERATOR)
    # P1, P4 overran and open; P2 open from 06-13; Y1 (June) and Y4 (September, in progress);
    # not P6, restored on 06-12.
    assert titles(result) == {"P1", "P2", "P4", "Y1", "Y4"}
    y4 = next(
        f for f in result["features"] if f["properties"]["title"].startswith("Yard repair: Y4")
    )
    assert y4["properties"]["on_the_date"] == "in progress before its planned start"


def test_days_after_today_follow_the_plans_only(works):
    result = works_on(day=date(2025, 6, 25), today=TODAY, viewer=OPERATOR)
    # P4 is overdue now, but nobody knows it will still be open on the 25th: plans only.
    assert titles(result) == {"P2", "Y1"}


def test_a_contractor_sees_its_own_permits_and_the_public_yard_plan(works):
    acme = Viewer(role=Role.CONTRACTOR, organisation_id=works["permits"]["P1"].contractor_id)
    result = works_on(day=DAY, today=TODAY, viewer=acme)
    assert titles(result) == {"P1", "P6", "Y1"}
    assert result["counts"] == {"permit": 2, "yard": 1, "improvement": 0}


def test_the_public_sees_the_yard_plan_only(works):
    result = works_on(day=DAY, today=TODAY, viewer=PUBLIC)
    assert titles(result) == {"Y1"}
    assert result["counts"] == {"yard": 1, "improvement": 0}


def test_the_api_answers_a_date_and_a_bbox(works, client_for):
    operator = client_for(Role.OPERATOR)
    response = operator.get("/api/works", {"date": "2025-06-10"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["type"] == "FeatureCollection" and body["date"] == "2025-06-10"
    # Today is the real one here, after TODAY: the same works as on the fixed calendar.
    assert titles(body) == {"P1", "P4", "P6", "Y1", "R1"}

    p1 = works["permits"]["P1"].geom.extent
    bbox = ",".join(str(v) for v in (p1[0] - 1e-5, p1[1] - 1e-5, p1[2] + 1e-5, p1[3] + 1e-5))
    body = operator.get("/api/works", {"date": "2025-06-10", "bbox": bbox}).json()
    assert titles(body) == {"P1"}

    contractor = client_for(Role.CONTRACTOR).get("/api/works", {"date": "2025-06-10"}).json()
    assert titles(contractor) == {"P1", "P6", "Y1"}
    public = client_for(None).get("/api/works", {"date": "2025-06-10"}).json()
    assert titles(public) == {"Y1"}


def test_the_api_defaults_to_today(works, client_for):
    body = client_for(Role.OPERATOR).get("/api/works").json()
    assert body["date"] == body["today"]


@pytest.mark.parametrize(
    "params",
    [
        {"date": "2025-13-01"},
        {"date": "yesterday"},
        {"date": "2025-06-10'; DROP TABLE permits_permit; --"},
        {"bbox": "1,2,3"},
        {"bbox": "10,10,0,0"},
    ],
)
def test_malformed_input_is_400(works, client_for, params):
    response = client_for(Role.OPERATOR).get("/api/works", params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_query"


# --- the works tile layer --------------------------------------------------------------------


def test_the_works_layer_is_fed_by_its_sources_and_has_no_trigger_of_its_own(db):
    assert LAYERS["works"].fed_by == (
        "permits",
        "yard_plan",
        "network_repairs",
        "improvement_works",
    )
    assert layers_purged_with("permits") == {"permits", "works"}
    assert layers_purged_with("buildings") == {"buildings"}
    assert views(["operations_work", "permits_permit"]) == {"operations_work"}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'operations_work'::regclass"
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'planning_networkrepair'::regclass"
            " AND tgname LIKE 'citygis_tile_purge%%'"
        )
        assert cursor.fetchone()[0] == 3


def work_statuses(response: httpx.Response) -> dict[str, str]:
    if response.status_code == 204:
        return {}
    layer = mapbox_vector_tile.decode(response.content)["works"]
    return {f["properties"]["title"]: f["properties"]["status"] for f in layer["features"]}


async def eventually(check, timeout: float = 2.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if await check():
            return True
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_a_permit_change_purges_the_works_tiles_it_touches(works, client_for):
    client_for(Role.OPERATOR)
    client_for(Role.CONTRACTOR)
    operator = {"Authorization": f"Token {_token(Role.OPERATOR)}"}
    contractor = {"Authorization": f"Token {_token(Role.CONTRACTOR)}"}
    p1 = works["permits"]["P1"]
    centre = p1.geom.point_on_surface
    x, y = lonlat_to_tile(centre.x, centre.y, 16)
    path = f"/tiles/works/16/{x}/{y}.mvt"
    far = lonlat_to_tile(centre.x + 0.02, centre.y, 16)
    far_path = f"/tiles/works/16/{far[0]}/{far[1]}.mvt"

    async def scenario(client: httpx.AsyncClient, server: TileServer):
        assert (await client.get(path)).status_code == 401
        assert (await client.get(path, headers=contractor)).status_code == 403
        before = work_statuses(await client.get(path, headers=operator))
        assert before["Permit P1: Dig P1"] == "in_progress"
        await client.get(far_path, headers=operator)
        far_keys = {k for k in server.local._entries if k.endswith(f"{far[0]}/{far[1]}")}
        assert far_keys

        def close_p1():
            Permit.objects.filter(pk=p1.pk).update(status=Permit.Status.CLOSED)
            connection.close()

        await asyncio.to_thread(close_p1)

        async def purged():
            now = work_statuses(await client.get(path, headers=operator))
            return now.get("Permit P1: Dig P1") == "closed"

        assert await eventually(purged)
        # A tile the change did not touch stays cached.
        assert far_keys <= set(server.local._entries)
        return True

    assert run_front(scenario)


def _token(role: Role) -> str:
    return Token.objects.get(user__username=f"test-{role}").key
