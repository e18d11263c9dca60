"""Reads on permits and claims: what a viewer may see, the dig-conflict check, the public query.

Every read of permits goes through the registry's ``permits`` layer (``queryset_for``), so a
contractor sees exactly its own organisation's permits here, as on tiles and in OGC: another
contractor's permit is a 404, never a 403 that would tell it exists.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, Point, Polygon
from django.db import DatabaseError, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from gis.exceptions import ApplicationError, BadQuery, NotFound, Unauthorized
from gis.roles import PUBLIC, Viewer
from layers.addresses import parse_address
from layers.models import (
    Building,
    BusRoute,
    NetworkKind,
    NetworkSegment,
    Organisation,
    SnowploughRoute,
    Street,
    Yard,
)
from layers.registry import get_layer
from layers.selectors import METRES_PER_DEGREE, GeodesicDistance, degrees_for, with_district
from orders.appeals.models import Appeal
from orders.permits.models import Claim, Permit

logger = logging.getLogger(__name__)

ACTIVE = (Permit.Status.ISSUED, Permit.Status.IN_PROGRESS)
# A crossed gas main or power cable can kill the digger: the operator must say why it is safe.
BLOCKING_NETWORK_KINDS = frozenset({NetworkKind.GAS, NetworkKind.POWER})
# Surveyed lines are metres off: a line just outside the drawn area is still in the trench.
NETWORK_MARGIN_M = 2.0
# A route within this distance of the work area runs through the closed lane.
ROUTE_BLOCKED_M = 5.0
# A yard repaired this recently should not be dug up again without a second thought.
YARD_REPAIR_YEARS = 3
# Buildings and streets a work area touches (its linked objects): within this distance.
LINK_MARGIN_M = 2.0
# Appeals about the site: linked to the permit, or located within this distance of the area.
APPEALS_AROUND_M = 25.0
PUBLIC_RADIUS_M = 100.0
METRES_PER_DEGREE_LAT = METRES_PER_DEGREE
PUBLIC_MAX_RADIUS_M = 500.0
PUBLIC_MAX_RESULTS = 50


# --- time -------------------------------------------------------------------------------------


def local_today(now: datetime | None = None) -> date:
    """The city's calendar day at ``now``: a deadline passes at the end of its day there."""
    return timezone.localtime(now or timezone.now(), ZoneInfo(settings.TIME_ZONE)).date()


def overdue_days(deadline: date, today: date) -> int:
    """Whole days since the deadline day ended; 0 while it has not."""
    return max((today - deadline).days, 0)


# --- permits ----------------------------------------------------------------------------------


def permits_visible(*, viewer: Viewer) -> models.QuerySet[Permit]:
    """The permits this viewer may see: 401 for the public, a contractor only its own."""
    spec = get_layer("permits", viewer)
    return spec.queryset_for(viewer).select_related("contractor")


def permit_get(*, viewer: Viewer, permit_id: int) -> Permit:
    permit = permits_visible(viewer=viewer).filter(pk=permit_id).first()
    if permit is None:
        raise NotFound(_("No permit %(permit_id)s.") % {"permit_id": permit_id})
    return permit


def permits_list(
    *,
    viewer: Viewer,
    status: str | None = None,
    overdue: bool | None = None,
    today: date | None = None,
) -> models.QuerySet[Permit]:
    rows = permits_visible(viewer=viewer)
    if status:
        rows = rows.filter(status=status)
    if overdue is not None:
        late = overrun(today or local_today())
        rows = rows.filter(late) if overdue else rows.exclude(late)
    return rows.order_by("-issued_on", "-id")


def overrun(today: date) -> Q:
    """Open permits whose deadline's day is over on ``today``."""
    return Q(status__in=ACTIVE, deadline__lt=today)


def permits_overrun_count(*, today: date) -> int:
    """How many permits are overrun, whoever holds them: a figure for monitoring (/metrics)."""
    return Permit.objects.filter(overrun(today)).count()


def claims_unsent(*, now: datetime) -> dict[str, tuple[int, float]]:
    """Claims not sent yet by delivery state: how many, and the oldest one's age in seconds.

    Every state but ``sent`` is listed, with 0 and 0.0 when no claim is in it (/metrics).
    """
    rows = (
        Claim.objects.exclude(delivery=Claim.Delivery.SENT)
        .values_list("delivery")
        .annotate(count=models.Count("id"), oldest=models.Min("created_at"))
    )
    found = {delivery: (count, (now - oldest).total_seconds()) for delivery, count, oldest in rows}
    return {
        state: found.get(state, (0, 0.0))
        for state in Claim.Delivery.values
        if state != Claim.Delivery.SENT
    }


