"""Repeated problems: objects and places the same appeals keep coming back to.

An *object* is one linked object (``linked_layer`` + ``linked_id``) with at least ``min``
appeals in the period. A *place* is a cluster of appeals linked to nothing, found with
ST_ClusterDBSCAN (eps = ``radius_m``, minpoints = ``min``) in the UTM zone of the appeals' centre,
as orders.planning clusters network breaks: true metres across the city. Rejected and duplicate
appeals do not count (not the city's problem, or counted already through their original).

``repeated_problems_find`` answers the API for any period; ``repeated_problems_refresh`` stores
the default answer in the ``repeated_problems`` layer's table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.gis.db.models.functions import PointOnSurface
from django.contrib.gis.geos import Point
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg import sql

from gis.exceptions import BadQuery
from layers.registry import LAYERS
from orders.appeals.lifecycle import OPEN_STATUSES
from orders.appeals.models import Appeal, Category
from orders.operations.models import RepeatedProblem
from orders.planning.selectors.breaks import utm_name
from orders.planning.selectors.ranking import IGNORED_APPEAL_STATUSES, UTM_SRID_OF_C

DEFAULT_MONTHS = 36
MAX_MONTHS = 240
DEFAULT_MIN = 3
MAX_MIN = 10_000
DEFAULT_RADIUS_M = 50.0
MAX_RADIUS_M = 2_000.0
CATEGORIES_TEXT_MAX = 500


@dataclass(frozen=True, slots=True)
class ProblemsQuery:
    """Which appeals count and how many make a problem repeated."""

    months: int = DEFAULT_MONTHS
    min_appeals: int = DEFAULT_MIN
    radius_m: float = DEFAULT_RADIUS_M
    category: str | None = None


def problems_query_make(
    *, months: int, min_appeals: int, radius_m: float, category: str | None
) -> ProblemsQuery:
    """Check the parameters (400 with the reason otherwise)."""
    if not 1 <= months <= MAX_MONTHS:
        raise BadQuery(
            _("months must be between 1 and %(max_months)s.") % {"max_months": MAX_MONTHS}
        )
    if not 2 <= min_appeals <= MAX_MIN:
        raise BadQuery(
            _("min must be between 2 and %(max_min)s: one appeal repeats nothing.")
            % {"max_min": MAX_MIN}
        )
    if not 0 < radius_m <= MAX_RADIUS_M:
        raise BadQuery(
            _("radius_m must be above 0 and at most %(max_radius_m)s m.")
            % {"max_radius_m": format(MAX_RADIUS_M, "g")}
        )
    if category is not None and not Category.objects.filter(code=category).exists():
        raise BadQuery(
            _("Unknown category %(category)s.") % {"category": repr(category)},
            extra={"categories": sorted(Category.objects.values_list("code", flat=True))},
        )
    return ProblemsQuery(
        months=months, min_appeals=min_appeals, radius_m=radius_m, category=category
    )


def _table(model: type) -> sql.Identifier:
    return sql.Identifier(model._meta.db_table)


REPEATED = sql.SQL(
    """
