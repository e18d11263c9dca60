"""Reads for planning: the yard ranking, plan composition, break hotspots and their density.

The ranking and the hotspots are computed in PostGIS, each in one statement of CTEs composed with
``psycopg.sql``: tables come from the models' ``_meta`` (``sql.Identifier``), every value is a
bound parameter.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import Polygon
from django.db import connection
from django.utils.translation import gettext as _
from psycopg import sql

from gis.exceptions import ApplicationError, BadQuery, NotFound
from layers.models import Building, NetworkKind, NetworkSegment, Organisation, Yard
from orders.appeals.models import Appeal, Category
from orders.permits.models import Permit
from orders.planning.models import Incident, UnitCost, YardPlan, YardPlanItem

# --- the yard ranking --------------------------------------------------------------------------

WEIGHT_NAMES = ("apartments", "appeals", "area", "condition")
DEFAULT_WEIGHTS = "apartments:0.5,appeals:0.3,area:0.2"
MAX_WEIGHT = 1000.0
DEFAULT_EXCLUDE = "open_permits,repaired:3"
MAX_REPAIRED_YEARS = 100
# Buildings have no entrance data: a yard serves the buildings within this distance. The
# derived yards are their block less a 9 m street setback and its buildings, so the block's own
# houses touch the yard or lie within 9 m, while the houses across the street are 9 m + the
# carriageway (20 m and more) away.
APARTMENTS_RADIUS_M = 15.0
MAX_APARTMENTS_RADIUS_M = 200.0
APPEALS_DAYS = 365
# Condition is on a fixed 0..1 scale, not min-max: "poor" means the same in every ranking.
# An unknown condition is neither pushed up nor down: the middle of the scale.
CONDITION_SCORES = {
    Yard.Condition.POOR: 1.0,
    Yard.Condition.FAIR: 0.5,
    Yard.Condition.GOOD: 0.0,
}
UNKNOWN_CONDITION_SCORE = 0.5
OPEN_PERMIT_STATUSES = (Permit.Status.ISSUED, Permit.Status.IN_PROGRESS)
# A rejected appeal was no problem; a duplicate is counted once, through its original.
IGNORED_APPEAL_STATUSES = (Appeal.Status.REJECTED, Appeal.Status.DUPLICATE)
MAX_RANKING_LIMIT = 10_000
# A box cut in degrees that covers r metres in every direction at latitude φ is r / (110 km ·
# cos φ): a degree of latitude is at least 110.57 km, one of longitude 111.32 km · cos φ.
DEGREE_DIVISOR_M = 110_000.0


@dataclass(frozen=True, slots=True)
class Weights:
    apartments: float = 0.0
    appeals: float = 0.0
    area: float = 0.0
    condition: float = 0.0

    @property
    def total(self) -> float:
        return self.apartments + self.appeals + self.area + self.condition

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in WEIGHT_NAMES}


@dataclass(frozen=True, slots=True)
class Exclusions:
    open_permits: bool = False
    repaired_years: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"open_permits": self.open_permits, "repaired_years": self.repaired_years}

    def repaired_since(self, today: date) -> date | None:
        if self.repaired_years is None:
            return None
        return _years_before(today, self.repaired_years)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def weights_parse(*, text: str) -> Weights:
    """``apartments:0.5,appeals:0.3,area:0.2`` → Weights; names not given weigh 0.

    Raises BadQuery naming the problem: an unknown name, a name twice, a value that is not a
    number, negative or above MAX_WEIGHT, or no weight above 0.
    """
    values: dict[str, float] = {}
    for part in text.split(","):
        name, sep, raw = part.partition(":")
        name = name.strip()
        if not sep or not name:
            raise BadQuery(
                _("weights takes name:value pairs separated by commas, got %(strip)s.")
                % {"strip": repr(part.strip())},
                extra={"weights": list(WEIGHT_NAMES)},
            )
        if name not in WEIGHT_NAMES:
            raise BadQuery(
                _("Unknown weight %(name)s.") % {"name": repr(name)},
                extra={"weights": list(WEIGHT_NAMES)},
            )
        if name in values:
            raise BadQuery(_("Weight %(name)s is given twice.") % {"name": repr(name)})
        try:
            value = float(raw)
        except ValueError:
            raise BadQuery(
                _("Weight %(name)s is not a number: %(strip)s.")
                % {"name": repr(name), "strip": repr(raw.strip())}
            ) from None
        if not math.isfinite(value) or value < 0 or value > MAX_WEIGHT:
            raise BadQuery(
                _("Weight %(name)s must be between 0 and %(max_weight)s, got %(raw)s.")
                % {"name": repr(name), "max_weight": format(MAX_WEIGHT, "g"), "raw": repr(raw)}
            )
        values[name] = value
    weights = Weights(**values)
    if weights.total <= 0:
        raise BadQuery(_("At least one weight must be above 0."))
    return weights


def exclusions_parse(*, text: str) -> Exclusions:
    """``open_permits,repaired:3`` → Exclusions; ``none`` or an empty text excludes nothing."""
    open_permits, repaired = False, None
    for part in (p.strip() for p in text.split(",")):
        if not part or part == "none":
            continue
        name, sep, raw = part.partition(":")
        if name == "open_permits" and not sep:
            open_permits = True
        elif name == "repaired" and sep:
            try:
                repaired = int(raw)
            except ValueError:
                raise BadQuery(
                    _("repaired:N takes a number of years, got %(raw)s.") % {"raw": repr(raw)}
                ) from None
            if not 1 <= repaired <= MAX_REPAIRED_YEARS:
                raise BadQuery(
                    _("repaired:N takes 1 to %(max_repaired_years)s years, got %(raw)s.")
                    % {"max_repaired_years": MAX_REPAIRED_YEARS, "raw": raw}
                )
        else:
            raise BadQuery(
                _("Unknown exclusion %(part)s.") % {"part": repr(part)},
                extra={"exclusions": ["open_permits", "repaired:N", "none"]},
            )
    return Exclusions(open_permits=open_permits, repaired_years=repaired)


def _table(model: type) -> sql.Identifier:
    return sql.Identifier(model._meta.db_table)


# The standard UTM zone (EPSG:326nn north, 327nn south) of a lon/lat point ``c``: true metres,
# scale 0.9996-1.0004, across a city. EPSG:3857 would stretch distances by 1/cos(latitude): 29 %
# in Baltimore, varying across the city.
UTM_SRID_OF_C = sql.SQL(
    "CASE WHEN ST_Y(c) < 0 THEN 32700 ELSE 32600 END"
    " + LEAST(60, GREATEST(1, floor((ST_X(c) + 180) / 6)::int + 1))"
)

RANKING = sql.SQL(
    """
