"""Small factories around one point of the demo city (Patterson Park, Baltimore)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.gis.geos import LineString, MultiPolygon, Point, Polygon
from django.utils import timezone
from PIL import Image
from pypdf import PdfWriter
from pyproj import Geod

from gis.roles import Role, Viewer
from layers.models import Building
from orders.permits.demo import SYSTEM
from orders.permits.models import Permit
from orders.permits.services.issuing import permit_issue
from orders.permits.services.lifecycle import permit_start

CITY_LON, CITY_LAT = -76.57, 39.28
WGS84 = Geod(ellps="WGS84")


@dataclass(frozen=True, slots=True)
class CommandRun:
    stdout: str
    stderr: str


def viewer(role: Role) -> Viewer:
    """Make a viewer of the role; a contractor works for organisation 1."""
    return Viewer(role=role, organisation_id=1 if role == Role.CONTRACTOR else None)


def point(lon: float = CITY_LON, lat: float = CITY_LAT) -> Point:
    return Point(lon, lat, srid=4326)


def at(east_m: float, north_m: float = 0.0) -> Point:
    """The point east_m east and north_m north of the city point (geodesic metres)."""
    lon, lat, _ = WGS84.fwd(CITY_LON, CITY_LAT, 90, east_m) if east_m else (CITY_LON, CITY_LAT, 0)
    lon, lat, _ = WGS84.fwd(lon, lat, 0, north_m) if north_m else (lon, lat, 0)
    return point(lon, lat)


def rectangle(
    width_m: float = 100.0, height_m: float = 100.0, lon: float = CITY_LON, lat: float = CITY_LAT
) -> Polygon:
    """Draw a lon/lat rectangle of width_m × height_m, its south-west corner at (lon, lat)."""
    east, _, _ = WGS84.fwd(lon, lat, 90, width_m)
    _, north, _ = WGS84.fwd(lon, lat, 0, height_m)
    ring = ((lon, lat), (east, lat), (east, north), (lon, north), (lon, lat))
    return Polygon(ring, srid=4326)


def bow_tie(lon: float = CITY_LON, lat: float = CITY_LAT, size: float = 0.001) -> Polygon:
    """Draw a self-intersecting polygon: its ring crosses itself in the middle."""
    ring = ((lon, lat), (lon + size, lat + size), (lon + size, lat), (lon, lat + size), (lon, lat))
    return Polygon(ring, srid=4326)


def line(lon: float = CITY_LON, lat: float = CITY_LAT, size: float = 0.001) -> LineString:
    return LineString((lon, lat), (lon + size, lat + size), srid=4326)


def building(**fields: Any) -> Building:
    """Save a building: a 10 m square outline unless a geometry is given."""
    fields.setdefault("geom", MultiPolygon(rectangle(10, 10), srid=4326))
    return Building.objects.create(**fields)


def png_bytes(width: int = 4, height: int = 3) -> bytes:
    """A real PNG (Pillow encodes it): what a restoration photo upload must be."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 140, 60)).save(out, format="PNG")
    return out.getvalue()


def pdf_bytes(pages: int = 1) -> bytes:
    """A real PDF of blank A4 pages (pypdf writes it): what a restoration document must be."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def overdue_permit(
    *,
    contractor_id: int,
    geom: Polygon,
    purpose: str = "Water main repair",
    address: str = "12 Main Street",
    responsible_person: str = "Foreman",
) -> Permit:
    """A permit at work since 25 days whose deadline passed 3 days ago: the sweep claims it."""
    today = timezone.localdate()
    permit = permit_issue(
        viewer=SYSTEM,
        contractor_id=contractor_id,
        geom=geom,
        purpose=purpose,
        address=address,
        responsible_person=responsible_person,
        responsible_phone="+1 555 0100",
        issued_on=today - timedelta(days=30),
        planned_start=today - timedelta(days=25),
        deadline=today - timedelta(days=3),
        conflict_override="",
    ).permit
    return permit_start(viewer=SYSTEM, permit_id=permit.pk)
