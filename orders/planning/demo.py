"""Planning's part of the demo city: real break records, and a first yard plan.

The demo city has no utility break records, so the incidents are the City of Baltimore's own 311
requests (``../shared/data/311-baltimore``, 2014–2019, credited "City of Baltimore / Open
Baltimore") of the types that report a broken water or sewer line, with their real points and
dates. They are 311 requests, not the utility's repair log: docs/guide/planner.md says so.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import transaction
from django.utils import timezone

from importers.records import ImportReport, Record, records_validate, records_write
from layers.models import NetworkKind, Yard
from layers.registry import LAYERS
from orders.planning.models import UnitCost
from orders.planning.selectors.plans import (
    DEFAULT_FIRST_MONTH,
    DEFAULT_LAST_MONTH,
    yard_plan_record,
)
from orders.planning.selectors.ranking import (
    APARTMENTS_RADIUS_M,
    DEFAULT_EXCLUDE,
    DEFAULT_WEIGHTS,
    exclusions_parse,
    weights_parse,
)
from orders.planning.services import plan_create

SOURCE = "baltimore-311"
DEMO_311_FILE = (
    Path(settings.SHARED_DATA_DIR) / "311-baltimore" / "baltimore_311_sample_2014-2019.csv"
)
# 311 request types that report a break of a network, and the network they are about.
BREAK_TYPES = {
    "WW-Water Leak (Exterior)": NetworkKind.WATER,
    "WW-Sewer Overflow": NetworkKind.SEWER,
}
DEMO_PLAN_COUNT = 10
# The migration's placeholder unit costs (orders/planning/migrations/0001_initial.py), restored
# for the demo plan when the table is empty (a flushed database).
DEMO_UNIT_COSTS = {
    "asphalt": "60.00",
    "paving": "95.00",
    "gravel": "25.00",
    "grass": "15.00",
    "mixed": "70.00",
    "unknown": "70.00",
}
DEMO_PLAN_NOTE = (
    "Demo plan made by manage.py load_demo. OSM has no building:flats in this extract and the "
    "demo has no appeals about yards, so it ranks the derived yards by area alone."
)


def incident_records_311(*, path: Path) -> list[Record]:
    """The break requests of the 311 sample as import records, placeholder points left out."""
    records = []
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            kind = BREAK_TYPES.get(row["SRType"])
            if kind is None or "NA" in (row["Latitude"], row["Longitude"]):
                continue
            lat, lon = float(row["Latitude"]), float(row["Longitude"])
            # Un-geocoded requests carry a point on whole degrees (39, -77 as SOURCE.md says;
            # 39, -76 too): never mapped.
            if lat.is_integer() and lon.is_integer():
                continue
            created = datetime.strptime(row["CreatedDate"], "%m/%d/%Y %I:%M:%S %p")
            number = row["ServiceRequestNum"]
            records.append(
                Record(
                    source_id=number,
                    values={
                        "kind": kind,
                        "occurred_on": created.date(),
                        "description": (
                            f"{row['SRType']} at {row['Address']} (311 request {number})"
                        ),
                    },
                    geom=Point(lon, lat, srid=4326),
                    label=f"311 request {number}",
                )
            )
    return records


@transaction.atomic
def demo_load() -> list[str]:
    """Load the 311 break records as incidents and, if the year has none, a demo yard plan.

    ``load_demo`` runs it after the appeals, which the plan ranks the yards by.

    Safe to run again: incidents are upserted on (source, request number), and a year that has a
    plan keeps it. Returns one line per step for the command's output.
    """
    lines = []
    if DEMO_311_FILE.is_file():
        spec = LAYERS["incidents"]
        report = ImportReport()
        cleaned = records_validate(spec, incident_records_311(path=DEMO_311_FILE), report)
        records_write(spec=spec, source=SOURCE, records=cleaned, report=report)
        lines.append(report.summary("demo incidents (Baltimore 311 break requests)"))
    now = timezone.now()
    year = timezone.localdate().year
    if Yard.objects.exists() and yard_plan_record(year=year) is None:
        if not UnitCost.objects.exists():
            UnitCost.objects.bulk_create(
                UnitCost(surface=surface, cost_per_m2=cost, note="placeholder (demo)")
                for surface, cost in DEMO_UNIT_COSTS.items()
            )
        plan, _ = plan_create(
            year=year,
            budget=None,
            count=DEMO_PLAN_COUNT,
            weights=weights_parse(text=DEFAULT_WEIGHTS),
            exclusions=exclusions_parse(text=DEFAULT_EXCLUDE),
            apartments_radius_m=APARTMENTS_RADIUS_M,
            first_month=DEFAULT_FIRST_MONTH,
            last_month=DEFAULT_LAST_MONTH,
            now=now,
            by=None,
            note=DEMO_PLAN_NOTE,
        )
        lines.append(f"demo yard plan {year} v{plan.version}: {plan.items.count()} yards")
    return lines