WITH zone AS (
    SELECT {utm_srid} AS srid
    FROM (SELECT ST_Centroid(ST_SetSRID(ST_Extent(geom)::geometry, 4326)) AS c FROM {yard}) q
),
yards AS (
    SELECT y.id, y.geom, y.area_m2, y.condition,
           EXISTS (
               SELECT 1 FROM {permit} p
               WHERE p.status = ANY(%(open_statuses)s::text[])
                 AND p.geom && y.geom AND ST_Intersects(p.geom, y.geom)
           ) AS open_permit,
           COALESCE(y.last_repaired_on >= %(repaired_since)s::date, false) AS repaired
    FROM {yard} y
),
candidates AS (
    SELECT yards.*, ST_Transform(yards.geom, zone.srid) AS utm
    FROM yards CROSS JOIN zone
    WHERE NOT (open_permit AND %(exclude_open_permits)s)
      AND NOT repaired
      AND NOT (id = ANY(%(skip)s::bigint[]))
),
homes AS (
    -- The box cut (degrees, GiST index) first; then the distance in metres in the UTM zone
    -- decides: 7x faster than the geodesic distance to a yard's many vertices, as exact here.
    SELECT c.id,
           count(b.id) AS buildings,
           count(b.flats) AS buildings_with_flats,
           COALESCE(sum(b.flats), 0)::float AS apartments
    FROM candidates c
    CROSS JOIN zone z
    LEFT JOIN {building} b
      ON ST_DWithin(
             b.geom, c.geom,
             %(radius_m)s / ({divisor} * cos(radians(LEAST(abs(ST_Y(ST_Centroid(c.geom))), 89))))
         )
     AND ST_DWithin(ST_Transform(b.geom, z.srid), c.utm, %(radius_m)s)
    GROUP BY c.id
),
appeals AS (
    SELECT a.linked_id AS id, count(*)::float AS appeals
    FROM {appeal} a
    WHERE a.linked_layer = %(yard_layer)s
      AND a.received_at >= %(appeals_since)s
      AND NOT (a.status = ANY(%(ignored_statuses)s::text[]))
    GROUP BY a.linked_id
),
raw AS (
    SELECT c.id, h.apartments, COALESCE(a.appeals, 0)::float AS appeals, c.area_m2 AS area,
           COALESCE((%(condition_scores)s::jsonb ->> c.condition)::float,
                    %(unknown_condition)s) AS condition,
           h.buildings, h.buildings_with_flats
    FROM candidates c JOIN homes h USING (id) LEFT JOIN appeals a USING (id)
),
normalised AS (
    -- Min-max over the candidates; a component equal for all of them says nothing: 0.
    SELECT raw.*,
           count(*) OVER () AS candidates,
           sum(buildings_with_flats) OVER () AS flats_known,
           COALESCE((apartments - min(apartments) OVER ())
                    / NULLIF(max(apartments) OVER () - min(apartments) OVER (), 0), 0)
               AS apartments_n,
           COALESCE((appeals - min(appeals) OVER ())
                    / NULLIF(max(appeals) OVER () - min(appeals) OVER (), 0), 0) AS appeals_n,
           COALESCE((area - min(area) OVER ())
                    / NULLIF(max(area) OVER () - min(area) OVER (), 0), 0) AS area_n
    FROM raw
),
ranked AS (
    SELECT n.*,
           row_number() OVER (ORDER BY n.score DESC, n.id) AS rank
    FROM (
        SELECT normalised.*,
               (%(w_apartments)s * apartments_n + %(w_appeals)s * appeals_n
                + %(w_area)s * area_n + %(w_condition)s * condition) / %(w_total)s AS score
        FROM normalised
    ) n
),
summary AS (
    SELECT count(*) AS yards,
           count(*) FILTER (WHERE open_permit) AS with_open_permit,
           count(*) FILTER (WHERE repaired) AS repaired
    FROM yards
)
SELECT s.yards, s.with_open_permit, s.repaired,
       r.candidates, r.flats_known, r.rank, r.id, y.address, y.name, y.source, y.surface,
       y.condition AS condition_label, y.last_repaired_on,
       r.apartments, r.apartments_n, r.appeals, r.appeals_n, r.area, r.area_n, r.condition,
       r.score, r.buildings, r.buildings_with_flats
