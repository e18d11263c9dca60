"""Reading appeals: who sees which, the list, where an address is, what lies near, reports."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.gis.db.models.functions import PointOnSurface
from django.contrib.gis.geos import Point, Polygon
from django.db import connection, models
from django.db.models import (
    Aggregate,
    Case,
    Count,
    F,
    FloatField,
    Func,
    Q,
    Value,
    When,
)
from django.db.models.functions import Extract
from django.utils.translation import gettext as _
from psycopg import sql

from gis.exceptions import ApplicationError, Forbidden, NotFound, Unauthorized
from gis.roles import PUBLIC, Role, Viewer
from layers.addresses import parse_address
from layers.geojson import feature
from layers.models import Building, District
from layers.registry import LAYERS, LayerSpec
from layers.selectors import GeodesicDistance, degrees_for
from orders.appeals import refdata
from orders.appeals.lifecycle import OPEN_STATUSES
from orders.appeals.models import Appeal, Callback, Category, IntakeMessage, IntegrationKey

try:  # the address search (layers/search.py) is being built beside this app
    from layers.search import addresses_search
except ImportError:  # pragma: no cover - only before layers.search exists
    addresses_search = None

# layers.search scores hits (tier + similarity) / 4; tier 3 is the exact house, so only a score
# of 0.75 or more locates an appeal. A nearby number or a similar street is a guess: never taken.
EXACT_HOUSE_SCORE = 0.75
LINK_CANDIDATES = 3
# KNN (``<->``, planar degrees) picks this many per wanted candidate; the geodesic distance then
# orders them, since a degree of longitude is shorter than one of latitude away from the equator.
KNN_OVERFETCH = 3
MAX_LIST_LIMIT = 500
# The attribute the object of a newly registered appeal keeps the history rows it wrote in
# (services), all of them: the answer to the registering request needs no query for its history.
# Only that object has it: every service that moves an appeal loads the row anew.
HISTORY_WRITTEN = "history_written"


# --- who sees what ---------------------------------------------------------------------------


def appeals_visible(*, viewer: Viewer) -> models.QuerySet[Appeal]:
    """Appeals a viewer may list: staff all, a service (contractor role) its organisation's.

    The public lists none here (it sees the map layer and Open311, without personal data).
    """
    if viewer.is_public:
        raise Unauthorized(_("Appeals need an operator's, planner's or service's token."))
    qs = Appeal.objects.select_related("category", "organisation", "duplicate_of")
    if viewer.role == Role.CONTRACTOR:
        return qs.filter(organisation_id=viewer.organisation_id)
    return qs


def sees_contacts(viewer: Viewer, appeal: Appeal) -> bool:
    """Residents' contacts: for operators, and for the service that must fix the appeal."""
    if viewer.role == Role.OPERATOR:
        return True
    return viewer.role == Role.CONTRACTOR and viewer.organisation_id == appeal.organisation_id


def with_overdue(qs: models.QuerySet[Appeal], *, now: datetime) -> models.QuerySet[Appeal]:
    """Annotate ``overdue``: still open and past its SLA."""
    return qs.annotate(
        overdue=Case(
            When(open_due__lt=now, then=Value(True)),
            default=Value(False),
            output_field=models.BooleanField(),
        )
    )


@dataclass(frozen=True, slots=True)
class AppealFilters:
    status: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    organisation: int | None = None
    overdue: bool | None = None
    needs_attention: bool | None = None
    channel: tuple[str, ...] = ()
    bbox: tuple[float, float, float, float] | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    """Exclusive."""


