"""The dig-conflict check: networks crossed, active permits overlapping, repaired yards, routes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.gis.geos import LineString, MultiLineString

from layers.models import BusRoute, NetworkSegment, Organisation, SnowploughRoute, Yard
from orders.permits.selectors import local_today, permit_conflicts
from tests.factories import CITY_LAT, CITY_LON, rectangle
from tests.orders.permits.conftest import site

pytestmark = pytest.mark.django_db


def across(lat: float = CITY_LAT + 0.00003) -> LineString:
    """A line running west–east straight through ``site(0)``."""
    return LineString((CITY_LON - 0.001, lat), (CITY_LON + 0.001, lat), srid=4326)


@pytest.fixture
def gas(orgs):
    owner = Organisation.objects.create(name="Gas company", kind="service")
    return NetworkSegment.objects.create(kind="gas", owner=owner, geom=across())


def test_gas_main_crossed_blocks_with_kind_and_owner(gas):
    [conflict] = permit_conflicts(geom=site(0), today=local_today())
    assert (conflict.kind, conflict.level, conflict.layer, conflict.id) == (
        "network",
        "block",
        "networks",
        gas.pk,
    )
    assert conflict.properties == {"kind": "gas", "owner": "Gas company"}
    assert "Gas company" in conflict.message


def test_water_pipe_crossed_warns_and_a_line_further_than_two_metres_does_not(orgs):
    NetworkSegment.objects.create(kind="water", geom=across())
    NetworkSegment.objects.create(kind="power", geom=across(lat=CITY_LAT + 0.0005))  # 55 m north
    [conflict] = permit_conflicts(geom=site(0), today=local_today())
    assert (conflict.level, conflict.properties["kind"]) == ("warning", "water")


def test_overlapping_active_permit_blocks_closed_one_does_not(make_permit):
    closed = make_permit(geom=site(0))
    closed.status = "closed"
    closed.save()
    active = make_permit(geom=site(0))
    [conflict] = permit_conflicts(geom=site(0), today=local_today())
    assert (conflict.kind, conflict.level, conflict.id) == ("permit", "block", active.pk)
    assert conflict.properties["number"] == active.number
    assert permit_conflicts(geom=site(0), today=local_today(), exclude_permit_id=active.pk) == []


def test_recently_repaired_yard_and_blocked_routes_warn(orgs):
    today = local_today()
    Yard.objects.create(
        address="Yard A",
        geom=rectangle(40, 40, lon=CITY_LON - 0.0001, lat=CITY_LAT - 0.0001),
        last_repaired_on=today - timedelta(days=400),
    )
    Yard.objects.create(
        address="Old yard",
        geom=rectangle(40, 40, lon=CITY_LON - 0.0001, lat=CITY_LAT - 0.0001),
        last_repaired_on=today - timedelta(days=365 * 4),
    )
    BusRoute.objects.create(ref="22", name="Eastern", geom=MultiLineString(across(), srid=4326))
    SnowploughRoute.objects.create(
        name="Main Street", priority=1, geom=MultiLineString(across(), srid=4326)
    )
    conflicts = permit_conflicts(geom=site(0), today=today)
    assert sorted((c.kind, c.level) for c in conflicts) == [
        ("bus_route", "warning"),
        ("repaired_yard", "warning"),
        ("snowplough_route", "warning"),
    ]
    yard = next(c for c in conflicts if c.kind == "repaired_yard")
    assert yard.label == "Yard A"


def test_blocking_conflict_needs_an_operators_override(client, auth, orgs, gas):
    from tests.orders.permits.test_lifecycle import issue_body, post

    refused = post(client, "/api/permits", issue_body(orgs), **auth("operator"))
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "dig_conflict"
    assert error["conflicts"][0]["properties"]["owner"] == "Gas company"

    body = issue_body(orgs, conflict_override="Gas company's engineer on site, main isolated")
    issued = post(client, "/api/permits", body, **auth("operator"))
    assert issued.status_code == 201
    assert issued.json()["conflicts"][0]["kind"] == "network"
    props = issued.json()["properties"]
    assert props["conflict_override"].startswith("Gas company's engineer")
    assert props["linked_objects"]["networks"] == [gas.pk]
    assert props["history"][0]["data"]["conflicts"][0]["level"] == "block"


def test_conflict_preview_for_staff_only(client, auth, gas):
    body = json.dumps({"geom": json.loads(site(0).geojson)})
    ok = client.post(
        "/api/permits/conflicts", body, content_type="application/json", **auth("planner")
    )
    assert ok.status_code == 200 and ok.json()[0]["id"] == gas.pk
    denied = client.post(
        "/api/permits/conflicts", body, content_type="application/json", **auth("acme")
    )
    assert denied.status_code == 403


def test_contractor_never_sees_the_networks_its_permit_crosses(client, auth, make_permit, gas):
    permit = make_permit(conflict_override="isolated")
    own = client.get(f"/api/permits/{permit.pk}", **auth("acme")).json()["properties"]
    assert "networks" not in own["linked_objects"]
    staff = client.get(f"/api/permits/{permit.pk}", **auth("planner")).json()["properties"]
    assert staff["linked_objects"]["networks"] == [gas.pk]


# --- against the demo city ------------------------------------------------------------------------


@pytest.mark.e2e
def test_conflict_check_finds_the_demo_citys_real_networks(osm_file, orgs):
    from importers.services import osm_import

    osm_import(path=osm_file)
    segments = list(NetworkSegment.objects.select_related("owner").order_by("pk"))
    assert segments, "the extract has pipelines and power lines"
    for segment in segments[:6]:
        middle = segment.geom.interpolate_normalized(0.5)
        area = rectangle(6, 6, lon=middle.x - 0.00003, lat=middle.y - 0.00003)
        conflicts = permit_conflicts(geom=area, today=local_today())
        found = [c for c in conflicts if c.kind == "network" and c.id == segment.pk]
        assert found, segment
        assert found[0].properties["kind"] == segment.kind
        assert found[0].level == ("block" if segment.kind in ("gas", "power") else "warning")
        assert found[0].properties["owner"] == (segment.owner.name if segment.owner else None)