def permit_detail(*, viewer: Viewer, permit_id: int) -> Permit:
    """A permit with its history, extensions, restoration act and claims prefetched.

    Annotated with ``district``: the district its work area lies in (layers.selectors).
    """
    permit = (
        with_district(permits_visible(viewer=viewer))
        .prefetch_related("history", "extensions", "restoration__documents", "claims")
        .filter(pk=permit_id)
        .first()
    )
    if permit is None:
        raise NotFound(_("No permit %(permit_id)s.") % {"permit_id": permit_id})
    return permit


# --- the dig-conflict check -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigConflict:
    """Something the work area runs into; ``block`` needs an operator's override reason."""

    kind: str
    """network, permit, repaired_yard, bus_route, snowplough_route"""
    level: str
    """block or warning"""
    layer: str
    id: int
    label: str
    message: str
    properties: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


BLOCK, WARNING = "block", "warning"


def _within(rows: models.QuerySet, geom: GEOSGeometry, metres: float) -> models.QuerySet:
    """Rows whose geometry lies within ``metres`` (geodesic) of ``geom``; 0 m: intersecting."""
    if metres <= 0:
        return rows.filter(geom__intersects=geom)
    return (
        rows.filter(geom__dwithin=(geom, degrees_for(metres, geom.centroid.y)))
        .annotate(distance_m=GeodesicDistance("geom", geom))
        .filter(distance_m__lte=metres)
    )


def permit_conflicts(
    *, geom: GEOSGeometry, today: date, exclude_permit_id: int | None = None
) -> list[DigConflict]:
    """What digging in ``geom`` runs into, blocking conflicts first.

    Networks crossed (gas and power block), other active permits overlapping (block), yards
    repaired in the last three years, bus and snowplough routes within a few metres.
    """
    found: list[DigConflict] = []
    for net in _within(
        NetworkSegment.objects.select_related("owner"), geom, NETWORK_MARGIN_M
    ).order_by("pk"):
        owner = net.owner.name if net.owner else "unknown owner"
        level = BLOCK if net.kind in BLOCKING_NETWORK_KINDS else WARNING
        found.append(
            DigConflict(
                kind="network",
                level=level,
                layer="networks",
                id=net.pk,
                label=str(net),
                message=f"Crosses a {net.get_kind_display().lower()} line ({owner}).",
                properties={"kind": net.kind, "owner": net.owner.name if net.owner else None},
            )
        )
    others = Permit.objects.filter(status__in=ACTIVE, geom__intersects=geom).select_related(
        "contractor"
    )
    if exclude_permit_id is not None:
        others = others.exclude(pk=exclude_permit_id)
    for other in others.order_by("pk"):
        found.append(
            DigConflict(
                kind="permit",
                level=BLOCK,
                layer="permits",
                id=other.pk,
                label=other.number,
                message=(
                    f"Overlaps active permit {other.number} of {other.contractor.name} "
                    f"(until {other.deadline.isoformat()})."
                ),
                properties={
                    "number": other.number,
                    "contractor": other.contractor.name,
                    "status": other.status,
                    "deadline": other.deadline.isoformat(),
                },
            )
        )
    since = _years_before(today, YARD_REPAIR_YEARS)
    for yard in _within(Yard.objects.filter(last_repaired_on__gte=since), geom, 0).order_by("pk"):
        found.append(
            DigConflict(
                kind="repaired_yard",
                level=WARNING,
                layer="yards",
                id=yard.pk,
                label=str(yard),
                message=f"Digs up a yard repaired on {yard.last_repaired_on.isoformat()}.",
                properties={"last_repaired_on": yard.last_repaired_on.isoformat()},
            )
        )
    for route in _within(BusRoute.objects.all(), geom, ROUTE_BLOCKED_M).order_by("pk"):
        found.append(
            DigConflict(
                kind="bus_route",
                level=WARNING,
                layer="bus_routes",
                id=route.pk,
                label=str(route),
                message=f"Blocks bus route {route}.",
                properties={"ref": route.ref, "name": route.name, "operator": route.operator},
            )
        )
    for plough in _within(
        SnowploughRoute.objects.select_related("organisation"), geom, ROUTE_BLOCKED_M
    ).order_by("pk"):
        found.append(
            DigConflict(
                kind="snowplough_route",
                level=WARNING,
                layer="snowplough_routes",
                id=plough.pk,
                label=str(plough),
                message=f"Blocks snowplough route {plough} (priority {plough.priority}).",
                properties={
                    "name": plough.name,
                    "priority": plough.priority,
                    "organisation": plough.organisation.name if plough.organisation else None,
                },
            )
        )
    return sorted(found, key=lambda c: c.level != BLOCK)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def permit_linked_objects(*, geom: GEOSGeometry) -> dict[str, list[int]]:
    """The ids of the yards, networks, buildings and streets a work area touches."""
    return {
        "yards": list(
            _within(Yard.objects.all(), geom, 0).order_by("pk").values_list("pk", flat=True)
        ),
        "networks": list(
            _within(NetworkSegment.objects.all(), geom, NETWORK_MARGIN_M)
            .order_by("pk")
            .values_list("pk", flat=True)
        ),
        "buildings": list(
            _within(Building.objects.all(), geom, LINK_MARGIN_M)
            .order_by("pk")
            .values_list("pk", flat=True)
        ),
        "streets": list(
            _within(Street.objects.all(), geom, LINK_MARGIN_M)
            .order_by("pk")
            .values_list("pk", flat=True)
        ),
    }


