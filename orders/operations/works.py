"""Works on a date: what is dug up or repaired on a given day, read from the ``works`` view.

Each work has a period, ``starts_on`` to ``ends_on`` (the view, migration 0001):

* an excavation permit (issued, in progress or closed; never a cancelled one) from its planned
  start to its deadline — the current one, after extensions — or, once closed, to the day the
  site was restored (the restoration act's date);
* a yard in a plan of record: its planned month (first to last day); a done yard ends on the
  day it was done (and starts then, if that was before the month);
* a planned network repair (not cancelled): its planned start to its planned end;
* a work of the improvement register (not cancelled): its start to its end date.

A work covers a day D when

1. D lies in its period; or
2. it is *ongoing* — an open permit (issued or in progress), a yard or a repair in progress —
   and D lies between its start and today: work not closed stays on the ground past its end
   (an overrun permit's site is dug up until it is closed, not until its deadline);
3. or it is in progress and D is today, even if it started before its planned start.

Days after today follow the plans only (rule 1). The map's date control applies the same rule in
the browser (gis/static/citygis/map.js, ``worksFilter``) to the ``works`` tile layer, whose tiles
therefore never depend on the day they were rendered.

Who sees what follows the layers each kind comes from (``WORK_LAYERS``): permits as the
``permits`` layer (staff all, a contractor its own, the public none), yards as ``yard_plan``
(everyone), repairs as ``network_repairs`` (staff, as the networks), the improvement register
as ``improvement_works`` (everyone: cities publish it).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.contrib.gis.geos import Polygon
from django.db.models import Count, Q

from gis.roles import Viewer
from gis.spatial import Bbox
from layers.registry import LAYERS
from orders.operations.models import Work
from orders.planning.models import YardPlanItem

WORK_LAYERS = {
    "permit": "permits",
    "yard": "yard_plan",
    "network_repair": "network_repairs",
    "improvement": "improvement_works",
}
"""The registry layer each kind of work comes from, whose roles and scope it follows."""
IN_PROGRESS = "in_progress"  # the same value in permits, yard plan items, repairs and the register


def covering(*, day: date, today: date) -> Q:
    """The works on ``day`` (rules 1–3 above), comparing the view's ISO dates as text."""
    d, t = day.isoformat(), today.isoformat()
    planned = Q(starts_on__lte=d, ends_on__gte=d)
    if day > today:
        return planned
    overran = Q(ongoing=True, starts_on__lte=d)
    started_early = Q(status=IN_PROGRESS) if d == t else Q(pk__in=[])
    return planned | overran | started_early


def _why(work: Work, day: date, today: date) -> str:
    d = day.isoformat()
    if work.starts_on <= d <= work.ends_on:
        return "planned"
    if work.ongoing and work.starts_on <= d:
        return "still open past its end"
    return "in progress before its planned start"


def visible_kinds(viewer: Viewer) -> Q:
    """The rows of the kinds this viewer may see, each scoped as its source layer is."""
    allowed = Q(pk__in=[])
    for kind, layer in WORK_LAYERS.items():
        spec = LAYERS[layer]
        if not spec.visible_to(viewer):
            continue
        rows = Q(kind=kind)
        if spec.is_scoped_for(viewer):
            # The permits' scope is their contractor, which the view carries as organisation.
            rows &= Q(organisation_id=viewer.organisation_id)
        allowed |= rows
    return allowed


def works_on(*, day: date, today: date, viewer: Viewer, bbox: Bbox | None = None) -> dict[str, Any]:
    """Everything being done on ``day`` that the viewer may see, as a GeoJSON FeatureCollection."""
    qs = (
        Work.objects.filter(covering(day=day, today=today) & visible_kinds(viewer))
        .select_related("organisation")
        .order_by("kind", "starts_on", "id")
    )
    if bbox is not None:
        qs = qs.filter(geom__intersects=Polygon.from_bbox(bbox))
    features = [
        {
            "type": "Feature",
            "id": work.id,
            "geometry": json.loads(work.geom.geojson),
            "properties": {
                "kind": work.kind,
                "id": work.object_id,
                "title": work.title,
                "status": work.status,
                "starts_on": work.starts_on,
                "ends_on": work.ends_on,
                "ongoing": work.ongoing,
                "planned_month": work.planned_month,
                "organisation": work.organisation.name if work.organisation_id else None,
                "on_the_date": _why(work, day, today),
            },
        }
        for work in qs
    ]
    counts: dict[str, int] = {kind: 0 for kind in WORK_LAYERS}
    for feature in features:
        counts[feature["properties"]["kind"]] += 1
    return {
        "type": "FeatureCollection",
        "date": day,
        "today": today,
        "counts": {k: v for k, v in counts.items() if LAYERS[WORK_LAYERS[k]].visible_to(viewer)},
        "yard_plan": yard_plan_summary(year=day.year, viewer=viewer),
        "features": features,
    }


def yard_plan_summary(*, year: int, viewer: Viewer) -> dict[str, Any] | None:
    """The year's plan of record by status (all its yards, not only those in works that day)."""
    if not LAYERS["yard_plan"].visible_to(viewer):
        return None
    rows = (
        YardPlanItem.objects.filter(year=year, plan__is_record=True)
        .values("status")
        .annotate(n=Count("id"))
    )
    by_status = {status: 0 for status in YardPlanItem.Status.values}
    for row in rows:
        by_status[row["status"]] = row["n"]
    return {"year": year, "yards": sum(by_status.values()), "by_status": by_status}