def appeals_list(
    *, viewer: Viewer, filters: AppealFilters, now: datetime
) -> models.QuerySet[Appeal]:
    """The appeals a viewer may see that match the filters, newest first, with ``overdue``."""
    qs = with_overdue(appeals_visible(viewer=viewer), now=now)
    if filters.status:
        qs = qs.filter(status__in=filters.status)
    if filters.category:
        qs = qs.filter(category__code__in=filters.category)
    if filters.organisation is not None:
        qs = qs.filter(organisation_id=filters.organisation)
    if filters.channel:
        qs = qs.filter(channel__in=filters.channel)
    if filters.needs_attention is not None:
        qs = qs.filter(needs_attention=filters.needs_attention)
    if filters.overdue is True:
        qs = qs.filter(open_due__lt=now)
    elif filters.overdue is False:
        qs = qs.exclude(open_due__lt=now)
    if filters.bbox is not None:
        box = Polygon.from_bbox(filters.bbox)
        box.srid = 4326
        # Appeals are points: the index's bounding-box test (&&) is already exact for them.
        qs = qs.filter(geom__bboverlaps=box)
    if filters.received_from is not None:
        qs = qs.filter(received_at__gte=filters.received_from)
    if filters.received_to is not None:
        qs = qs.filter(received_at__lt=filters.received_to)
    return qs.order_by("-received_at", "-id")


def appeal_get(*, pk: int, viewer: Viewer, now: datetime) -> Appeal:
    """One appeal the viewer may see, with ``overdue``; 404 otherwise."""
    appeal = with_overdue(appeals_visible(viewer=viewer), now=now).filter(pk=pk).first()
    if appeal is None:
        raise NotFound(_("No appeal %(pk)s.") % {"pk": pk})
    return appeal


def appeal_district(*, appeal: Appeal) -> dict[str, Any] | None:
    """The district (``{"id", "name"}``) the database stored for the appeal; None outside all.

    The trigger sets it on write: an object loaded from the row, or just inserted (the INSERT
    reads it back), has it; one saved by an UPDATE that moved its point must be loaded again.
    """
    district_id = appeal.district_id
    if district_id is None:
        return None
    found = refdata.cache.get(
        ("district", district_id),
        lambda: District.objects.filter(pk=district_id).values("id", "name").first(),
    )
    return None if found is None else dict(found)


def appeal_history(*, appeal: Appeal) -> list[dict[str, Any]]:
    """The appeal's history, oldest first; read from the rows unless the object wrote them all."""
    written = getattr(appeal, HISTORY_WRITTEN, None)
    if written is not None:
        rows = sorted(written, key=lambda row: (row.at, row.pk))
    else:
        rows = appeal.history.select_related("by").order_by("at", "id")
    return [
        {
            "at": row.at,
            "by": row.by.username if row.by else row.by_label,
            "action": row.action,
            "from_status": row.from_status,
            "to_status": row.to_status,
            "comment": row.comment,
            "data": row.data,
        }
        for row in rows
    ]


def categories_active() -> models.QuerySet[Category]:
    return Category.objects.filter(active=True).select_related("organisation").order_by("code")


def category_by_code(code: str) -> Category | None:
    """The active category of a code, with its organisation (a shared copy: read only)."""
    return refdata.cache.get(
        ("category", code),
        lambda: (
            Category.objects.filter(code=code, active=True).select_related("organisation").first()
        ),
    )


def intake_pending() -> models.QuerySet[IntakeMessage]:
    return IntakeMessage.objects.filter(status=IntakeMessage.Status.PENDING).order_by(
        "received_at", "id"
    )


def callbacks_list(
    *, status: str | None = None, organisation: int | None = None
) -> models.QuerySet[Callback]:
    """The operators' call-back queue: oldest due first (closed ones: most recently closed)."""
    rows = Callback.objects.select_related(
        "appeal", "appeal__category", "appeal__organisation", "closed_by"
    )
    if status is not None:
        rows = rows.filter(status=status)
    if organisation is not None:
        rows = rows.filter(appeal__organisation_id=organisation)
    if status == Callback.Status.CLOSED:
        return rows.order_by("-closed_at", "-id")
    return rows.order_by("due_at", "id")


def token_hash(raw: str) -> str:
    """What is stored of a secret (a resident's link token, an integration key): its SHA-256."""
    return hashlib.sha256(raw.encode()).hexdigest()