def linked_objects_for(permit: Permit, viewer: Viewer) -> dict[str, list[int]]:
    """The linked objects the viewer's role may see: never networks for a contractor."""
    return {
        layer: ids
        for layer, ids in (permit.linked_objects or {}).items()
        if viewer.is_staff_role or layer != "networks"
    }


def appeals_for_permit(permit: Permit, *, limit: int = 20) -> list[Appeal]:
    """Appeals linked to the permit, or located in or beside its work area, newest first."""
    near = Q(
        pk__in=_within(
            Appeal.objects.filter(geom__isnull=False), permit.geom, APPEALS_AROUND_M
        ).values("pk")
    )
    linked = Q(linked_layer="permits", linked_id=permit.pk)
    return list(
        Appeal.objects.filter(linked | near)
        .select_related("category")
        .order_by("-received_at", "-pk")[:limit]
    )


# --- claims -----------------------------------------------------------------------------------


def claims_visible(*, viewer: Viewer) -> models.QuerySet[Claim]:
    """Staff see every claim; a contractor the claims addressed to its organisation."""
    if viewer.is_public:
        raise Unauthorized(_("Claims need an authenticated operator, planner or contractor."))
    rows = Claim.objects.select_related("permit", "recipient")
    if not viewer.is_staff_role:
        rows = rows.filter(recipient_id=viewer.organisation_id)
    return rows


def claims_list(
    *, viewer: Viewer, delivery: str | None = None, permit_id: int | None = None
) -> models.QuerySet[Claim]:
    rows = claims_visible(viewer=viewer)
    if delivery:
        rows = rows.filter(delivery=delivery)
    if permit_id is not None:
        rows = rows.filter(permit_id=permit_id)
    return rows.order_by("-created_at", "-id")


def claim_get(*, viewer: Viewer, claim_id: int) -> Claim:
    claim = claims_visible(viewer=viewer).filter(pk=claim_id).first()
    if claim is None:
        raise NotFound(_("No claim %(claim_id)s.") % {"claim_id": claim_id})
    return claim


class PoliceNotConfigured(ApplicationError):
    code = "police_not_configured"


def police_organisation() -> Organisation:
    """The police organisation claims go to: ``POLICE_ORGANISATION``, else the only one."""
    name = settings.POLICE_ORGANISATION
    police = Organisation.objects.filter(kind=Organisation.Kind.POLICE).order_by("name")
    if name:
        found = police.filter(name=name).first()
        if found is None:
            raise PoliceNotConfigured(
                _("POLICE_ORGANISATION is %(name)s, but no police organisation has that name.")
                % {"name": repr(name)}
            )
        return found
    candidates = list(police[:3])
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise PoliceNotConfigured(
            _("No organisation of kind police exists: police claims cannot be addressed.")
        )
    raise PoliceNotConfigured(
        "Several police organisations exist; set POLICE_ORGANISATION to the one claims go to: "
        + ", ".join(o.name for o in candidates)
    )


# --- the public restoration query -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Located:
    label: str
    point: Point
    method: str
    """search (the address search), key (the stored address key), or none"""


def _geocode(text: str) -> Located | None:
    """Where an address is: the address search if it is there, else the stored address keys."""
    try:
        from layers.search import addresses_search
    except ImportError:  # pragma: no cover - the search is another module's; degrade, not fail
        addresses_search = None
    if addresses_search is not None:
        try:
            with transaction.atomic():
                result = addresses_search(
                    q=text, viewer=PUBLIC, limit=1, layers=["buildings", "yards"]
                )
        except ApplicationError:
            raise
        except (DatabaseError, TypeError, ValueError, KeyError) as exc:
            logger.warning("address search failed for %r, matching address keys: %s", text, exc)
        else:
            if result.hits:
                hit = result.hits[0]
                lon, lat = hit.centroid
                return Located(hit.address, Point(lon, lat, srid=4326), "search")
            return None
    parsed = parse_address(text)
    if not parsed.key:
        return None
    for model in (Building, Yard):
        row = model.objects.filter(search_key=parsed.key).order_by("pk").first()
        if row is not None:
            return Located(str(row), row.geom.point_on_surface, "key")
    return None


