"""Issuing a permit and changing it (operators): the work area, the dates, the dig conflicts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException, GEOSGeometry, Polygon
from django.db import connection, transaction
from django.utils.translation import gettext as _
from pyproj import Geod

from gis.exceptions import BadInput, Conflict, Forbidden, Unauthorized
from gis.roles import Role, Viewer
from layers.models import Organisation
from layers.selectors import city_check
from orders.permits.models import Permit
from orders.permits.selectors import (
    BLOCK,
    DigConflict,
    local_today,
    permit_conflicts,
    permit_linked_objects,
)
from orders.permits.services.actions import Action, _locked, _record

WGS84 = Geod(ellps="WGS84")

MAX_AREA_M2 = 50_000.0  # 5 ha: a dig site, not a district
# The calendar of a dig permit: registered within a year of its issue, started within a year of
# it, restored within two years of the start (an extension too). Beyond, a date is a typo.
MAX_ISSUED_AGO = timedelta(days=366)
MAX_START_FROM_ISSUE = timedelta(days=366)
MAX_DIG = timedelta(days=731)
MAX_AREA_VERTICES = 1_000
# Two issuances that overlap must not both pass the conflict check: they queue on this lock.
ISSUE_LOCK_KEY = 0x7065726D  # "perm"


class BlockingConflicts(Conflict):
    code = "dig_conflict"


def work_area_from_geojson(data: Any) -> Polygon:
    """A work area from a GeoJSON Polygon (or a Feature of one); 400 with the reason otherwise."""
    if isinstance(data, dict) and data.get("type") == "Feature":
        data = data.get("geometry")
    if not isinstance(data, dict) or data.get("type") != "Polygon":
        raise BadInput(
            _("The work area must be a GeoJSON Polygon."),
            extra={"fields": {"geom": ["A GeoJSON Polygon in lon/lat."]}},
        )
    try:
        geom = GEOSGeometry(json.dumps(data))
    except (GEOSException, GDALException, ValueError, TypeError) as exc:
        raise BadInput(
            _("The work area is not readable GeoJSON: %(exc)s") % {"exc": exc},
            extra={"fields": {"geom": ["Not readable GeoJSON."]}},
        ) from None
    geom.srid = 4326  # RFC 7946: GeoJSON is WGS 84 lon/lat
    _check_area(geom)
    return geom


def _check_area(geom: GEOSGeometry) -> None:
    def bad(message: str) -> BadInput:
        return BadInput(message, extra={"fields": {"geom": [message]}})

    if not isinstance(geom, Polygon) or geom.empty:
        raise bad(_("The work area must be a non-empty Polygon."))
    if geom.hasz:
        raise bad(_("The work area must be 2D: lon/lat pairs, no heights."))
    if geom.num_coords > MAX_AREA_VERTICES:
        raise bad(
            _("The work area has %(num_coords)s vertices; at most %(max_area_vertices)s.")
            % {"num_coords": geom.num_coords, "max_area_vertices": MAX_AREA_VERTICES}
        )
    xmin, ymin, xmax, ymax = geom.extent
    if xmin < -180 or xmax > 180 or ymin < -90 or ymax > 90:
        raise bad(_("Coordinates must be lon/lat (EPSG:4326), as GeoJSON requires."))
    if not geom.valid:
        raise bad(
            _("The work area is not a valid polygon: %(valid_reason)s.")
            % {"valid_reason": geom.valid_reason}
        )
    area, _perimeter = WGS84.polygon_area_perimeter(*zip(*geom.exterior_ring.coords, strict=True))
    area = abs(area)
    if area <= 0:
        raise bad(_("The work area has no area."))
    if area > MAX_AREA_M2:
        raise bad(
            _("The work area is %(area)s m²; a permit covers at most %(max_area_m2)s m².")
            % {"area": format(area, ",.0f"), "max_area_m2": format(MAX_AREA_M2, ",.0f")}
        )
    city_check(geom, field="geom", what="The work area")


def _check_blocking(conflicts: list[DigConflict], override: str) -> None:
    blocking = [c for c in conflicts if c.level == BLOCK]
    if blocking and not override.strip():
        raise BlockingConflicts(
            f"{len(blocking)} blocking conflict(s): "
            + " ".join(c.message for c in blocking)
            + " An operator must give conflict_override (why it is safe) to go ahead.",
            extra={"conflicts": [c.as_dict() for c in conflicts]},
        )


def _next_number(sequence: str, prefix: str, today: date) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s)", [sequence])
        (value,) = cursor.fetchone()
    return f"{prefix}-{today.year}-{value:06d}"


@dataclass(frozen=True, slots=True)
class IssueResult:
    permit: Permit
    conflicts: list[DigConflict]


DIGGER_KINDS = (Organisation.Kind.CONTRACTOR, Organisation.Kind.SERVICE)


@transaction.atomic
def permit_issue(
    *,
    viewer: Viewer,
    contractor_id: int,
    responsible_person: str,
    purpose: str,
    geom: Polygon,
    planned_start: date,
    deadline: date,
    responsible_phone: str = "",
    network_kind: str = "",
    address: str = "",
    issued_on: date | None = None,
    conflict_override: str = "",
    number: str | None = None,
) -> IssueResult:
    """Issue a permit (operators): conflicts checked, blocking ones need ``conflict_override``."""
    if viewer.is_public:
        raise Unauthorized(_("Permits need an authenticated operator."))
    if viewer.role != Role.OPERATOR:
        raise Forbidden(_("Only an operator issues permits."))
    today = local_today()
    issued_on = issued_on or today
    contractor = Organisation.objects.filter(pk=contractor_id, kind__in=DIGGER_KINDS).first()
    if contractor is None:
        raise BadInput(
            _("No contractor or service organisation %(contractor_id)s.")
            % {"contractor_id": contractor_id},
            extra={"fields": {"contractor": ["Unknown contractor."]}},
        )
    _check_dates(issued_on=issued_on, planned_start=planned_start, deadline=deadline, today=today)
    _check_area(geom)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ISSUE_LOCK_KEY])
    conflicts = permit_conflicts(geom=geom, today=today)
    _check_blocking(conflicts, conflict_override)
    permit = Permit(
        number=number or _next_number("permits_permit_number_seq", "EP", issued_on),
        contractor=contractor,
        responsible_person=responsible_person,
        responsible_phone=responsible_phone,
        purpose=purpose,
        network_kind=network_kind,
        address=address,
        geom=geom,
        linked_objects=permit_linked_objects(geom=geom),
        issued_on=issued_on,
        planned_start=planned_start,
        deadline=deadline,
        conflict_override=conflict_override.strip(),
    )
    permit.full_clean()
    permit.save()
    _record(
        permit,
        viewer,
        "issued",
        comment=permit.conflict_override,
        data={"conflicts": [_conflict_summary(c) for c in conflicts]},
    )
    return IssueResult(permit=permit, conflicts=conflicts)


def _conflict_summary(conflict: DigConflict) -> dict[str, Any]:
    return {
        "kind": conflict.kind,
        "level": conflict.level,
        "layer": conflict.layer,
        "id": conflict.id,
    }


def _check_dates(*, issued_on: date, planned_start: date, deadline: date, today: date) -> None:
    """400 with each field's reason unless the dates make a dig permit, as of ``today``.

    Bounded, not only ordered: a permit "issued" in year 0001 would be 740,000 days overdue the
    moment it is saved, and the sweep would send two formal claims for it at once.
    """
    errors: dict[str, list[str]] = {}
    if issued_on > today:
        errors["issued_on"] = ["A permit cannot be issued in the future."]
    elif issued_on < today - MAX_ISSUED_AGO:
        errors["issued_on"] = [f"Issued more than {MAX_ISSUED_AGO.days} days ago: a typo?"]
    if abs(planned_start - issued_on) > MAX_START_FROM_ISSUE:
        errors["planned_start"] = [
            f"More than {MAX_START_FROM_ISSUE.days} days from the issue date: a typo?"
        ]
    if deadline < planned_start:
        errors["deadline"] = ["The deadline is before the planned start."]
    elif deadline < issued_on:
        errors["deadline"] = ["The deadline is before the permit is issued."]
    elif deadline - planned_start > MAX_DIG:
        errors["deadline"] = [f"More than {MAX_DIG.days} days after the planned start: a typo?"]
    if errors:
        raise BadInput(" ".join(m for ms in errors.values() for m in ms), extra={"fields": errors})


def _check_start(permit: Permit) -> None:
    """A moved planned start stays near the issue date and before the deadline."""
    message = ""
    if abs(permit.planned_start - permit.issued_on) > MAX_START_FROM_ISSUE:
        message = f"More than {MAX_START_FROM_ISSUE.days} days from the issue date: a typo?"
    elif permit.planned_start > permit.deadline:
        message = "The planned start is after the deadline."
    if message:
        raise BadInput(message, extra={"fields": {"planned_start": [message]}})


UPDATABLE = (
    "purpose",
    "address",
    "responsible_person",
    "responsible_phone",
    "network_kind",
    "planned_start",
)


@transaction.atomic
def permit_update(
    *,
    viewer: Viewer,
    permit_id: int,
    changes: dict[str, Any],
    geom: Polygon | None = None,
    conflict_override: str = "",
) -> IssueResult:
    """Change a permit's details or work area (operators); a new area is checked again."""
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise BadInput(_("Cannot change %(join)s here.") % {"join": ", ".join(sorted(unknown))})
    permit = _locked(viewer, permit_id, Action.UPDATE)
    diff = {
        name: [_jsonable(getattr(permit, name)), _jsonable(value)]
        for name, value in changes.items()
        if getattr(permit, name) != value
    }
    for name, value in changes.items():
        setattr(permit, name, value)
    if "planned_start" in changes:
        _check_start(permit)
    conflicts: list[DigConflict] = []
    if geom is not None and not geom.equals_exact(permit.geom, tolerance=0):
        _check_area(geom)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ISSUE_LOCK_KEY])
        conflicts = permit_conflicts(geom=geom, today=local_today(), exclude_permit_id=permit.pk)
        _check_blocking(conflicts, conflict_override)
        diff["geom"] = [json.loads(permit.geom.geojson), json.loads(geom.geojson)]
        permit.geom = geom
        permit.linked_objects = permit_linked_objects(geom=geom)
        if conflict_override.strip():
            permit.conflict_override = conflict_override.strip()
    if not diff:
        return IssueResult(permit=permit, conflicts=conflicts)
    permit.full_clean()
    permit.save()
    _record(
        permit,
        viewer,
        "area_changed" if "geom" in diff else "updated",
        before=permit.status,
        comment=conflict_override.strip() if "geom" in diff else "",
        data={
            "changes": diff,
            **({"conflicts": [_conflict_summary(c) for c in conflicts]} if "geom" in diff else {}),
        },
    )
    return IssueResult(permit=permit, conflicts=conflicts)


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value
