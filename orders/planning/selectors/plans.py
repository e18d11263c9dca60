"""Yard plans: composing one from the ranking (not saved), and reading plans and their items."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.gis.geos import Polygon
from django.utils.translation import gettext as _

from gis.exceptions import ApplicationError, BadQuery, NotFound
from layers.models import Yard
from orders.planning.models import UnitCost, YardPlan, YardPlanItem
from orders.planning.selectors.ranking import Exclusions, RankedYard, Weights, yards_rank

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