def restoration_public(
    *, address: str, today: date, radius_m: float = PUBLIC_RADIUS_M
) -> dict[str, Any]:
    """Open permits at or near an address: purpose, contractor, deadline, status, days overdue.

    No personal data: never the responsible person or a phone number.
    """
    text = (address or "").strip()
    if len(text) < 2:
        raise BadQuery(
            _("Give an address of at least 2 characters."),
            extra={"fields": {"address": ["At least 2 characters."]}},
        )
    if len(text) > 200:
        raise BadQuery(
            _("An address has at most 200 characters."),
            extra={"fields": {"address": ["At most 200 characters."]}},
        )
    if not 0 < radius_m <= PUBLIC_MAX_RADIUS_M:
        raise BadQuery(
            _("radius must be more than 0 and at most %(public_max_radius_m)s m.")
            % {"public_max_radius_m": format(PUBLIC_MAX_RADIUS_M, "g")}
        )
    located = _geocode(text)
    open_permits = Permit.objects.filter(status__in=ACTIVE).select_related("contractor")
    # A permit written to the same address counts even if its work area lies further away
    # (the yard behind a house): the same normalised key as the query, or the text itself.
    wanted = parse_address(text)
    written = [
        p.pk
        for p in Permit.objects.filter(status__in=ACTIVE)
        .filter(Q(address__icontains=text) | Q(address__icontains=wanted.housenumber or text))
        .only("pk", "address")[:500]
        if wanted.key
        and parse_address(p.address).key == wanted.key
        or text.lower() in p.address.lower()
    ]
    if located is not None:
        near = _within(open_permits, located.point, radius_m).values("pk")
        rows = list(
            open_permits.filter(Q(pk__in=near) | Q(pk__in=written))
            .annotate(distance_m=GeodesicDistance("geom", located.point))
            .order_by("distance_m", "pk")[:PUBLIC_MAX_RESULTS]
        )
    else:
        rows = list(open_permits.filter(pk__in=written).order_by("deadline", "pk")[:50])
    return {
        "address": text,
        "located": (
            None
            if located is None
            else {
                "label": located.label,
                "lon": round(located.point.x, 6),
                "lat": round(located.point.y, 6),
                "method": located.method,
            }
        ),
        "radius_m": radius_m,
        "permits": [_public_permit(p, today) for p in rows],
    }


def _public_permit(permit: Permit, today: date) -> dict[str, Any]:
    centre = permit.geom.point_on_surface
    distance = getattr(permit, "distance_m", None)
    return {
        "number": permit.number,
        "purpose": permit.purpose,
        "contractor": permit.contractor.name,
        "address": permit.address,
        "status": permit.status,
        "planned_start": permit.planned_start.isoformat(),
        "deadline": permit.deadline.isoformat(),
        "overdue_days": overdue_days(permit.deadline, today),
        "distance_m": None if distance is None else round(distance, 1),
        "lon": round(centre.x, 6),
        "lat": round(centre.y, 6),
    }


# --- the site plan of a claim -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SitePlan:
    """What a claim's small map draws: the work area and the city around it, as vectors."""

    work_area: GEOSGeometry
    bbox: tuple[float, float, float, float]
    buildings: list[GEOSGeometry]
    yards: list[GEOSGeometry]
    streets: list[tuple[str, GEOSGeometry]]


SITE_PLAN_MARGIN_M = 40.0
SITE_PLAN_MAX_ROWS = 600


def site_plan(*, geom: GEOSGeometry, margin_m: float = SITE_PLAN_MARGIN_M) -> SitePlan:
    """The work area with the buildings, yards and streets within ``margin_m`` of its extent."""
    xmin, ymin, xmax, ymax = geom.extent
    lat = (ymin + ymax) / 2
    dy = margin_m / METRES_PER_DEGREE_LAT
    dx = degrees_for(margin_m, lat)
    bbox = (xmin - dx, ymin - dy, xmax + dx, ymax + dy)
    frame = Polygon.from_bbox(bbox)
    frame.srid = 4326
    near = {"geom__intersects": frame}
    return SitePlan(
        work_area=geom,
        bbox=bbox,
        buildings=[
            b.geom for b in Building.objects.filter(**near).only("geom")[:SITE_PLAN_MAX_ROWS]
        ],
        yards=[y.geom for y in Yard.objects.filter(**near).only("geom")[:SITE_PLAN_MAX_ROWS]],
        streets=[
            (s.name, s.geom)
            for s in Street.objects.filter(**near).only("name", "geom")[:SITE_PLAN_MAX_ROWS]
        ],
    )
