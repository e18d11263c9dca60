"""Where network breaks recur: the incidents of a period, their hotspots, per month, in metres."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext as _
from psycopg import sql

from gis.exceptions import BadQuery
from layers.models import NetworkKind, NetworkSegment, Organisation
from orders.appeals.models import Appeal, Category
from orders.planning.models import Incident
from orders.planning.selectors.plans import month_label
from orders.planning.selectors.ranking import (
    DEGREE_DIVISOR_M,
    IGNORED_APPEAL_STATUSES,
    UTM_SRID_OF_C,
    _table,
    _years_before,
)

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
