"""How fast planning is on a synthetic city of thousands of yards: ranking, plan, hotspots, raster.

    DATABASE_URL=postgres://…/scratch .venv/bin/python bench/planning.py --yards 5000

Everything is made inside one transaction that is rolled back at the end, so the database is left
as it was (run it on a scratch database all the same). The yards form a grid of 60 × 40 m blocks
100 m apart with 8 houses 5 m around each (flats 1–60, one in five unknown), plus appeals, water
mains along the grid's streets, and break records clustered around 1 % of the blocks.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gis.settings")

import django  # noqa: E402

django.setup()

from django.contrib.gis.geos import LineString, MultiPolygon, Point, Polygon  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from layers.models import Building, NetworkKind, NetworkSegment, Yard  # noqa: E402
from orders.appeals.models import Appeal, Category  # noqa: E402
from orders.planning.models import Incident, UnitCost  # noqa: E402
from orders.planning.selectors.breaks import (  # noqa: E402
    break_query_make,
    breaks_per_month,
    hotspots_find,
)
from orders.planning.selectors.plans import plan_compose  # noqa: E402
from orders.planning.selectors.ranking import (  # noqa: E402
    APARTMENTS_RADIUS_M,
    DEFAULT_EXCLUDE,
    DEFAULT_WEIGHTS,
    exclusions_parse,
    weights_parse,
    yards_rank,
)
from orders.planning.services import incidents_density_export  # noqa: E402

LON, LAT = -76.62, 39.27
M_LAT = 1 / 111_000
M_LON = 1 / (111_320 * math.cos(math.radians(LAT)))


def box(east: float, north: float, w: float, h: float) -> Polygon:
    x, y = LON + east * M_LON, LAT + north * M_LAT
    return Polygon.from_bbox((x, y, x + w * M_LON, y + h * M_LAT))


def timed(label: str, run, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(f"{label}: median {median * 1000:.0f} ms of {repeat} (min {min(times) * 1000:.0f} ms)")
    return median


def make_city(n_yards: int, rng: random.Random) -> None:
    columns = math.ceil(math.sqrt(n_yards))
    now = timezone.now()
    yards, buildings = [], []
    for i in range(n_yards):
        east, north = (i % columns) * 100, (i // columns) * 100
        geom = box(east, north, 60, 40)
        geom.srid = 4326
        yards.append(
            Yard(
                source="bench",
                source_id=str(i),
                address=f"{i} Bench Street",
                surface=rng.choice(["asphalt", "paving", "gravel", "unknown"]),
                condition=rng.choice(["poor", "fair", "good", "unknown"]),
                geom=geom,
            )
        )
        for j in range(8):
            side = j % 4
            dx, dy = [(-15, 5 + j * 4), (65, 5 + j * 4), (5 + j * 6, -15), (5 + j * 6, 45)][side]
            b = box(east + dx, north + dy, 10, 8)
            b.srid = 4326
            buildings.append(
                Building(
                    source="bench",
                    source_id=f"{i}-{j}",
                    flats=None if rng.random() < 0.2 else rng.randint(1, 60),
                    geom=MultiPolygon(b, srid=4326),
                )
            )
    Yard.objects.bulk_create(yards, batch_size=2000)
    Building.objects.bulk_create(buildings, batch_size=5000)
    ids = list(Yard.objects.filter(source="bench").values_list("id", flat=True))
    category = Category.objects.create(code="bench-yard", name="Bench yard", layer="yards")
    Appeal.objects.bulk_create(
        [
            Appeal(
                number=f"B-{k}",
                channel=Appeal.Channel.WEB,
                category=category,
                received_at=now - timedelta(days=rng.randint(0, 700)),
                linked_layer="yards",
                linked_id=rng.choice(ids),
            )
            for k in range(2 * n_yards)
        ],
        batch_size=5000,
    )
    rows = math.ceil(n_yards / columns)
    mains = [
        NetworkSegment(
            source="bench",
            source_id=f"main-{r}-{c}",
            kind=NetworkKind.WATER,
            geom=LineString(
                (LON + c * 500 * M_LON, LAT + (r * 100 - 30) * M_LAT),
                (LON + (c + 1) * 500 * M_LON, LAT + (r * 100 - 30) * M_LAT),
                srid=4326,
            ),
        )
        for r in range(rows)
        for c in range(math.ceil(columns / 5))
    ]
    NetworkSegment.objects.bulk_create(mains)
    incidents = []
    for k in range(4 * n_yards):
        if k % 2:  # half around a few hot blocks, on their main
            hot = rng.randrange(max(n_yards // 100, 1))
            east = (hot * 37 % columns) * 100 + rng.gauss(30, 15)
            north = (hot * 37 // columns % rows) * 100 - 30 + rng.gauss(0, 2)
        else:
            east, north = rng.uniform(0, columns * 100), rng.uniform(0, rows * 100)
        incidents.append(
            Incident(
                source="bench",
                source_id=str(k),
                kind=NetworkKind.WATER,
                occurred_on=(now - timedelta(days=rng.randint(0, 1000))).date(),
                geom=Point(LON + east * M_LON, LAT + north * M_LAT, srid=4326),
            )
        )
    Incident.objects.bulk_create(incidents, batch_size=5000)
    for surface in Yard.Surface.values:
        UnitCost.objects.get_or_create(surface=surface, defaults={"cost_per_m2": "70.00"})
    print(
        f"city: {n_yards:,} yards, {len(buildings):,} buildings, {2 * n_yards:,} appeals, "
        f"{len(mains):,} mains, {len(incidents):,} break records"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--yards", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--keep", action="store_true", help="commit the city instead of rolling it back"
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    weights = weights_parse(text=DEFAULT_WEIGHTS)
    exclusions = exclusions_parse(text=DEFAULT_EXCLUDE)
    with transaction.atomic():
        started = time.perf_counter()
        make_city(args.yards, rng)
        print(f"made in {time.perf_counter() - started:.1f} s")
        with connection.cursor() as cursor:
            # Planner statistics for the new rows, as autovacuum would gather them.
            for model in (Yard, Building, Appeal, NetworkSegment, Incident):
                cursor.execute(f'ANALYZE "{model._meta.db_table}"')
        now = timezone.now()
        timed(
            "ranking, top 100",
            lambda: yards_rank(weights=weights, exclusions=exclusions, limit=100, now=now),
        )
        timed(
            "ranking, all",
            lambda: yards_rank(weights=weights, exclusions=exclusions, limit=None, now=now),
        )
        timed(
            "plan of 300 yards (dry run)",
            lambda: plan_compose(
                year=now.year,
                budget=None,
                count=300,
                weights=weights,
                exclusions=exclusions,
                apartments_radius_m=APARTMENTS_RADIUS_M,
                first_month=5,
                last_month=10,
                previous=None,
                now=now,
            ),
        )
        query = break_query_make(kind="water", since=None, until=None, today=timezone.localdate())
        result = hotspots_find(query=query, eps_m=50, min_points=3, k=3)
        print(
            f"hotspots: {result['incidents']:,} incidents, "
            f"{len(result['clusters']['features']):,} clusters, "
            f"{len(result['repair_candidates']):,} repair candidates"
        )
        timed(
            "hotspots (3 years, eps 50 m)",
            lambda: hotspots_find(query=query, eps_m=50, min_points=3, k=3),
        )
        timed("breaks per month", lambda: breaks_per_month(query=query))
        with tempfile.TemporaryDirectory() as tmp, override_settings(MEDIA_ROOT=tmp):
            export = incidents_density_export(query=query, cell_m=50, path=Path(tmp) / "w.tif")
            print(export.summary())
        transaction.set_rollback(not args.keep)


if __name__ == "__main__":
    main()
