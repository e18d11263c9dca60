"""The dashboard's figures: one statement for the totals, the breakdowns and the daily series.

What each figure counts, for a period of whole local days [from, to] (``settings.TIME_ZONE``):

- received: appeals received in the period (``received_at``).
- done: appeals reported fixed in the period (``done_at``; a fix rejected and made again counts
  once, at its latest fix), whatever their status now.
- archived: of the done, those archived now (the resident confirmed the fix, or an import
  closed it so).
- reopened: appeals a resident sent back in the period (a history row to ``reopened`` within
  it), each once however often.
- median_hours_to_close: the median of hours from receipt to ``done_at``, over the done.
- open, in_work, overdue: now, whenever received. open: new, assigned, in_work or reopened;
  in_work: assigned, in_work or reopened (a service has it and it is not fixed); overdue: open
  and past ``sla_due``.

The district of an appeal is its stored ``district_id``, which the database keeps equal to the
district whose polygon covers its point (boundary included; where districts overlap, the rule of
``layers.selectors.DISTRICT_ORDER``: surveyed before derived, the coarsest ``admin_level``, the
lowest id; triggers in ``orders/appeals/district_sql.py``). Appeals without a point or outside
every district are in "no district" (``district_id`` null).

The statement is composed once with ``psycopg.sql`` (tables from the models' ``_meta``) and every
value is a parameter. It reads only the appeals that can count (received or closed since the
period began, or open: the ``appeal_received``, ``appeal_closed`` and status indexes); no spatial
work at query time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from psycopg import sql

from layers.models import District, Organisation
from orders.appeals.lifecycle import OPEN_STATUSES
from orders.appeals.models import Appeal, AppealHistory, Category

S = Appeal.Status
IN_WORK_STATUSES = (S.ASSIGNED, S.IN_WORK, S.REOPENED)
MAX_DAYS = 366
NONE = "none"
"""The filter value for "no district" / "no organisation"."""

FIGURES = (
    "received",
    "done",
    "archived",
    "reopened",
    "open",
    "in_work",
    "overdue",
    "median_hours_to_close",
)


@dataclass(frozen=True, slots=True)
class DashboardQuery:
    first: date
    last: date
    """Included."""
    district: int | str | None = None
    """A district id, ``NONE`` (appeals in no district) or None (all)."""
    organisation: int | str | None = None
    """An organisation id, ``NONE`` (appeals without one) or None (all)."""

    @property
    def start(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.first, time.min))

    @property
    def end(self) -> datetime:
        """Exclusive: the start of the day after ``last``."""
        return timezone.make_aware(datetime.combine(self.last + timedelta(days=1), time.min))


def _table(model: type) -> sql.Identifier:
    return sql.Identifier(model._meta.db_table)


def _filter_clause(value: int | str | None, column: str) -> sql.Composable:
    if value is None:
        return sql.SQL("")
    if value == NONE:
        return sql.SQL("AND {} IS NULL").format(sql.Identifier(column))
    return sql.SQL("AND {} = {}").format(sql.Identifier(column), sql.Placeholder(column))


# The scope: every appeal that can count. The OR of three indexed conditions is a BitmapOr; an
# appeal done in the period is closed since its start, or open again (reopened).
# Its district is the stored one (kept by triggers), so the district filter is a plain column.
DASHBOARD = sql.SQL(
    """