WITH counted AS (
    SELECT a.id, a.number, a.geom, a.linked_layer, a.linked_id, a.status,
           (a.received_at AT TIME ZONE %(tz)s)::date AS day, c.code AS category
    FROM {appeal} a
    JOIN {category} c ON c.id = a.category_id
    WHERE a.received_at >= %(since)s AND a.received_at <= %(until)s
      AND NOT (a.status = ANY(%(ignored)s::text[]))
      AND (%(category)s::text IS NULL OR c.code = %(category)s::text)
),
zone AS (
    SELECT {utm_srid} AS srid
    FROM (SELECT ST_Centroid(ST_Collect(geom)) AS c FROM counted
          WHERE linked_layer = '' AND geom IS NOT NULL) q
),
grouped AS (
    SELECT 'object'::text AS kind, linked_layer AS layer, linked_id AS object_id,
           NULL::integer AS cluster, counted.*
    FROM counted WHERE linked_layer <> ''
    UNION ALL
    SELECT 'place', '', NULL,
           ST_ClusterDBSCAN(ST_Transform(counted.geom, z.srid), eps => %(radius_m)s,
                            minpoints => %(min)s) OVER (),
           counted.*
    FROM counted CROSS JOIN zone z
    WHERE counted.linked_layer = '' AND counted.geom IS NOT NULL
),
problems AS (
    SELECT kind, layer, object_id, cluster, count(*) AS appeals,
           count(*) FILTER (WHERE status = ANY(%(open)s::text[])) AS still_open,
           min(day) AS first_date, max(day) AS last_date,
           array_agg(number ORDER BY day, number) AS numbers,
           ST_Centroid(ST_Collect(geom)) AS centre
    FROM grouped
    WHERE kind = 'object' OR cluster IS NOT NULL
    GROUP BY kind, layer, object_id, cluster
    HAVING count(*) >= %(min)s
),
categories AS (
    SELECT kind, layer, object_id, cluster,
           json_agg(json_build_object('category', category, 'appeals', n)
                    ORDER BY n DESC, category) AS categories
    FROM (SELECT kind, layer, object_id, cluster, category, count(*) AS n
          FROM grouped WHERE kind = 'object' OR cluster IS NOT NULL
          GROUP BY kind, layer, object_id, cluster, category) c
    GROUP BY kind, layer, object_id, cluster
)
SELECT (SELECT srid FROM zone), p.kind, p.layer, p.object_id, p.appeals, p.still_open,
       p.first_date, p.last_date, p.numbers, c.categories,
       ST_X(p.centre), ST_Y(p.centre)
FROM problems p
JOIN categories c ON c.kind = p.kind AND c.layer = p.layer
    AND c.object_id IS NOT DISTINCT FROM p.object_id
    AND c.cluster IS NOT DISTINCT FROM p.cluster
ORDER BY p.appeals DESC, p.last_date DESC, p.kind, p.layer, p.object_id, p.first_date
"""
).format(appeal=_table(Appeal), category=_table(Category), utm_srid=UTM_SRID_OF_C)


def _months_before(moment: datetime, months: int) -> datetime:
    return moment - relativedelta(months=months)


def _objects(rows: list[dict[str, Any]]) -> None:
    """Fill in each object's label and point on surface, one query per layer."""
    by_layer: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["kind"] == RepeatedProblem.Kind.OBJECT:
            by_layer.setdefault(row["layer"], []).append(row)
    for layer, found in by_layer.items():
        spec = LAYERS.get(layer)
        if spec is None:
            continue  # a link to a layer no longer in the registry: no label, no point
        objects = {
            obj.pk: obj
            for obj in spec.model._default_manager.filter(
                pk__in=[r["object_id"] for r in found]
            ).annotate(point=PointOnSurface(spec.geometry_field.name))
        }
        for row in found:
            obj = objects.get(row["object_id"])
            if obj is not None:
                row["label"] = str(obj)
                row["point"] = obj.point


