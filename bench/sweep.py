"""The driver of bench/sweep.sh: load N permits with SQL, then time the overrun sweep.

Run through bench/sweep.sh (it creates and migrates the database); DATABASE_URL names it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gis.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from layers.models import Organisation  # noqa: E402
from orders.permits.selectors import local_today  # noqa: E402
from orders.permits.services.sweep import claims_create_overdue  # noqa: E402

CONTRACTORS = 200

# One statement: permit i is a 10 m square on a grid from (lon, lat), the demo city's corner
# unless --origin says otherwise; every (100/pct)-th one
# is open with its deadline 1–60 days past (overdue), 29 % are open with a future deadline, the
# rest closed or cancelled long ago (what a city accumulates). Triggers are off for the load
# (session_replication_role): no tile server listens to this database.
LOAD_SQL = """
INSERT INTO permits_permit (number, contractor_id, responsible_person, responsible_phone,
    purpose, network_kind, address, geom, linked_objects, issued_on, planned_start, deadline,
    status, conflict_override, closed_at, created_at, updated_at)
SELECT 'BENCH-' || i, %(first_org)s + i %% %(contractors)s, 'Bench foreman', '', 'Bench works',
       'water', i || ' Bench Street',
       ST_MakeEnvelope(%(lon)s + (i %% 1000) * 0.0002, %(lat)s + (i / 1000) * 0.0002,
                       %(lon)s + (i %% 1000) * 0.0002 + 0.0001,
                       %(lat)s + (i / 1000) * 0.0002 + 0.0001, 4326),
       '{}', d - 90, d - 60, d,
       s, '', CASE WHEN s IN ('closed', 'cancelled') THEN now() END, now(), now()
  FROM generate_series(1, %(n)s) AS i,
       LATERAL (SELECT CASE WHEN i %% %(every)s = 0 THEN 'in_progress'
                            WHEN i %% 100 < 30 THEN 'issued'
                            WHEN i %% 7 = 0 THEN 'cancelled'
                            ELSE 'closed' END AS s) st,
       LATERAL (SELECT CASE WHEN i %% %(every)s = 0 THEN %(today)s::date - 1 - i %% 60
                            WHEN i %% 100 < 30 THEN %(today)s::date + 1 + i %% 90
                            ELSE %(today)s::date - 61 - i %% 700 END AS d) dl
"""


def load(n: int, overdue_pct: float, origin: tuple[float, float]) -> None:
    every = round(100 / overdue_pct)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM permits_permit WHERE number LIKE 'BENCH-%%'")
        if cursor.fetchone()[0] == n:
            print(f"sweep.py: {n:,} permits already loaded")
            return
        print(f"sweep.py: loading {n:,} permits ({overdue_pct:g} % overdue) …", flush=True)
        started = time.perf_counter()
        cursor.execute("TRUNCATE permits_claim, permits_permit CASCADE")
        Organisation.objects.filter(name__startswith="Bench ").delete()
        first = None
        for k in range(CONTRACTORS):
            org = Organisation.objects.create(
                name=f"Bench contractor {k}", kind="contractor", email=f"c{k}@bench.invalid"
            )
            first = first or org.pk
        # One police organisation, or the sweep makes no police claims: the database's own
        # (the appeals' categories bring one) if it has it.
        if not Organisation.objects.filter(kind="police").exclude(name="Bench police").exists():
            Organisation.objects.get_or_create(
                name="Bench police", defaults={"kind": "police", "email": "police@bench.invalid"}
            )
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            LOAD_SQL,
            {
                "n": n,
                "every": every,
                "first_org": first,
                "contractors": CONTRACTORS,
                "today": local_today(),
                "lon": origin[0],
                "lat": origin[1],
            },
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("VACUUM ANALYZE permits_permit")
        print(f"sweep.py: loaded in {time.perf_counter() - started:.1f} s", flush=True)


def reset() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE permits_claim, procrastinate_jobs, procrastinate_events,"
            " procrastinate_periodic_defers RESTART IDENTITY"
        )
        cursor.execute("ANALYZE permits_claim")


def timed_sweep() -> tuple[float, int, int]:
    started = time.perf_counter()
    result = claims_create_overdue(now=timezone.now())
    return time.perf_counter() - started, result.created, result.deferred


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--permits", type=int, default=1_000_000)
    parser.add_argument("--overdue-pct", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--origin", default="-76.70,39.20", help="LON,LAT of the permits' grid (the demo city)"
    )
    parser.add_argument("--load-only", action="store_true", help="load the permits, time nothing")
    args = parser.parse_args()
    lon, lat = (float(v) for v in args.origin.split(","))
    load(args.permits, args.overdue_pct, (lon, lat))
    if args.load_only:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        print("sweep.py:", cursor.fetchone()[0].split(",")[0])
        cursor.execute(
            "SELECT count(*) FILTER (WHERE status IN ('issued', 'in_progress') AND deadline < %s),"
            " count(*) FROM permits_permit",
            [local_today()],
        )
        overdue, total = cursor.fetchone()
    print(
        f"sweep.py: {total:,} permits, {overdue:,} overdue; load average {os.getloadavg()[0]:.1f}"
    )
    first, steady = [], []
    for run in range(1, args.repeats + 1):
        reset()
        seconds, created, deferred = timed_sweep()
        first.append(seconds)
        print(f"  run {run}: sweep {seconds:.3f} s: {created:,} claims, {deferred:,} send jobs")
        assert created == 2 * overdue, (created, overdue)
        seconds, created, _ = timed_sweep()
        steady.append(seconds)
        print(f"  run {run}: steady-state sweep (nothing new) {seconds:.3f} s: {created} claims")
        assert created == 0
    print(
        f"sweep.py: creating {2 * overdue:,} claims + jobs among {total:,} permits: "
        f"median {statistics.median(first):.3f} s (min {min(first):.3f}, max {max(first):.3f}); "
        f"steady state median {statistics.median(steady):.3f} s"
    )


if __name__ == "__main__":
    main()