WITH scope AS MATERIALIZED (
    SELECT a.id, a.status, a.received_at, a.done_at, a.sla_due, a.organisation_id,
           a.category_id, a.district_id,
           CASE WHEN a.reopen_count > 0 THEN EXISTS (
               SELECT 1 FROM {history} h
               WHERE h.appeal_id = a.id AND h.to_status = %(reopened)s
                 AND h.at >= %(start)s AND h.at < %(end)s
           ) ELSE false END AS reopened_in_period
    FROM {appeal} a
    WHERE (a.received_at >= %(start)s OR a.closed_at >= %(start)s OR a.status = ANY(%(open)s))
      {organisation_filter}
      {district_filter}
),
counted AS (
    SELECT *,
           received_at >= %(start)s AND received_at < %(end)s AS is_received,
           done_at >= %(start)s AND done_at < %(end)s AS is_done,
           status = ANY(%(open)s) AS is_open
    FROM scope
),
relevant AS (
    SELECT * FROM counted
    WHERE is_received OR coalesce(is_done, false) OR is_open OR reopened_in_period
),
groups AS (
    SELECT GROUPING(organisation_id, district_id, category_id) AS grouping,
           organisation_id, district_id, category_id,
           count(*) FILTER (WHERE is_received) AS received,
           count(*) FILTER (WHERE is_done) AS done,
           count(*) FILTER (WHERE is_done AND status = %(archived)s) AS archived,
           count(*) FILTER (WHERE reopened_in_period) AS reopened,
           count(*) FILTER (WHERE is_open) AS open,
           count(*) FILTER (WHERE status = ANY(%(in_work)s)) AS in_work,
           count(*) FILTER (WHERE is_open AND sla_due < %(now)s) AS overdue,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM done_at - received_at) / 3600.0
           ) FILTER (WHERE is_done) AS median_hours_to_close
    FROM relevant
    GROUP BY GROUPING SETS ((), (organisation_id), (district_id), (category_id))
),
named AS (
    SELECT g.*, o.name AS organisation_name, d.name AS district_name,
           c.code AS category_code, c.name AS category_name
    FROM groups g
    LEFT JOIN {organisation} o ON o.id = g.organisation_id
    LEFT JOIN {district} d ON d.id = g.district_id
    LEFT JOIN {category} c ON c.id = g.category_id
),
received_per_day AS (
    SELECT (received_at AT TIME ZONE %(tz)s)::date AS day, count(*) AS n
    FROM relevant WHERE is_received GROUP BY 1
),
done_per_day AS (
    SELECT (done_at AT TIME ZONE %(tz)s)::date AS day, count(*) AS n
    FROM relevant WHERE is_done GROUP BY 1
),
series AS (
    SELECT s.day::date AS day, coalesce(r.n, 0) AS received, coalesce(x.n, 0) AS done
    FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS s(day)
    LEFT JOIN received_per_day r ON r.day = s.day::date
    LEFT JOIN done_per_day x ON x.day = s.day::date
)
SELECT
    (SELECT coalesce(json_agg(named), '[]'::json) FROM named),
    (SELECT coalesce(json_agg(series ORDER BY day), '[]'::json) FROM series)