def appeal_by_confirm_token(*, token: str) -> Appeal:
    """The appeal a resident's link is for, while the link is unused; 404 otherwise."""
    appeal = (
        Appeal.objects.select_related("category", "organisation")
        .filter(confirm_token_hash=token_hash(token), status=Appeal.Status.DONE)
        .exclude(confirm_token_hash="")
        .first()
        if token
        else None
    )
    if appeal is None:
        raise NotFound(_("This link is not valid, or it has been used already."))
    return appeal


def integration_key_check(*, raw: str | None, purpose: str) -> IntegrationKey:
    """The active key of this purpose, or 401 (no key) / 403 (a wrong one)."""
    if not raw:
        raise Unauthorized(_("Send the integration key (%(purpose)s).") % {"purpose": purpose})
    key = IntegrationKey.objects.filter(key_hash=token_hash(raw), active=True).first()
    if key is None or key.purpose != purpose:
        raise Forbidden(_("That key is not valid here."))
    return key


def open311_requests(
    *,
    now: datetime,
    ids: list[str] | tuple[str, ...] = (),
    codes: list[str] | tuple[str, ...] = (),
    statuses: list[str] | tuple[str, ...] = (),
    start: datetime | None = None,
    end: datetime | None = None,
    window: timedelta | None = None,
) -> models.QuerySet[Appeal]:
    """Appeals as Open311 asks for them, newest first.

    By ids (then nothing else counts), or by service codes, open/closed and a received window
    (by default ``window`` up to now).
    """
    qs = Appeal.objects.select_related("category", "organisation", "duplicate_of")
    if ids:
        return qs.filter(number__in=ids).order_by("-received_at", "-id")
    if codes:
        qs = qs.filter(category__code__in=codes)
    if set(statuses) == {"open"}:
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif set(statuses) == {"closed"}:
        qs = qs.exclude(status__in=OPEN_STATUSES)
    if window is not None:
        end = end or now
        start = start or end - window
    if start is not None:
        qs = qs.filter(received_at__gte=start)
    if end is not None:
        qs = qs.filter(received_at__lte=end)
    return qs.order_by("-received_at", "-id")


# --- where an address is ---------------------------------------------------------------------

_HAS_DIGIT = re.compile(r"\d")


def address_queries(address: str) -> list[str]:
    """The queries to try for an address, longest first.

    The address, then without its trailing comma parts ("…, BALTIMORE, MD, 21215"); only the
    ones with a number in them: without a house number nothing is exact.
    """
    parts = [p.strip() for p in address.split(",")]
    queries = [", ".join(parts[:n]) for n in range(len(parts), 0, -1)]
    return [q for q in queries if len(q) >= 2 and _HAS_DIGIT.search(q)]


def address_locate(*, address: str) -> Point | None:
    """The point of the building at an address, or None: the exact house, never a near one.

    The stored address keys first (``layers.addresses.parse_address``, one statement for every
    query of ``address_queries``); then, when it is installed, the address search
    (``layers.search.addresses_search``), which forgives a typo in the street but is taken only
    for the exact house, on the whole address and on its shortest part with a number.
    """
    queries = address_queries(address)
    exact = _key_exact(queries)
    for query in queries:
        if query in exact:
            return exact[query]
    if addresses_search is None or not queries:
        return None
    for query in dict.fromkeys((queries[0], queries[-1])):
        point = _search_exact(query)
        if point is not None:
            return point
    return None


def addresses_locate(*, addresses: Iterable[str]) -> dict[str, Point]:
    """The exact house of many addresses by their stored keys, in one statement (imports).

    No search per row: an export's addresses are a machine's, spelled the same every time, and
    a fuzzy search of thousands of them (10–30 ms each) would cost minutes for no exact house more.
    """
    wanted = {a: address_queries(a) for a in set(addresses) if a}
    exact = _key_exact(q for queries in wanted.values() for q in queries)
    found: dict[str, Point] = {}
    for address, queries in wanted.items():
        point = next((exact[q] for q in queries if q in exact), None)
        if point is not None:
            found[address] = point
    return found


