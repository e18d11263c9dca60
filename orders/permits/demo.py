"""The demo city's excavation permits: one overdue, so a newcomer sees its claims appear.

Issued through the services like any permit (conflict check, linked objects, history), keyed
by their numbers so that ``load_demo`` run again adds nothing. Their dates are set relative to
the day of the first load and then left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.gis.geos import GEOSGeometry, Polygon
from pyproj import Geod

from gis.roles import Role, Viewer
from layers.models import NetworkKind, Organisation, Street, Yard
from orders.permits.models import Permit
from orders.permits.selectors import local_today
from orders.permits.services.issuing import BlockingConflicts, permit_issue
from orders.permits.services.lifecycle import permit_start

DEMO_CONTRACTOR = "Harbor Utility Works (demo contractor)"
# The demo has no operator behind these: the history says "system".
SYSTEM = Viewer(role=Role.OPERATOR)
WGS84 = Geod(ellps="WGS84")
OVERRIDE = "Demo permit: the network owners were consulted on site (demo data)."


@dataclass(frozen=True)
class DemoPermit:
    number: str
    purpose: str
    network_kind: str
    issued_days_ago: int
    start_in_days: int
    deadline_in_days: int
    started: bool
    on: str
    """yard or street: what it digs up"""
    pick: int
    """which yard or street, in a stable order"""


DEMO_PERMITS = (
    DemoPermit(
        "DEMO-EP-1",
        "Replace a leaking water service pipe",
        NetworkKind.WATER,
        45,
        -40,
        -4,
        True,
        "yard",
        0,
    ),
    DemoPermit(
        "DEMO-EP-2",
        "Repair a collapsed sewer manhole",
        NetworkKind.SEWER,
        10,
        -5,
        12,
        True,
        "street",
        0,
    ),
    DemoPermit(
        "DEMO-EP-3",
        "Lay a telecom duct to the houses",
        NetworkKind.TELECOM,
        2,
        3,
        20,
        False,
        "yard",
        1,
    ),
)


def _rectangle(lon: float, lat: float, width_m: float, height_m: float) -> Polygon:
    west, _, _ = WGS84.fwd(lon, lat, 270, width_m / 2)
    east, _, _ = WGS84.fwd(lon, lat, 90, width_m / 2)
    _, south, _ = WGS84.fwd(lon, lat, 180, height_m / 2)
    _, north, _ = WGS84.fwd(lon, lat, 0, height_m / 2)
    return Polygon.from_bbox((west, south, east, north))


def _site(on: str, pick: int) -> tuple[GEOSGeometry, str] | None:
    """A small work area on a real yard or street of the demo city, and its address."""
    if on == "yard":
        yard = Yard.objects.exclude(address="").order_by("source", "source_id")[pick : pick + 1]
        if not yard:
            return None
        centre = yard[0].geom.point_on_surface
        return _rectangle(centre.x, centre.y, 14, 8), yard[0].address
    street = (
        Street.objects.filter(kind="residential")
        .exclude(name="")
        .order_by("name", "source", "source_id")[pick : pick + 1]
    )
    if not street:
        return None
    middle = street[0].geom.interpolate_normalized(0.5)
    return _rectangle(middle.x, middle.y, 10, 6), street[0].name


def demo_permits_create() -> list[Permit]:
    """The demo permits that were missing (none on a second run, nor without the demo city)."""
    contractor = Organisation.objects.filter(name=DEMO_CONTRACTOR).first()
    if contractor is None:
        return []
    today = local_today()
    made = []
    for demo in DEMO_PERMITS:
        if Permit.objects.filter(number=demo.number).exists():
            continue
        site = _site(demo.on, demo.pick)
        if site is None:
            continue
        geom, address = site
        geom.srid = 4326
        fields = dict(
            viewer=SYSTEM,
            number=demo.number,
            contractor_id=contractor.pk,
            responsible_person="J. Doe (demo site foreman)",
            responsible_phone="+1 410 555 0100",
            purpose=demo.purpose,
            network_kind=demo.network_kind,
            address=address,
            geom=geom,
            issued_on=today - timedelta(days=demo.issued_days_ago),
            planned_start=today + timedelta(days=demo.start_in_days),
            deadline=today + timedelta(days=demo.deadline_in_days),
        )
        try:
            permit = permit_issue(**fields).permit
        except BlockingConflicts:
            permit = permit_issue(**fields, conflict_override=OVERRIDE).permit
        if demo.started:
            permit = permit_start(viewer=SYSTEM, permit_id=permit.pk, comment="Demo: works began")
        made.append(permit)
    return made


def demo_load() -> list[str]:
    """``load_demo``'s step: the missing demo permits, one line."""
    return [f"demo permits: {len(demo_permits_create())} new of {len(DEMO_PERMITS)}"]