FROM summary s
LEFT JOIN LATERAL (
    SELECT * FROM ranked ORDER BY rank LIMIT %(limit)s
) r ON true
LEFT JOIN {yard} y ON y.id = r.id
ORDER BY r.rank
"""
).format(
    permit=_table(Permit),
    yard=_table(Yard),
    building=_table(Building),
    appeal=_table(Appeal),
    divisor=sql.Literal(DEGREE_DIVISOR_M),
    utm_srid=UTM_SRID_OF_C,
)


@dataclass(frozen=True, slots=True)
class Component:
    raw: float
    normalised: float
    weight: float
    points: float
    """weight / Σ weights × normalised: the component's share of the score."""

    def as_dict(self) -> dict[str, float]:
        return {
            "raw": round(self.raw, 2),
            "normalised": round(self.normalised, 6),
            "weight": self.weight,
            "points": round(self.points, 6),
        }


@dataclass(frozen=True, slots=True)
class RankedYard:
    rank: int
    id: int
    address: str
    name: str
    source: str
    surface: str
    condition: str
    last_repaired_on: date | None
    area_m2: float
    score: float
    components: dict[str, Component]
    buildings: int
    buildings_with_flats: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "id": self.id,
            "address": self.address,
            "name": self.name,
            "source": self.source,
            "surface": self.surface,
            "condition": self.condition,
            "last_repaired_on": self.last_repaired_on,
            "area_m2": round(self.area_m2, 1),
            "score": round(self.score, 6),
            "components": {name: c.as_dict() for name, c in self.components.items()},
            "buildings_within": self.buildings,
            "buildings_with_flats": self.buildings_with_flats,
        }


@dataclass(frozen=True, slots=True)
class Ranking:
    yards: list[RankedYard]
    total: int
    candidates: int
    excluded: dict[str, int]
    weights: Weights
    exclusions: Exclusions
    apartments_radius_m: float
    appeals_since: datetime
    repaired_since: date | None
    flats_known: int
    """Buildings with a flats count within the radius of some candidate yard."""

    def as_dict(self) -> dict[str, Any]:
        total = self.weights.total
        notes = []
        if self.candidates and not self.flats_known:
            notes.append(
                "No building near any candidate yard has a flats count (OSM building:flats): "
                "apartments are unknown, counted as 0 for every yard, and weigh nothing."
            )
        return {
            "yards": [y.as_dict() for y in self.yards],
            "total_yards": self.total,
            "candidates": self.candidates,
            "excluded": self.excluded,
            "weights": self.weights.as_dict(),
            "weight_shares": {n: round(w / total, 6) for n, w in self.weights.as_dict().items()},
            "exclude": self.exclusions.as_dict(),
            "repaired_since": self.repaired_since,
            "apartments_radius_m": self.apartments_radius_m,
            "appeals_since": self.appeals_since,
            "normalisation": (
                "apartments, appeals and area: min-max over the candidate yards, "
                "(x - min) / (max - min), 0 when all are equal; condition on a fixed scale "
                "(poor 1, fair 0.5, good 0, unknown 0.5). score = sum(weight x normalised) / "
                "sum(weights)."
            ),
            "buildings_with_flats": self.flats_known,
            "notes": notes,
        }