def repeated_problems_find(*, query: ProblemsQuery, now: datetime) -> dict[str, Any]:
    """Objects and places with at least ``min_appeals`` appeals in the last ``months`` months.

    Sorted by the number of appeals, most first. Each has its categories with counts, first and
    last dates (the city's calendar days), the appeal numbers and the share still open.
    """
    since = _months_before(now, query.months)
    params = {
        "tz": settings.TIME_ZONE,
        "since": since,
        "until": now,
        "ignored": list(IGNORED_APPEAL_STATUSES),
        "open": list(OPEN_STATUSES),
        "category": query.category,
        "radius_m": query.radius_m,
        "min": query.min_appeals,
    }
    with connection.cursor() as cursor:
        cursor.execute(REPEATED.as_string(), params)
        fetched = cursor.fetchall()
    srid = fetched[0][0] if fetched else None
    rows = []
    for row in fetched:  # its first column is the srid, read above
        kind, layer, object_id, appeals, still_open, first, last, numbers, cats, x, y = row[1:]
        rows.append(
            {
                "kind": kind,
                "layer": layer or None,
                "object_id": object_id,
                "label": None,
                "point": Point(x, y, srid=4326) if x is not None else None,
                "appeals": appeals,
                "open": still_open,
                "open_share": round(still_open / appeals, 4),
                "categories": json.loads(cats) if isinstance(cats, str) else cats,
                "first_date": first,
                "last_date": last,
                "numbers": list(numbers),
            }
        )
    _objects(rows)
    for number, row in enumerate((r for r in rows if r["kind"] == "place"), start=1):
        row["label"] = f"Place {number}: {row['appeals']} unlinked appeals"
    return {
        "parameters": {
            "months": query.months,
            "min": query.min_appeals,
            "radius_m": query.radius_m,
            "category": query.category,
            "since": since,
            "until": now,
        },
        "projection": {"srid": srid, "name": utm_name(srid)},
        "objects": sum(1 for r in rows if r["kind"] == "object"),
        "places": sum(1 for r in rows if r["kind"] == "place"),
        "problems": rows,
    }


def problem_feature(row: dict[str, Any]) -> dict[str, Any]:
    """A problem as a GeoJSON feature (geometry: the object's point on surface or the centroid)."""
    point = row["point"]
    properties = {k: v for k, v in row.items() if k != "point"}
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [point.x, point.y]} if point else None,
        "properties": properties,
    }


def categories_text(categories: list[dict[str, Any]]) -> str:
    """``leak 3, pothole 1``: the tile layer's one-string form of the category counts."""
    text = ", ".join(f"{c['category']} {c['appeals']}" for c in categories)
    return text if len(text) <= CATEGORIES_TEXT_MAX else text[: CATEGORIES_TEXT_MAX - 1] + "…"


@dataclass(frozen=True, slots=True)
class RefreshResult:
    objects: int
    places: int
    skipped: int
    """Problems without a point (an object whose layer or row is gone): not drawable."""

    def summary(self) -> str:
        return f"repeated problems: {self.objects} objects, {self.places} places" + (
            f", {self.skipped} without a location skipped" if self.skipped else ""
        )


def repeated_problems_refresh(*, now: datetime | None = None, progress=None) -> RefreshResult:
    """Replace the ``repeated_problems`` table with the default query's answer, in one transaction.

    Readers (tiles, OGC) see the old rows or the new, never a half-filled table. ``progress``
    (a tqdm bar, optional) is advanced per row written.
    """
    now = now or timezone.now()
    found = repeated_problems_find(query=ProblemsQuery(), now=now)["problems"]
    rows = [
        RepeatedProblem(
            kind=p["kind"],
            layer=p["layer"] or "",
            object_id=p["object_id"],
            label=(p["label"] or "")[:255],
            appeals=p["appeals"],
            open_share=p["open_share"],
            categories=categories_text(p["categories"]),
            first_date=p["first_date"],
            last_date=p["last_date"],
            geom=p["point"],
            refreshed_at=now,
        )
        for p in found
        if p["point"] is not None
    ]
    if progress is not None:
        progress.total = len(rows)
    with transaction.atomic():
        # DELETE, not TRUNCATE: it takes no lock that blocks readers, and the purge triggers
        # announce exactly the tiles the old rows were on.
        RepeatedProblem.objects.all().delete()
        for start in range(0, len(rows), 1000):
            batch = rows[start : start + 1000]
            RepeatedProblem.objects.bulk_create(batch)
            if progress is not None:
                progress.update(len(batch))
    return RefreshResult(
        objects=sum(1 for r in rows if r.kind == RepeatedProblem.Kind.OBJECT),
        places=sum(1 for r in rows if r.kind == RepeatedProblem.Kind.PLACE),
        skipped=len(found) - len(rows),
    )