"""
)

# GROUPING(organisation_id, district_id, category_id) is a bit mask, 1 where a column is not
# grouped: the grand total is 0b111, by organisation 0b011, by district 0b101, by category 0b110.
TOTAL, BY_ORGANISATION, BY_DISTRICT, BY_CATEGORY = 0b111, 0b011, 0b101, 0b110


def _statement(query: DashboardQuery) -> sql.Composed:
    return DASHBOARD.format(
        appeal=_table(Appeal),
        history=_table(AppealHistory),
        district=_table(District),
        organisation=_table(Organisation),
        category=_table(Category),
        organisation_filter=_filter_clause(query.organisation, "organisation_id"),
        district_filter=_filter_clause(query.district, "district_id"),
    )


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    figures = {name: row[name] for name in FIGURES}
    median = figures["median_hours_to_close"]
    figures["median_hours_to_close"] = None if median is None else round(median, 2)
    return figures


def _empty_figures() -> dict[str, Any]:
    return {name: (None if name == "median_hours_to_close" else 0) for name in FIGURES}


def dashboard_figures(*, query: DashboardQuery, now: datetime) -> dict[str, Any]:
    """The totals, by organisation, by district and by category, and the daily series.

    Breakdown rows are those with at least one appeal counted; ``id`` null is "no organisation" /
    "no district". Every day of the period is in the series, days without appeals too.
    """
    params = {
        "start": query.start,
        "end": query.end,
        "first": query.first,
        "last": query.last,
        "now": now,
        "tz": settings.TIME_ZONE,
        "open": list(OPEN_STATUSES),
        "in_work": list(IN_WORK_STATUSES),
        "reopened": S.REOPENED,
        "archived": S.ARCHIVED,
        "organisation_id": query.organisation,
        "district_id": query.district,
    }
    with connection.cursor() as cursor:
        cursor.execute(_statement(query).as_string(), params)
        groups, series = cursor.fetchone()
    totals = _empty_figures()
    by_organisation, by_district, by_category = [], [], []
    for row in groups:
        kind = row["grouping"]
        if kind == TOTAL:
            totals = _figures(row)
        elif kind == BY_ORGANISATION:
            name = row["organisation_name"] or "(no organisation)"
            by_organisation.append({"id": row["organisation_id"], "name": name, **_figures(row)})
        elif kind == BY_DISTRICT:
            name = row["district_name"] or "(no district)"
            by_district.append({"id": row["district_id"], "name": name, **_figures(row)})
        elif kind == BY_CATEGORY:
            by_category.append(
                {
                    "id": row["category_id"],
                    "code": row["category_code"],
                    "name": row["category_name"],
                    **_figures(row),
                }
            )
    return {
        "from": query.first,
        "to": query.last,
        "generated_at": now,
        "filters": {"district": query.district, "organisation": query.organisation},
        "totals": totals,
        "by_organisation": _sorted(by_organisation),
        "by_district": _sorted(by_district),
        "by_category": _sorted(by_category),
        "series": [
            {"day": date.fromisoformat(d["day"]), "received": d["received"], "done": d["done"]}
            for d in series
        ],
    }


def _sorted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """By name, "no …" last."""
    return sorted(rows, key=lambda r: (r["id"] is None, r["name"] or "", r["id"] or 0))


# --- the change marker ------------------------------------------------------------------------

MARKER = sql.SQL(
    """
SELECT count(*), max(updated_at),
       count(*) FILTER (WHERE status = ANY(%(open)s) AND sla_due < %(now)s),
       (SELECT count(*) FROM {district}), (SELECT max(updated_at) FROM {district})
FROM {appeal}
"""
)


def dashboard_marker(*, query: DashboardQuery, now: datetime) -> str:
    """An ETag for the dashboard: it changes whenever any figure the query shows can have changed.

    Appeals' number and latest ``updated_at`` (every service write saves the row), the number
    overdue now (an appeal crosses its ``sla_due`` without a write), the districts' number and
    latest change, and the query itself. One scan of the appeals, no join: a fraction of the
    dashboard's cost.
    """
    statement = MARKER.format(appeal=_table(Appeal), district=_table(District))
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(), {"open": list(OPEN_STATUSES), "now": now})
        state = cursor.fetchone()
    key = repr((query.first, query.last, query.district, query.organisation, *state))
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'


# --- districts on the map ---------------------------------------------------------------------


def dashboard_districts(*, query: DashboardQuery, now: datetime) -> dict[str, Any]:
    """Every district as a GeoJSON feature with its figures (zeros where no appeal counts)."""
    figures = {
        row["id"]: row
        for row in dashboard_figures(query=query, now=now)["by_district"]
        if row["id"] is not None
    }
    statement = sql.SQL(
        "SELECT id, name, ST_AsGeoJSON(geom, 6)::json FROM {district} ORDER BY name, id"
    ).format(district=_table(District))
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string())
        rows = cursor.fetchall()
    features = []
    for pk, name, geometry in rows:
        props = figures.get(pk) or {"id": pk, "name": name, **_empty_figures()}
        features.append({"type": "Feature", "id": pk, "geometry": geometry, "properties": props})
    return {"type": "FeatureCollection", "features": features}


def district_exists(pk: int) -> bool:
    return District.objects.filter(pk=pk).exists()


def organisation_exists(pk: int) -> bool:
    return Organisation.objects.filter(pk=pk).exists()
