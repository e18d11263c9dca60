"""One role matrix over every door: what a role may not see, no door shows it.

Roles: the public, contractor A, contractor B, a planner, an operator. Restricted things: a water
main, a manhole, a camera, each contractor's permit (and its responsible person, staff only), a
claim to contractor A, a resident's name, phone and e-mail (the operator and the service fixing
the appeal), the appeal's text (staff only). Each thing carries a marker string that any answer
showing it contains. Each door is asked by every role through the production front (tiles.asgi
in front of Django), the admin through a logged-in browser session, the PMTiles export as the
file the public downloads. A role outside a thing's audience must never find its marker in a
door's 2xx answer; a door that can show the thing must show it to some role of its audience,
so no row can pass by showing nothing. Every documented operation, every route and every layer
must have its rows (or a reason why not) in the tables below: a new door fails until it has.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import mapbox_vector_tile
import pytest
from django.contrib.gis.geos import LineString, MultiPolygon, Point, Polygon
from django.core.management import call_command
from django.utils import timezone
from pmtiles.reader import MmapSource, all_tiles
from pyproj import Geod

from gis.roles import Role
from gis.services import user_create_or_update
from gis.spatial import lonlat_to_tile
from gis.strict import documented_operations
from layers.models import Building, Camera, Manhole, NetworkKind, NetworkSegment, Organisation
from layers.registry import LAYERS
from orders.appeals.models import Appeal, Category
from orders.appeals.services.registration import appeal_register, categories_load
from orders.operations.models import RepeatedProblem
from orders.permits.models import Claim
from orders.permits.services.sweep import claims_create_overdue
from orders.planning.models import Incident, NetworkRepair
from tests.factories import overdue_permit
from tests.front import run_front

pytestmark = pytest.mark.django_db(transaction=True)

ROLES = ("public", "contractor_a", "contractor_b", "planner", "operator")
STAFF = {"planner", "operator"}
Z = 17
GEOD = Geod(ellps="WGS84")


def tile_centre(lon: float, lat: float, z: int) -> tuple[int, int, float, float]:
    """The tile holding the point, and the tile's centre."""
    n = 2**z
    x, y = lonlat_to_tile(lon, lat, z)
    centre_lon = (x + 0.5) / n * 360 - 180
    centre_lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 0.5) / n))))
    return x, y, centre_lon, centre_lat


X, Y, LON, LAT = tile_centre(-76.57, 39.28, Z)