def yards_rank(
    *,
    weights: Weights,
    exclusions: Exclusions,
    apartments_radius_m: float = APARTMENTS_RADIUS_M,
    limit: int | None = 100,
    now: datetime,
    skip: frozenset[int] = frozenset(),
) -> Ranking:
    """Every yard scored and ranked, best first, in one SQL statement; ``skip`` leaves yards out.

    See ``RANKING`` and ``Ranking.as_dict`` for the formula. ``limit=None`` returns them all.
    """
    today = now.date()
    appeals_since = now - timedelta(days=APPEALS_DAYS)
    repaired_since = exclusions.repaired_since(today)
    params = {
        "open_statuses": list(OPEN_PERMIT_STATUSES),
        "repaired_since": repaired_since,
        "exclude_open_permits": exclusions.open_permits,
        "skip": sorted(skip),
        "radius_m": apartments_radius_m,
        "yard_layer": "yards",
        "appeals_since": appeals_since,
        "ignored_statuses": list(IGNORED_APPEAL_STATUSES),
        "condition_scores": json.dumps({str(k): v for k, v in CONDITION_SCORES.items()}),
        "unknown_condition": UNKNOWN_CONDITION_SCORE,
        "w_apartments": weights.apartments,
        "w_appeals": weights.appeals,
        "w_area": weights.area,
        "w_condition": weights.condition,
        "w_total": weights.total,
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(RANKING.as_string(), params)
        columns = [c.name for c in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    first = rows[0]
    total = weights.total
    yards = []
    for row in rows:
        if row["id"] is None:
            continue
        components = {
            name: Component(
                raw=row[name],
                normalised=row[f"{name}_n"] if name != "condition" else row["condition"],
                weight=getattr(weights, name),
                points=getattr(weights, name)
                / total
                * (row[f"{name}_n"] if name != "condition" else row["condition"]),
            )
            for name in WEIGHT_NAMES
        }
        yards.append(
            RankedYard(
                rank=row["rank"],
                id=row["id"],
                address=row["address"],
                name=row["name"],
                source=row["source"],
                surface=row["surface"],
                condition=row["condition_label"],
                last_repaired_on=row["last_repaired_on"],
                area_m2=row["area"],
                score=row["score"],
                components=components,
                buildings=row["buildings"],
                buildings_with_flats=row["buildings_with_flats"],
            )
        )
    return Ranking(
        yards=yards,
        total=first["yards"],
        candidates=first["candidates"] or 0,
        excluded={
            "open_permits": first["with_open_permit"] if exclusions.open_permits else 0,
            "repaired": first["repaired"],
        },
        weights=weights,
        exclusions=exclusions,
        apartments_radius_m=apartments_radius_m,
        appeals_since=appeals_since,
        repaired_since=repaired_since,
        flats_known=int(first["flats_known"] or 0),
    )


# --- plans -------------------------------------------------------------------------------------

DEFAULT_FIRST_MONTH, DEFAULT_LAST_MONTH = 5, 10  # the repair season: May to October
MAX_PLAN_COUNT = 10_000
CENT = Decimal("0.01")
# Work already started or finished stays in the year's plan when a new version is made.
KEPT_STATUSES = (YardPlanItem.Status.IN_PROGRESS, YardPlanItem.Status.DONE)


@dataclass(slots=True)
class PlannedYard:
    rank: int
    yard_id: int | None
    score: float | None
    source: str
    source_id: str
    address: str
    area_m2: float
    surface: str
    geom: Polygon
    unit_cost: Decimal
    cost: Decimal
    planned_month: int
    status: str = YardPlanItem.Status.PLANNED
    done_on: date | None = None
    carried_over: bool = False


@dataclass(slots=True)
class PlanDraft:
    year: int
    basis: str
    budget: Decimal | None
    count: int | None
    weights: Weights
    exclusions: Exclusions
    apartments_radius_m: float
    first_month: int
    last_month: int
    items: list[PlannedYard] = field(default_factory=list)
    candidates: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def total_cost(self) -> Decimal:
        return sum((i.cost for i in self.items), Decimal("0.00"))

    @property
    def total_area_m2(self) -> float:
        return sum(i.area_m2 for i in self.items)


def unit_costs_get() -> dict[str, Decimal]:
    """Cost per m² by surface, from the UnitCost table."""
    return dict(UnitCost.objects.values_list("surface", "cost_per_m2"))


def _unit_cost(costs: dict[str, Decimal], surface: str) -> Decimal:
    cost = costs.get(surface, costs.get(Yard.Surface.UNKNOWN))
    if cost is None:
        raise ApplicationError(
            _(
                "No unit cost for surface %(surface)s nor for 'unknown': set them in the "
                "admin (Planning → Unit costs)."
            )
            % {"surface": repr(surface)}
        )
    return cost


def _months_by_area(items: list[PlannedYard], *, first_month: int, last_month: int) -> list[int]:
    """Spread yards in rank order over the season in equal shares of area (the crews' work)."""
    months = last_month - first_month + 1
    total = sum(i.area_m2 for i in items) or 1.0
    done, out = 0.0, []
    for item in items:
        out.append(first_month + min(months - 1, int(done / total * months)))
        done += item.area_m2
    return out


def yard_plan_record(*, year: int) -> YardPlan | None:
    """The year's plan of record (its latest version), or None."""
    return YardPlan.objects.filter(year=year, is_record=True).first()


def plan_compose(
    *,
    year: int,
    budget: Decimal | None,
    count: int | None,
    weights: Weights,
    exclusions: Exclusions,
    apartments_radius_m: float,
    first_month: int,
    last_month: int,
    previous: YardPlan | None,
    now: datetime,
) -> PlanDraft:
    """The plan the parameters make, not saved: the top yards that the budget or count allow.

    Items of the previous version whose work has started or is done are kept first (their cost
    and their place count); then yards in rank order: for a count, the next ones; for a budget,
    each yard whose cost (area × the unit cost of its surface) still fits, skipping the ones that
    do not. New yards are spread over the season months in equal shares of area, best first.
    """
    if (budget is None) == (count is None):
        raise BadQuery(_("Give either a budget or a count of yards."))
    draft = PlanDraft(
        year=year,
        basis=YardPlan.Basis.BUDGET if budget is not None else YardPlan.Basis.COUNT,
        budget=budget,
        count=count,
        weights=weights,
        exclusions=exclusions,
        apartments_radius_m=apartments_radius_m,
        first_month=first_month,
        last_month=last_month,
    )
    kept = []
    if previous is not None:
        kept = list(previous.items.filter(status__in=KEPT_STATUSES).order_by("rank"))
    for item in kept:
        draft.items.append(
            PlannedYard(
                rank=len(draft.items) + 1,
                yard_id=item.yard_id,
                score=item.score,
                source=item.source,
                source_id=item.source_id,
                address=item.address,
                area_m2=item.area_m2,
                surface=item.surface,
                geom=item.geom,
                unit_cost=item.unit_cost,
                cost=item.cost,
                planned_month=item.planned_month,
                status=item.status,
                done_on=item.done_on,
                carried_over=True,
            )
        )
    if kept:
        draft.notes.append(f"{len(kept)} yard(s) in progress or done kept from the last version.")

    ranking = yards_rank(
        weights=weights,
        exclusions=exclusions,
        apartments_radius_m=apartments_radius_m,
        limit=None,
        now=now,
        skip=frozenset(i.yard_id for i in kept if i.yard_id is not None),
    )
    draft.candidates = ranking.candidates
    costs = unit_costs_get()
    remaining = None if budget is None else budget - draft.total_cost
    chosen: list[tuple[RankedYard, Decimal, Decimal]] = []
    for ranked in ranking.yards:
        if count is not None and len(kept) + len(chosen) >= count:
            break
        unit = _unit_cost(costs, ranked.surface)
        cost = (Decimal(str(ranked.area_m2)) * unit).quantize(CENT, rounding=ROUND_HALF_UP)
        if remaining is not None:
            if cost > remaining:
                continue
            remaining -= cost
        chosen.append((ranked, unit, cost))

    yards = Yard.objects.in_bulk([r.id for r, _, _ in chosen])
    new = [
        PlannedYard(
            rank=len(draft.items) + i,
            yard_id=ranked.id,
            score=ranked.score,
            source=ranked.source,
            source_id=yards[ranked.id].source_id,
            address=ranked.address or ranked.name,
            area_m2=ranked.area_m2,
            surface=ranked.surface,
            geom=yards[ranked.id].geom,
            unit_cost=unit,
            cost=cost,
            planned_month=first_month,
        )
        for i, (ranked, unit, cost) in enumerate(chosen, start=1)
    ]
    for item, month in zip(
        new, _months_by_area(new, first_month=first_month, last_month=last_month), strict=True
    ):
        item.planned_month = month
    draft.items.extend(new)
    if count is not None and len(draft.items) < count:
        draft.notes.append(
            f"Only {len(draft.items)} of the {count} yards asked for: no more candidates."
        )
    if count is not None and len(kept) > count:
        draft.notes.append(f"The {len(kept)} yards kept exceed the count of {count}.")
    if budget is not None and draft.total_cost > budget:
        draft.notes.append("The yards kept already cost more than the budget.")
    return draft


def plan_get(*, pk: int) -> YardPlan:
    plan = YardPlan.objects.filter(pk=pk).select_related("created_by").first()
    if plan is None:
        raise NotFound(_("No yard plan %(pk)s.") % {"pk": pk})
    return plan


def plans_list(*, year: int | None) -> list[YardPlan]:
    qs = YardPlan.objects.select_related("created_by")
    if year is not None:
        qs = qs.filter(year=year)
    return list(qs)


def plan_years_published() -> list[int]:
    return sorted(YardPlan.objects.filter(is_record=True).values_list("year", flat=True))


def month_label(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def plan_item_feature(*, item: YardPlanItem | PlannedYard, year: int) -> dict[str, Any]:
    """An item as the staff API and the archive show it: every field, the outline as GeoJSON.

    A ``PlannedYard`` (a dry run's item, not saved) has no id.
    """
    return {
        "type": "Feature",
        "id": getattr(item, "pk", None),
        "geometry": json.loads(item.geom.geojson),
        "properties": {
            "rank": item.rank,
            "yard": item.yard_id,
            "address": item.address,
            "source": item.source,
            "source_id": item.source_id,
            "area_m2": round(item.area_m2, 1),
            "surface": item.surface,
            "unit_cost": float(item.unit_cost),
            "cost": float(item.cost),
            "planned_month": month_label(year, item.planned_month),
            "status": item.status,
            "done_on": item.done_on.isoformat() if item.done_on else None,
            "carried_over": item.carried_over,
            "score": None if item.score is None else round(item.score, 6),
        },
    }


def plan_items(*, plan: YardPlan) -> list[dict[str, Any]]:
    """A version's items: the rows of a plan of record, the archive of a superseded one."""
    if not plan.is_record:
        return plan.archive
    return [plan_item_feature(item=item, year=plan.year) for item in plan.items.order_by("rank")]


def plan_public_rows(*, plan: YardPlan) -> list[dict[str, Any]]:
    """What the public list shows of each yard: address, area, rank, planned month, status."""
    return [
        {
            "rank": item.rank,
            "address": item.address,
            "area_m2": round(item.area_m2, 1),
            "planned_month": month_label(plan.year, item.planned_month),
            "status": item.status,
            "source": item.source,
        }
        for item in plan.items.order_by("rank")
    ]


def plan_public_geojson(*, plan: YardPlan) -> dict[str, Any]:
    features = []
    for item in plan.items.order_by("rank"):
        features.append(
            {
                "type": "Feature",
                "id": item.pk,
                "geometry": json.loads(item.geom.geojson),
                "properties": {
                    "rank": item.rank,
                    "address": item.address,
                    "area_m2": round(item.area_m2, 1),
                    "planned_month": month_label(plan.year, item.planned_month),
                    "status": item.status,
                    "source": item.source,
                    "year": plan.year,
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "name": f"yard-plan-{plan.year}",
        "plan": {
            "year": plan.year,
            "version": plan.version,
            "published_at": plan.created_at.isoformat(),
        },
        "attribution": "© OpenStreetMap contributors",
        "features": features,
    }


# --- where breaks recur ------------------------------------------------------------------------

DEFAULT_PERIOD_YEARS = 3
DEFAULT_EPS_M = 50.0
MAX_EPS_M = 2_000.0
DEFAULT_MIN_POINTS = 3
DEFAULT_REPAIR_K = 3
# An incident lies on the nearest segment of its network kind within this distance: a record's
# point is where the crew dug, a few metres off the surveyed centreline.
DEFAULT_SNAP_M = 5.0
MAX_SNAP_M = 50.0
MAX_CHART_MONTHS = 120
NETWORK_LAYER = "networks"

# Every incident in the period: the services' records (snapped to a segment when they name none)
# and the appeals of network-break categories linked to a segment. An appeal without a point
# still counts for its segment, but is not clustered.
INCIDENTS = sql.SQL(
    """
records AS (
    SELECT 'record'::text AS origin, i.id, i.kind, i.occurred_on, i.geom, i.segment_id
    FROM {incident} i
    WHERE i.occurred_on BETWEEN %(since)s AND %(until)s
      AND (%(kind)s::text IS NULL OR i.kind = %(kind)s::text)
),
snapped AS (
    SELECT r.origin, r.id, r.kind, r.occurred_on, r.geom,
           COALESCE(r.segment_id, (
               SELECT s.id FROM {segment} s
               WHERE s.kind = r.kind
                 AND ST_DWithin(s.geom, r.geom, %(snap_m)s
                     / ({divisor} * cos(radians(LEAST(abs(ST_Y(r.geom)), 89)))))
                 AND ST_DWithin(s.geom::geography, r.geom::geography, %(snap_m)s)
               ORDER BY ST_Distance(s.geom::geography, r.geom::geography), s.id
               LIMIT 1
           )) AS segment_id
    FROM records r
),
appealed AS (
    SELECT 'appeal'::text AS origin, a.id, s.kind,
           (a.received_at AT TIME ZONE %(tz)s)::date AS occurred_on, a.geom, s.id AS segment_id
    FROM {appeal} a
    JOIN {category} c ON c.id = a.category_id
    JOIN {segment} s ON s.id = a.linked_id
    WHERE c.network_break AND a.linked_layer = %(network_layer)s
      AND NOT (a.status = ANY(%(ignored_statuses)s::text[]))
      AND (a.received_at AT TIME ZONE %(tz)s)::date BETWEEN %(since)s AND %(until)s
      AND (%(kind)s::text IS NULL OR s.kind = %(kind)s::text)
),
incidents AS (
    SELECT * FROM snapped UNION ALL SELECT * FROM appealed
),
zone AS (
    -- DBSCAN and the density grid need metres: the UTM zone of the incidents' centre.
    SELECT {utm_srid} AS srid
    FROM (SELECT ST_Centroid(ST_Collect(geom)) AS c FROM incidents WHERE geom IS NOT NULL) q
)
"""
).format(
    incident=_table(Incident),
    segment=_table(NetworkSegment),
    appeal=_table(Appeal),
    category=_table(Category),
    divisor=sql.Literal(DEGREE_DIVISOR_M),
    utm_srid=UTM_SRID_OF_C,
)

HOTSPOTS = sql.SQL(
    """
WITH {incidents},
clustered AS (
    SELECT i.*,
           ST_ClusterDBSCAN(ST_Transform(i.geom, z.srid), eps => %(eps_m)s,
                            minpoints => %(min_points)s) OVER (PARTITION BY i.kind) AS cluster
    FROM incidents i CROSS JOIN zone z
    WHERE i.geom IS NOT NULL
),
centres AS (
    SELECT kind, cluster, count(*) AS incidents,
           count(*) FILTER (WHERE origin = 'appeal') AS from_appeals,
           min(occurred_on) AS first, max(occurred_on) AS last,
           ST_Centroid(ST_Collect(geom)) AS centre
    FROM clustered WHERE cluster IS NOT NULL
    GROUP BY kind, cluster
),
clusters AS (
    SELECT c.*, r.radius_m
    FROM centres c
    JOIN (
        SELECT c.kind, c.cluster,
               round(max(ST_Distance(c.centre::geography, m.geom::geography))::numeric, 1)
                   AS radius_m
        FROM centres c JOIN clustered m ON m.kind = c.kind AND m.cluster = c.cluster
        GROUP BY c.kind, c.cluster
    ) r USING (kind, cluster)
),
cluster_segments AS (
    SELECT c.kind, c.cluster,
           json_agg(json_build_object(
               'id', s.id, 'kind', s.kind, 'name', s.name, 'owner', o.name,
               'incidents', c.incidents) ORDER BY c.incidents DESC, s.id) AS segments
    FROM (
        SELECT kind, cluster, segment_id, count(*) AS incidents
        FROM clustered WHERE cluster IS NOT NULL AND segment_id IS NOT NULL
        GROUP BY kind, cluster, segment_id
    ) c
    JOIN {segment} s ON s.id = c.segment_id
    LEFT JOIN {organisation} o ON o.id = s.owner_id
    GROUP BY c.kind, c.cluster
),
candidates AS (
    SELECT i.segment_id, count(*) AS breaks,
           count(*) FILTER (WHERE i.origin = 'appeal') AS from_appeals,
           min(i.occurred_on) AS first, max(i.occurred_on) AS last
    FROM incidents i WHERE i.segment_id IS NOT NULL
    GROUP BY i.segment_id HAVING count(*) >= %(k)s
)
SELECT json_build_object(
    'srid', (SELECT srid FROM zone),
    'incidents', (SELECT count(*) FROM incidents),
    'from_appeals', (SELECT count(*) FROM incidents WHERE origin = 'appeal'),
    'located', (SELECT count(*) FROM clustered),
    'noise', (SELECT count(*) FROM clustered WHERE cluster IS NULL),
    'on_segments', (SELECT count(*) FROM incidents WHERE segment_id IS NOT NULL),
    'clusters', COALESCE((
        SELECT json_agg(json_build_object(
            'kind', c.kind, 'incidents', c.incidents, 'from_appeals', c.from_appeals,
            'first', c.first, 'last', c.last,
            'lon', ST_X(c.centre), 'lat', ST_Y(c.centre),
            'radius_m', c.radius_m,
            'segments', COALESCE(cs.segments, '[]'::json))
            ORDER BY c.incidents DESC, c.first, c.kind, c.cluster)
        FROM clusters c
        LEFT JOIN cluster_segments cs ON cs.kind = c.kind AND cs.cluster = c.cluster
    ), '[]'::json),
    'repair_candidates', COALESCE((
        SELECT json_agg(json_build_object(
            'segment', s.id, 'kind', s.kind, 'name', s.name,
            'owner', o.name, 'owner_id', o.id, 'breaks', k.breaks,
            'from_appeals', k.from_appeals, 'first', k.first, 'last', k.last)
            ORDER BY k.breaks DESC, s.id)
        FROM candidates k
        JOIN {segment} s ON s.id = k.segment_id
        LEFT JOIN {organisation} o ON o.id = s.owner_id
    ), '[]'::json),
    'per_month', COALESCE((
        SELECT json_agg(json_build_object('month', m.month, 'kind', m.kind, 'incidents', m.n)
                        ORDER BY m.month, m.kind)
        FROM (
            SELECT to_char(date_trunc('month', occurred_on), 'YYYY-MM') AS month, kind,
                   count(*) AS n
            FROM incidents GROUP BY 1, 2
        ) m
    ), '[]'::json)
)
"""
).format(
    incidents=INCIDENTS,
    segment=_table(NetworkSegment),
    organisation=_table(Organisation),
)

DENSITY_POINTS = sql.SQL(
    """
WITH {incidents}
SELECT z.srid, ST_X(p), ST_Y(p)
FROM (SELECT ST_Transform(i.geom, z.srid) AS p FROM incidents i CROSS JOIN zone z
      WHERE i.geom IS NOT NULL) q
CROSS JOIN zone z
"""
).format(incidents=INCIDENTS)


@dataclass(frozen=True, slots=True)
class BreakQuery:
    """Which incidents an analysis reads: one network kind (or all), over a period."""

    since: date
    until: date
    kind: str | None = None
    snap_m: float = DEFAULT_SNAP_M

    def params(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "kind": self.kind,
            "snap_m": self.snap_m,
            "tz": settings.TIME_ZONE,
            "network_layer": NETWORK_LAYER,
            "ignored_statuses": list(IGNORED_APPEAL_STATUSES),
        }


def break_query_make(
    *,
    kind: str | None,
    since: date | None,
    until: date | None,
    today: date,
    snap_m: float = DEFAULT_SNAP_M,
) -> BreakQuery:
    """The period defaults to the last DEFAULT_PERIOD_YEARS years up to today."""
    if kind is not None and kind not in NetworkKind.values:
        raise BadQuery(
            _("Unknown network kind %(kind)s.") % {"kind": repr(kind)},
            extra={"kinds": NetworkKind.values},
        )
    until = until or today
    since = since or _years_before(until, DEFAULT_PERIOD_YEARS)
    if since > until:
        raise BadQuery(
            _("since (%(since)s) is after until (%(until)s).") % {"since": since, "until": until}
        )
    if not 0 <= snap_m <= MAX_SNAP_M:
        raise BadQuery(
            _("snap_m must be between 0 and %(max_snap_m)s m.")
            % {"max_snap_m": format(MAX_SNAP_M, "g")}
        )
    return BreakQuery(since=since, until=until, kind=kind, snap_m=snap_m)


def utm_name(srid: int | None) -> str | None:
    if srid is None:
        return None
    return f"WGS 84 / UTM zone {srid % 100}{'N' if srid < 32700 else 'S'}"


def hotspots_find(*, query: BreakQuery, eps_m: float, min_points: int, k: int) -> dict[str, Any]:
    """Clusters of breaks (DBSCAN in metres, per network kind) and the segments to replace.

    Points are clustered in the UTM zone of the incidents' centre (``zone`` in INCIDENTS): true
    metres, so ``eps_m`` means metres everywhere in the city. A cluster lists the segments its
    incidents lie on; a segment with at least ``k`` incidents in the period is a repair candidate.
    """
    if not 0 < eps_m <= MAX_EPS_M:
        raise BadQuery(
            _("eps_m must be above 0 and at most %(max_eps_m)s m.")
            % {"max_eps_m": format(MAX_EPS_M, "g")}
        )
    if min_points < 1:
        raise BadQuery(_("min_points must be at least 1."))
    if k < 1:
        raise BadQuery(_("k must be at least 1."))
    params = {**query.params(), "eps_m": eps_m, "min_points": min_points, "k": k}
    with connection.cursor() as cursor:
        cursor.execute(HOTSPOTS.as_string(), params)
        (result,) = cursor.fetchone()
    if isinstance(result, str):
        result = json.loads(result)
    features = []
    for number, c in enumerate(result.pop("clusters"), start=1):
        lon, lat = c.pop("lon"), c.pop("lat")
        features.append(
            {
                "type": "Feature",
                "id": number,
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {"cluster": number, **c},
            }
        )
    srid = result.pop("srid")
    return {
        "parameters": {
            "kind": query.kind,
            "since": query.since,
            "until": query.until,
            "eps_m": eps_m,
            "min_points": min_points,
            "k": k,
            "snap_m": query.snap_m,
        },
        "projection": {
            "srid": srid,
            "name": utm_name(srid),
            "why": (
                "DBSCAN needs metres: points are clustered in the UTM zone of the incidents' "
                "centre, whose scale error is under 0.04 % across a city (EPSG:3857 would "
                "stretch distances by 1/cos(latitude), 29 % in Baltimore)."
            ),
        },
        **result,
        "clusters": {"type": "FeatureCollection", "features": features},
    }


def breaks_per_month(*, query: BreakQuery) -> dict[str, Any]:
    """Incidents per month and network kind over the query's period, every month listed."""
    months = _months(query.since, query.until)
    if len(months) > MAX_CHART_MONTHS:
        raise BadQuery(
            _("The period spans %(len)s months; a chart shows at most %(max_chart_months)s.")
            % {"len": len(months), "max_chart_months": MAX_CHART_MONTHS}
        )
    statement = sql.SQL(
        "WITH {incidents} SELECT to_char(date_trunc('month', occurred_on), 'YYYY-MM'), kind, "
        "count(*) FROM incidents GROUP BY 1, 2"
    ).format(incidents=INCIDENTS)
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(), query.params())
        rows = cursor.fetchall()
    kinds = sorted({kind for _, kind, _ in rows}, key=NetworkKind.values.index)
    counts = {(month, kind): n for month, kind, n in rows}
    return {
        "months": months,
        "kinds": kinds,
        "series": {kind: [counts.get((m, kind), 0) for m in months] for kind in kinds},
        "total": sum(counts.values()),
    }


def _months(since: date, until: date) -> list[str]:
    out, year, month = [], since.year, since.month
    while (year, month) <= (until.year, until.month):
        out.append(month_label(year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        if len(out) > MAX_CHART_MONTHS:
            break
    return out


def incident_points_projected(*, query: BreakQuery) -> tuple[int | None, list[tuple[float, float]]]:
    """The located incidents' coordinates in metres, in the UTM zone of their centre."""
    with connection.cursor() as cursor:
        cursor.execute(DENSITY_POINTS.as_string(), query.params())
        rows = cursor.fetchall()
    if not rows:
        return None, []
    return rows[0][0], [(x, y) for _, x, y in rows]
