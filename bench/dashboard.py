"""How fast GET /api/dashboard is on a busy city's 200,000 appeals in 12 districts.

    .venv/bin/python bench/dashboard.py                # 200,000 generated appeals, rolled back
    .venv/bin/python bench/dashboard.py --appeals 0    # the appeals already in the database

The generated set is made inside one transaction that is rolled back at the end, so the database
is left as it was: 100 days at 2,000 appeals a day (issue 8's load), points over a 10 × 8 km box
cut into 4 × 3 district squares of 400 vertices each (real boundaries are not four corners), the
old ones mostly archived, 2 % reopened once (with their history row), the last days in every
status. Each figure is the median of ``--runs`` calls, with the statement's plan cached warm.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gis.settings")

import django  # noqa: E402

django.setup()

from django.core.signals import request_finished, request_started  # noqa: E402
from django.db import close_old_connections, connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402
from psycopg import sql  # noqa: E402

from gis.roles import Role  # noqa: E402
from gis.services import user_create_or_update  # noqa: E402
from layers.models import District  # noqa: E402
from orders.appeals.models import Appeal, AppealHistory, Category  # noqa: E402
from orders.appeals.services.registration import categories_load  # noqa: E402
from orders.operations.dashboard import (  # noqa: E402
    DashboardQuery,
    dashboard_figures,
    dashboard_marker,
)

WEST, SOUTH, EAST, NORTH = -76.68, 39.25, -76.564, 39.322  # about 10 × 8 km
COLUMNS, ROWS = 4, 3

GENERATE = sql.SQL("""
INSERT INTO {appeal} (
    number, channel, category_id, organisation_id, text, address, geom, located_by,
    linked_layer, link_method, link_candidates, needs_attention, priority, status, sla_due,
    reopen_count, resident_name, resident_phone, resident_email, confirm_token_hash,
    received_at, done_at, closed_at, source, source_id, created_at, updated_at
)
SELECT 'BENCH-' || i, 'phone', c.id, c.organisation_id, '', '',
       ST_SetSRID(ST_MakePoint(%(west)s + random() * (%(east)s - %(west)s),
                               %(south)s + random() * (%(north)s - %(south)s)), 4326),
       'point', '', 'none', '[]'::jsonb, false, 2, s.status,
       r.received + make_interval(secs => c.sla_hours * 3600),
       CASE WHEN random() < 0.02 AND s.status IN ('done', 'archived') THEN 1 ELSE 0 END,
       '', '', '', '', r.received,
       CASE WHEN s.status IN ('done', 'archived') THEN r.received + r.fix END,
       CASE WHEN s.status IN ('done', 'archived', 'rejected', 'duplicate')
            THEN r.received + r.fix END,
       'bench', '', now(), now()
FROM generate_series(1, %(n)s) AS i
CROSS JOIN LATERAL (
    SELECT now() - make_interval(secs => (i::float / %(per_day)s) * 86400) AS received,
           make_interval(secs => (1 + random() * 99) * 3600) AS fix,
           random() AS roll
) r
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN r.received < now() - interval '10 days' THEN
            CASE WHEN r.roll < 0.94 THEN 'archived' WHEN r.roll < 0.96 THEN 'rejected'
                 WHEN r.roll < 0.97 THEN 'duplicate' WHEN r.roll < 0.985 THEN 'in_work'
                 ELSE 'assigned' END
        ELSE (ARRAY['new', 'assigned', 'in_work', 'done', 'archived'])[1 + floor(r.roll * 5)::int]
    END AS status
) s
CROSS JOIN LATERAL (
    SELECT id, organisation_id, sla_hours FROM {category}
    ORDER BY random() + i * 0 LIMIT 1
) c
""")

REOPENED = sql.SQL("""
INSERT INTO {history} (appeal_id, at, by_label, action, from_status, to_status, comment, data)
SELECT id, done_at - interval '1 hour', 'bench', 'status', 'done', 'reopened', '', '{{}}'::jsonb
FROM {appeal} WHERE source = 'bench' AND reopen_count > 0
""")

DISTRICTS = sql.SQL("""
INSERT INTO {district} (source, source_id, name, admin_level, geom, created_at, updated_at)
SELECT 'bench', x || '-' || y, 'District ' || x || '-' || y, 10,
       ST_Multi(ST_Segmentize(ST_MakeEnvelope(
           %(west)s + x * %(dx)s, %(south)s + y * %(dy)s,
           %(west)s + (x + 1) * %(dx)s, %(south)s + (y + 1) * %(dy)s, 4326), %(step)s)),
       now(), now()