def _search_exact(query: str) -> Point | None:
    try:
        result = addresses_search(q=query, viewer=PUBLIC, limit=1, layers=["buildings"])
    except ApplicationError:  # a query the search refuses (too short, no letters…)
        return None
    hit = result.hits[0] if result.hits else None
    if hit is None or hit.score < EXACT_HOUSE_SCORE:
        return None
    return Point(*hit.centroid, srid=4326)


def _key_exact(queries: Iterable[str]) -> dict[str, Point]:
    keys: dict[str, list[str]] = {}
    for query in queries:
        parsed = parse_address(query)
        if parsed.street and parsed.housenumber:
            keys.setdefault(parsed.key, []).append(query)
    if not keys:
        return {}
    found: dict[str, Point] = {}
    rows = (
        Building.objects.filter(search_key__in=keys)
        .annotate(point=PointOnSurface("geom"))
        .order_by("search_key", "pk")
        .values_list("search_key", "point")
    )
    for key, point in rows:
        for query in keys[key]:
            found.setdefault(query, point)
    return found


# --- what lies near --------------------------------------------------------------------------


def link_candidates(*, layer: str, point: Point, radius_m: float) -> list[dict[str, Any]]:
    """The nearest objects of a layer within a radius, nearest first: ``{layer, id, distance_m}``.

    Every row of the layer counts, whoever asks: linking is the city's bookkeeping, and the link
    is shown only to those who may see the layer.
    """
    degrees = degrees_for(radius_m, point.y)
    srid = LAYERS[layer].geometry_field.srid
    if point.srid != srid:  # as the ORM would (ST_Transform of the value)
        point = point.transform(srid, clone=True)
    with connection.cursor() as cursor:
        cursor.execute(
            _near_statement(layer),
            {
                "point": point.hexewkb.decode(),
                "degrees": degrees,
                "limit": LINK_CANDIDATES * KNN_OVERFETCH,
            },
        )
        return _nearest(layer, cursor.fetchall(), radius_m)


@functools.cache
def _near_statement(layer: str) -> str:
    """``link_candidates``' statement for a layer: the GiST box test, KNN order, metres.

    Composed once from the registry: the ORM built and compiled the same statement anew for every
    appeal, 0.8 ms of Python each, more than PostgreSQL takes to run it.
    """
    spec = LAYERS[layer]
    return (
        sql.SQL(
            "SELECT {pk}, ST_Distance({geom}::geography, %(point)s::geometry::geography)"
            " FROM {table} WHERE ST_DWithin({geom}, %(point)s::geometry, %(degrees)s)"
            " ORDER BY {geom} <-> %(point)s::geometry LIMIT %(limit)s"
        )
        .format(
            pk=sql.Identifier(spec.model._meta.pk.column),
            geom=sql.Identifier(spec.geometry_field.column),
            table=sql.Identifier(spec.model._meta.db_table),
        )
        .as_string()
    )


def geodesic_distance(a: Any, b: Any) -> Func:
    """Metres on the spheroid, as ``GeodesicDistance``, but taking an ``OuterRef``.

    A GeoFunc cannot: it inspects its arguments' fields before the outer query resolves them.
    """
    return Func(
        a,
        b,
        function="ST_Distance",
        arg_joiner="::geography, ",
        template="%(function)s(%(expressions)s::geography)",
        output_field=FloatField(),
    )


def _nearest(
    layer: str, rows: Iterable[tuple[int, float]], radius_m: float
) -> list[dict[str, Any]]:
    hits = sorted((d, pk) for pk, d in rows if d <= radius_m)
    return [
        {"layer": layer, "id": pk, "distance_m": round(d, 1)} for d, pk in hits[:LINK_CANDIDATES]
    ]


def linked_object_exists(*, layer: str, pk: int) -> bool:
    spec = LAYERS[layer]
    return spec.model._default_manager.filter(pk=pk).exists()