def near(east_m: float, north_m: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(LON, LAT, 90, east_m)
    lon, lat, _ = GEOD.fwd(lon, lat, 0, north_m)
    return lon, lat


def square(east_m: float, north_m: float, half_m: float) -> Polygon:
    (w, s), (e, n) = (
        near(east_m - half_m, north_m - half_m),
        near(east_m + half_m, north_m + half_m),
    )
    return Polygon(((w, s), (e, s), (e, n), (w, n), (w, s)), srid=4326)


@dataclass(frozen=True)
class Thing:
    marker: str
    audience: frozenset[str]
    """The roles that may see it."""


THINGS = {
    "network": Thing("MATRIX-WATER-MAIN", frozenset(STAFF)),
    "manhole": Thing("13.579", frozenset(STAFF)),  # its depth, m: a manhole has no text
    "camera": Thing("MATRIX-CAMERA", frozenset(STAFF)),
    "permit_a": Thing("MATRIX-PERMIT-A", frozenset(STAFF | {"contractor_a"})),
    "permit_b": Thing("MATRIX-PERMIT-B", frozenset(STAFF | {"contractor_b"})),
    # A permit's responsible person: staff, and the contractor whose foreman it is.
    "foreman_a": Thing("MATRIX-FOREMAN-A", frozenset(STAFF | {"contractor_a"})),
    "foreman_b": Thing("MATRIX-FOREMAN-B", frozenset(STAFF | {"contractor_b"})),
    "claim_a": Thing("", frozenset(STAFF | {"contractor_a"})),  # its number, once it is made
    "resident_name": Thing("MATRIX-RESIDENT", frozenset({"operator", "contractor_a"})),
    "resident_phone": Thing("+7 700 555 01 99", frozenset({"operator", "contractor_a"})),
    "resident_email": Thing("matrix.resident@example.org", frozenset({"operator", "contractor_a"})),
    "appeal_text": Thing("MATRIX-APPEAL-TEXT", frozenset(STAFF | {"contractor_a"})),
    "incident": Thing("MATRIX-INCIDENT", frozenset(STAFF)),
    "network_repair": Thing("MATRIX-REPAIR", frozenset(STAFF)),
    "repeated_problem": Thing("MATRIX-REPEATED", frozenset(STAFF)),
}

# Layers anyone may see hold nothing restricted; the others are the things above.
RESTRICTED_LAYERS = {
    "cameras": "camera",
    "networks": "network",
    "manholes": "manhole",
    "permits": "permit_a",
    "incidents": "incident",
    "network_repairs": "network_repair",
    "repeated_problems": "repeated_problem",
    "works": "permit_a",  # a permit's title there is its number and purpose
}


@pytest.fixture
def city() -> dict[str, Any]:
    categories_load()
    a = Organisation.objects.create(name="Acme", kind=Organisation.Kind.CONTRACTOR)
    b = Organisation.objects.create(name="Bravo", kind=Organisation.Kind.CONTRACTOR)
    tokens = {
        "contractor_a": user_create_or_update(
            username="ca", role=Role.CONTRACTOR, organisation_name="Acme"
        )[1],
        "contractor_b": user_create_or_update(
            username="cb", role=Role.CONTRACTOR, organisation_name="Bravo"
        )[1],
        "planner": user_create_or_update(username="pl", role=Role.PLANNER)[1],
        "operator": user_create_or_update(username="op", role=Role.OPERATOR)[1],
    }
    building = Building.objects.create(
        source="t",
        source_id="1",
        street="Matrix Street",
        housenumber="1",
        geom=MultiPolygon(square(0, 0, 8), srid=4326),
    )
    main = NetworkSegment.objects.create(
        source="t",
        source_id="1",
        kind=NetworkKind.WATER,
        name="MATRIX-WATER-MAIN",
        geom=LineString(near(-40, 12), near(40, 12), srid=4326),
    )
    manhole = Manhole.objects.create(
        source="t",
        source_id="1",
        kind=NetworkKind.WATER,
        depth_m=13.579,
        geom=Point(*near(0, 12), srid=4326),
    )
    camera = Camera.objects.create(
        source="t", source_id="1", name="MATRIX-CAMERA", geom=Point(*near(5, -12), srid=4326)
    )
    today = timezone.localdate()
    permits = {}
    for org, tag, east in ((a, "A", -20), (b, "B", 20)):
        permits[tag] = overdue_permit(
            contractor_id=org.pk,
            geom=square(east, -25, 5),
            purpose=f"Repair for MATRIX-PERMIT-{tag}",
            address=f"MATRIX-PERMIT-{tag}",
            responsible_person=f"MATRIX-FOREMAN-{tag}",
        )
    claims_create_overdue(now=timezone.now())
    Incident.objects.create(
        source="t",
        source_id="1",
        kind=NetworkKind.WATER,
        occurred_on=today - timedelta(days=10),
        segment=main,
        description="MATRIX-INCIDENT",
        geom=Point(*near(10, 12), srid=4326),
    )
    NetworkRepair.objects.create(
        segment=main,
        organisation=a,
        planned_start=today,
        planned_end=today + timedelta(days=5),
        note="MATRIX-REPAIR",
        geom=main.geom,
    )
    RepeatedProblem.objects.create(
        kind=RepeatedProblem.Kind.values[0],
        label="MATRIX-REPEATED",
        appeals=3,
        open_share=0.5,
        categories="pipe-burst",
        first_date=today - timedelta(days=40),
        last_date=today,
        geom=Point(*near(-10, -5), srid=4326),
        refreshed_at=timezone.now(),
    )
    claim = Claim.objects.get(permit=permits["A"], recipient=a)
    appeal = appeal_register(
        category=Category.objects.get(code="pipe-burst"),
        channel=Appeal.Channel.PHONE,
        text="MATRIX-APPEAL-TEXT",
        point=Point(*near(-5, 5), srid=4326),
        resident_name="MATRIX-RESIDENT",
        resident_phone="+7 700 555 01 99",
        resident_email="matrix.resident@example.org",
    )
    Appeal.objects.filter(pk=appeal.pk).update(organisation=a)  # contractor A is its service
    return {
        "tokens": tokens,
        "building": building,
        "main": main,
        "manhole": manhole,
        "camera": camera,
        "permits": permits,
        "claim": claim,
        "appeal": appeal,
    }


# --- the doors -------------------------------------------------------------------------------
# Each: (what it is asked, which things it can show). A request is a path, or (method, path,
# JSON body). The paths are formatted with the city's ids.
# Two multi-layer tiles hold every layer (a tile takes at most 16).
HALVES = [",".join(list(LAYERS)[:12]), ",".join(list(LAYERS)[12:])]
RESIDENT = frozenset({"resident_name", "resident_phone", "resident_email"})
BBOX = "{w},{s},{e},{n}"
EVERY_THING = frozenset(THINGS)
PERMITS = frozenset({"permit_a", "permit_b", "foreman_a", "foreman_b"})
APPEAL = frozenset({"resident_name", "resident_phone", "resident_email", "appeal_text"})


def layer_doors() -> dict[str, tuple[list[Any], frozenset[str]]]:
    doors: dict[str, tuple[list[Any], frozenset[str]]] = {}
    for name in LAYERS:
        shows = frozenset({RESTRICTED_LAYERS[name]} if name in RESTRICTED_LAYERS else ())
        if name == "permits":
            shows = PERMITS
        if name == "appeals":
            shows = frozenset({"appeal_text"})
        doors[f"tile {name}"] = ([f"/tiles/{name}/{Z}/{X}/{Y}.mvt"], shows)
        doors[f"tilejson {name}"] = ([f"/tiles/{name}.json"], frozenset())
        doors[f"ogc items {name}"] = (
            [f"/ogc/collections/{name}/items?bbox={BBOX}&limit=1000"],
            shows,
        )
        doors[f"ogc collection {name}"] = ([f"/ogc/collections/{name}"], frozenset())
        doors[f"ogc queryables {name}"] = ([f"/ogc/collections/{name}/queryables"], frozenset())
    return doors


# The city's restricted objects by layer and their key in ``filled``: asked by id at each door.
OBJECTS = [
    ("networks", "main"),
    ("manholes", "manhole"),
    ("cameras", "camera"),
    ("permits", "permit_a"),
    ("permits", "permit_b"),
    ("appeals", "appeal"),
]

DOORS: dict[str, tuple[list[Any], frozenset[str]]] = {
    **layer_doors(),
    "tile, every layer": (
        [f"/tiles/{half}/{Z}/{X}/{Y}.mvt" for half in HALVES],
        EVERY_THING - RESIDENT - {"claim_a"},
    ),
    "tilejson, every layer": ([f"/tiles/{half}.json" for half in HALVES], frozenset()),
    "tiles catalog": (["/tiles/"], frozenset()),
    "ogc collections": (["/ogc/collections"], frozenset()),
    "ogc item": (
        [f"/ogc/collections/{layer}/items/{{{key}}}" for layer, key in OBJECTS],
        frozenset({"network", "manhole", "camera", "appeal_text"} | PERMITS),
    ),
    "search": (
        ["/api/search?q=MATRIX-PERMIT-A", "/api/search?q=Matrix Street 1", "/api/search?q=MATRIX"],
        frozenset(),
    ),
    "nearby": (
        ["/api/nearby?lon={lon}&lat={lat}&radius=200&limit=100"],
        frozenset({"network", "manhole", "camera", "permit_a", "permit_b"}),
    ),
    "within": (
        [("POST", "/api/within?limit=200", "{area}")],
        frozenset({"network", "manhole", "camera", "permit_a", "permit_b"}),
    ),
    "along": (
        ["/api/along?layer=networks&id={main}&buffer=100&limit=200"],
        frozenset({"network", "manhole", "camera", "permit_a", "permit_b"}),
    ),
    "object card": (
        [f"/api/objects/{layer}/{{{key}}}" for layer, key in [("buildings", "building"), *OBJECTS]],
        frozenset({"network", "manhole", "camera", "appeal_text"} | PERMITS),
    ),
    "appeals": (
        ["/api/appeals?limit=100", "/api/appeals/{appeal}", "/api/appeals/intake"],
        APPEAL,
    ),
    "call-backs": (["/api/callbacks"], frozenset()),
    "permits": (
        ["/api/permits", "/api/permits/{permit_a}", "/api/permits/{permit_b}"],
        PERMITS,
    ),
    "public restoration": (["/api/public/restoration?address=Matrix Street 1"], frozenset()),
    "claims": (
        ["/api/claims", "/api/claims/{claim}", "/api/claims/{claim}/document"],
        frozenset({"claim_a"}),
    ),
    "open311": (
        [
            "/open311/v2/requests.json",
            "/open311/v2/requests.xml",
            "/open311/v2/requests/{appeal_number}.json",
            "/open311/v2/services.json",
        ],
        frozenset(),
    ),
    "dashboard": (["/api/dashboard", "/api/dashboard/districts"], frozenset()),
    "reports, CSV": (
        ["/api/reports/departments", "/api/reports/departments?format=csv"],
        frozenset(),
    ),
    "repeated problems": (["/api/problems/repeated?months=12&min=1"], frozenset()),
    "works": (
        ["/api/works?date={today}", "/api/works?date={today}&bbox={w},{s},{e},{n}"],
        frozenset({"permit_a", "permit_b"}),
    ),
    "network repairs": (["/api/networks/repairs"], frozenset({"network_repair"})),
    "hotspots": (["/api/networks/hotspots", "/api/networks/breaks-chart.svg"], frozenset()),
    "yard ranking and plans": (["/api/yards/ranking", "/api/yards/plans"], frozenset()),
    "yard plan exports": (
        ["/yards/plan/{year}.csv", "/yards/plan/{year}.geojson", "/yards/plan/{year}"],
        frozenset(),
    ),
    "pages": (["/", "/dashboard", "/planning/hotspots"], frozenset()),
    "openapi": (["/api/schema/", "/ogc/api"], frozenset()),
}

# Routes and documented operations that are no door to restricted data, and why.
NOT_DOORS = {
    "/healthz": "whether each dependency is up, and the queue's length: no rows",
    "/i18n/": "the language switch",
    "/i18n/js": "the interface's strings",
    "/api/docs/": "Swagger UI: the page, not the schema",
    "/api/session": "who the caller is: their own name and role",
    "/api/appeals/categories": "the public list of categories",
    "/api/appeals/confirm/{token}": "a resident's own appeal, by its secret link",
    "/api/intake/telegram/{secret}": "a write: the bot's webhook",
    "/api/permits/conflicts": "a write: checks an area before a permit is issued",
    "/api/permits/{id}/restoration/documents/{document_id}": "tested with the permit: the files",
    "/api/yards/plans/{id}": "a planner's plan: yards only",
    "/api/yards/plans/{id}/items/{item_id}": "a write",
    "/ogc/": "the landing page: links",
    "/ogc/conformance": "the conformance classes",
    "/ogc/collections/{collection_id}/feature-schema": "the columns: no rows",
    "/tiles/raster/…": "public raster imagery",
    "/open311/v2/discovery.*": "the endpoints",
    "/open311/v2/services/{code}.*": "a category",
    "/open311/v2/tokens/{token}.*": "a request id",
}


# What a door shows beyond a thing's audience on purpose, and why.
BY_DESIGN = {
    ("open311", "appeal_text"): "GeoReport publishes a request's description, with the "
    "resident's name, phones and e-mails masked (orders.appeals.open311.redact, tested in "
    "tests/orders/appeals/test_open311.py); the resident's own fields never leave it",
}


def filled(template: str, city: dict[str, Any]) -> str:
    w, s = near(-300, -300)
    e, n = near(300, 300)
    return template.format(
        main=city["main"].pk,
        manhole=city["manhole"].pk,
        camera=city["camera"].pk,
        building=city["building"].pk,
        permit_a=city["permits"]["A"].pk,
        permit_b=city["permits"]["B"].pk,
        claim=city["claim"].pk,
        appeal=city["appeal"].pk,
        appeal_number=city["appeal"].number,
        lon=LON,
        lat=LAT,
        w=w,
        s=s,
        e=e,
        n=n,
        today=timezone.localdate().isoformat(),
        year=timezone.localdate().year,
        area=json.dumps({"type": "Polygon", "coordinates": [list(square(0, 0, 200).coords[0])]}),
    )


def readable(response: httpx.Response) -> str:
    """The answer as text: a tile decoded, a PDF's words as stored, anything else as sent."""
    if response.headers.get("content-type", "").startswith("application/vnd.mapbox-vector-tile"):
        return json.dumps(mapbox_vector_tile.decode(response.content), default=str)
    return response.content.decode("utf-8", "replace")


def ask_every_door(city: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(door, role) → the text of the door's 2xx answers to that role."""
    seen: dict[tuple[str, str], str] = {}

    async def scenario(client: httpx.AsyncClient, server: Any) -> None:
        for role in ROLES:
            token = city["tokens"].get(role)
            headers = {"Authorization": f"Token {token}"} if token else {}
            for door, (requests, _) in DOORS.items():
                texts = []
                for request in requests:
                    method, path, body = (
                        ("GET", request, None) if isinstance(request, str) else request
                    )
                    response = await client.request(
                        method,
                        filled(path, city),
                        headers={**headers, "Content-Type": "application/json"},
                        content=filled(body, city) if body else None,
                    )
                    assert response.status_code < 500, (door, role, path, response.text)
                    if response.is_success:
                        texts.append(readable(response))
                seen[door, role] = "\n".join(texts)

    run_front(scenario)
    return seen


def test_no_door_shows_a_role_what_it_may_not_see(city, client):
    THINGS["claim_a"] = Thing(city["claim"].number, THINGS["claim_a"].audience)
    seen = ask_every_door(city)
    leaks = [
        (door, thing, role)
        for door in DOORS
        for thing, spec in THINGS.items()
        for role in ROLES
        if role not in spec.audience
        and (door, thing) not in BY_DESIGN
        and spec.marker in seen[door, role]
    ]
    assert not leaks
    blind = [
        (door, thing)
        for door, (_, shows) in DOORS.items()
        for thing in shows
        if not any(THINGS[thing].marker in seen[door, role] for role in THINGS[thing].audience)
    ]
    assert not blind, "doors that should show a thing to its audience and did not"


def test_the_admin_is_for_superusers_only(city, client):
    """No role's account opens the admin's restricted lists; a superuser's does and sees them."""
    from gis.models import User

    lists = {
        "/admin/layers/networksegment/": "network",
        "/admin/layers/manhole/": None,
        "/admin/layers/camera/": "camera",
        "/admin/permits/permit/": "permit_a",
        "/admin/appeals/appeal/": None,
        "/admin/permits/claim/": "claim_a",
    }
    accounts = [None, *User.objects.filter(username__in=["ca", "cb", "pl", "op"])]
    for account in accounts:
        client.logout()
        if account is not None:
            client.force_login(account)
        for path in lists:
            assert client.get(path).status_code in (302, 403), (account, path)
    client.force_login(User.objects.create_superuser("root", password="x" * 20))
    for path, thing in lists.items():
        response = client.get(path)
        assert response.status_code == 200, path
        marker = city["claim"].number if thing == "claim_a" else thing and THINGS[thing].marker
        assert not marker or marker in response.content.decode(), path


def test_the_pmtiles_export_holds_public_layers_only(city, tmp_path: Path):
    public = ",".join(n for n, s in LAYERS.items() if s.is_public)
    out = tmp_path / "public.pmtiles"
    call_command(
        "export_tiles", str(out), layers=public, minzoom=Z, maxzoom=Z, bbox=filled(BBOX, city)
    )
    with out.open("rb") as f:
        text = "".join(
            json.dumps(mapbox_vector_tile.decode(gzip.decompress(data)), default=str)
            for _, data in all_tiles(MmapSource(f))
        )
    assert "Matrix Street" in text
    for thing in THINGS.values():
        assert thing.marker not in text
    with pytest.raises(Exception, match="networks"):
        call_command("export_tiles", str(out), layers="networks", minzoom=Z, maxzoom=Z)


def covered(template: str) -> bool:
    asked = [r if isinstance(r, str) else r[1] for requests, _ in DOORS.values() for r in requests]
    pattern = re.sub(r"\\\{[^\\}]+\\\}", "[^/?]+", re.escape(template))
    return any(re.match(f"^{pattern}(\\?|$)", path) for path in asked) or template in NOT_DOORS


def test_every_documented_operation_is_a_door_or_says_why_not():
    missing = sorted(
        {
            o.template
            for o in documented_operations()
            if o.method == "GET" and not covered(o.template)
        }
    )
    assert not missing


def test_every_layer_has_its_rows():
    for name, spec in LAYERS.items():
        assert f"tile {name}" in DOORS and f"ogc items {name}" in DOORS
        assert spec.is_public or name in RESTRICTED_LAYERS, f"{name}: which thing is restricted?"