FROM generate_series(0, %(columns)s - 1) x, generate_series(0, %(rows)s - 1) y
""")


def generate(n: int) -> None:
    categories_load()
    tables = {
        "appeal": sql.Identifier(Appeal._meta.db_table),
        "history": sql.Identifier(AppealHistory._meta.db_table),
        "category": sql.Identifier(Category._meta.db_table),
        "district": sql.Identifier(District._meta.db_table),
    }
    box = {"west": WEST, "south": SOUTH, "east": EAST, "north": NORTH}
    dx, dy = (EAST - WEST) / COLUMNS, (NORTH - SOUTH) / ROWS
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(GENERATE.format(**tables).as_string(), {**box, "n": n, "per_day": 2000})
        cursor.execute(REOPENED.format(**tables).as_string())
        cursor.execute(
            DISTRICTS.format(**tables).as_string(),
            {**box, "dx": dx, "dy": dy, "step": dx / 100, "columns": COLUMNS, "rows": ROWS},
        )
        for table in ("appeal", "history", "district"):
            cursor.execute(sql.SQL("ANALYZE {}").format(tables[table]).as_string())
        print(f"generated {n:,} appeals in {time.perf_counter() - started:.1f} s")


def timed(label: str, call: Callable[[], object], runs: int) -> None:
    call()  # warm
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    print(f"{label:<48} median {statistics.median(times):7.1f} ms  max {max(times):7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appeals", type=int, default=200_000, help="0: the existing ones")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--figures-only", action="store_true", help="skip the endpoint timings")
    args = parser.parse_args()
    # The test client must not close the connection (and roll the set back) after each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    with transaction.atomic(), override_settings(ALLOWED_HOSTS=["*"]):
        if args.appeals:
            generate(args.appeals)
        total = Appeal.objects.count()
        last = timezone.localdate()
        if not args.appeals:
            newest = Appeal.objects.order_by("-received_at").values_list("received_at", flat=True)
            last = timezone.localtime(newest.first()).date() if total else last
        print(f"{total:,} appeals, {District.objects.count()} districts, period ending {last}")
        now = timezone.now()
        month = DashboardQuery(first=last - timedelta(days=29), last=last)
        year = DashboardQuery(first=last - timedelta(days=365), last=last)
        district = District.objects.order_by("pk").values_list("pk", flat=True).first()
        organisation = Appeal.objects.exclude(organisation=None).values_list(
            "organisation_id", flat=True
        )[:1]
        runs = args.runs
        timed("figures, 30 days", lambda: dashboard_figures(query=month, now=now), runs)
        timed("figures, 366 days", lambda: dashboard_figures(query=year, now=now), runs)
        if district is not None:
            in_district = DashboardQuery(first=month.first, last=last, district=district)
            timed(
                "figures, 30 days, one district",
                lambda: dashboard_figures(query=in_district, now=now),
                runs,
            )
        if organisation:
            one = DashboardQuery(first=month.first, last=last, organisation=organisation[0])
            timed(
                "figures, 30 days, one organisation",
                lambda: dashboard_figures(query=one, now=now),
                runs,
            )
        timed("change marker (ETag)", lambda: dashboard_marker(query=month, now=now), runs)
        if args.figures_only:
            transaction.set_rollback(True)
            return
        _, token = user_create_or_update(username="bench-dashboard", role=Role.OPERATOR)
        client = Client(HTTP_AUTHORIZATION=f"Token {token}")
        params = {"from": month.first.isoformat(), "to": last.isoformat()}
        first = client.get("/api/dashboard", params)
        assert first.status_code == 200, first.content
        timed(
            "GET /api/dashboard, 30 days (200)", lambda: client.get("/api/dashboard", params), runs
        )
        etag = first["ETag"]
        timed(
            "GET /api/dashboard, unchanged (304)",
            lambda: client.get("/api/dashboard", params, HTTP_IF_NONE_MATCH=etag),
            runs,
        )
        timed(
            "GET /api/dashboard/districts, 30 days",
            lambda: client.get("/api/dashboard/districts", params),
            runs,
        )
        transaction.set_rollback(True)


if __name__ == "__main__":
    main()
