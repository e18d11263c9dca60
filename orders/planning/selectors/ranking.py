"""The yard ranking: every yard scored by weighted criteria and ranked, in one SQL statement.

Also the SQL pieces the break analysis shares (``_table``, ``UTM_SRID_OF_C``,
``DEGREE_DIVISOR_M``) and the appeal statuses neither counts.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.utils.translation import gettext as _
from psycopg import sql

from gis.exceptions import BadQuery
from layers.models import Building, Yard
from orders.appeals.models import Appeal
from orders.permits.models import Permit

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