def object_distance_m(*, layer: str, pk: int, point: Point) -> float | None:
    spec = LAYERS[layer]
    row = (
        spec.model._default_manager.filter(pk=pk)
        .annotate(distance_m=GeodesicDistance(spec.geometry_field.name, point))
        .values_list("distance_m", flat=True)
        .first()
    )
    return None if row is None else round(row, 1)


# --- the object card -------------------------------------------------------------------------

CARD_LIMIT = 20


def card_linked_appeals(
    spec: LayerSpec, obj: models.Model, viewer: Viewer
) -> tuple[str, dict[str, Any]] | None:
    """The card's entry for appeals linked to an object (hooked into layers.selectors)."""
    appeals = LAYERS["appeals"]
    if spec is appeals or not appeals.visible_to(viewer):
        return None
    rows = (
        appeals.queryset_for(viewer)
        .select_related("category", "organisation")
        .filter(linked_layer=spec.name, linked_id=obj.pk)
        .order_by("-received_at", "-id")[:CARD_LIMIT]
    )
    return "appeals", {
        "title": "Appeals about it",
        "within_m": 0,
        "features": [feature(appeals, row, viewer) for row in rows],
    }


# --- reports ---------------------------------------------------------------------------------


class PercentileCont(Aggregate):
    """``percentile_cont(p) WITHIN GROUP (ORDER BY expr)``: the interpolated percentile."""

    function = "percentile_cont"
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, *, percentile: float, **extra: Any) -> None:
        if not 0 <= percentile <= 1:
            raise ValueError("percentile must be within 0…1")
        super().__init__(expression, percentile=repr(float(percentile)), **extra)


REPORT_COLUMNS = (
    "organisation",
    "received",
    "closed",
    "closed_within_sla",
    "overdue_now",
    "median_hours_to_close",
    "p90_hours_to_close",
    "reopened_share",
)


def departments_report(
    *, start: datetime, end: datetime, now: datetime, organisation_id: int | None = None
) -> list[dict[str, Any]]:
    """Per responsible organisation, the figures of appeals received or closed in [start, end).

    Received; closed (done, rejected or duplicate in the period); closed within SLA (closed by
    ``sla_due``); overdue now (open past ``sla_due`` at ``now``, whenever received); median and
    p90 hours from receipt to closing (of the closed); reopened share (of the received, those a
    resident sent back at least once). Computed in one grouped statement.
    """
    received = Q(received_at__gte=start, received_at__lt=end)
    closed = Q(closed_at__gte=start, closed_at__lt=end)
    overdue = Q(open_due__lt=now)
    hours = Extract(F("closed_at") - F("received_at"), "epoch") / Value(3600.0)
    qs = Appeal.objects.filter(received | closed | overdue)
    if organisation_id is not None:
        qs = qs.filter(organisation_id=organisation_id)
    rows = (
        qs.values("organisation_id", "organisation__name")
        .annotate(
            received=Count("id", filter=received),
            closed=Count("id", filter=closed),
            closed_within_sla=Count("id", filter=closed & Q(closed_at__lte=F("sla_due"))),
            overdue_now=Count("id", filter=overdue),
            median_hours_to_close=PercentileCont(hours, percentile=0.5, filter=closed),
            p90_hours_to_close=PercentileCont(hours, percentile=0.9, filter=closed),
            reopened=Count("id", filter=received & Q(reopen_count__gt=0)),
        )
        .order_by("organisation__name")
    )
    report = []
    for row in rows:
        report.append(
            {
                "organisation_id": row["organisation_id"],
                "organisation": row["organisation__name"] or "(no organisation)",
                "received": row["received"],
                "closed": row["closed"],
                "closed_within_sla": row["closed_within_sla"],
                "overdue_now": row["overdue_now"],
                "median_hours_to_close": _round(row["median_hours_to_close"]),
                "p90_hours_to_close": _round(row["p90_hours_to_close"]),
                "reopened_share": (
                    round(row["reopened"] / row["received"], 3) if row["received"] else None
                ),
            }
        )
    return report


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
