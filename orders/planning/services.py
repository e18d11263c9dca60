"""Writes for planning: making and publishing yard plans, item statuses, the density raster."""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from rasterio.crs import CRS

from gis.exceptions import ApplicationError, BadQuery, Conflict, NotFound
from gis.models import User
from layers.models import NetworkKind, Yard
from orders.planning.models import YardPlan, YardPlanItem
from orders.planning.selectors.breaks import BreakQuery, incident_points_projected
from orders.planning.selectors.plans import PlanDraft, plan_compose, plan_items
from orders.planning.selectors.ranking import Exclusions, Weights
from tiles.services import RasterImport, raster_import

# Two plans of one year made at once must not get the same version: one waits for the other.
PLAN_LOCK_KEY = 7_207_001


@transaction.atomic
def plan_create(
    *,
    year: int,
    budget: Decimal | None,
    count: int | None,
    weights: Weights,
    exclusions: Exclusions,
    apartments_radius_m: float,
    first_month: int,
    last_month: int,
    now: datetime,
    by: User | None,
    note: str = "",
) -> tuple[YardPlan, PlanDraft]:
    """Make the year's next plan version and publish it: it becomes the plan of record.

    The version before stays as history; its items lose their map geometry (``geom``), the new
    ones get theirs, so the ``yard_plan`` tiles show each year's plan of record only.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [PLAN_LOCK_KEY, year])
    previous = YardPlan.objects.select_for_update().filter(year=year, is_record=True).first()
    draft = plan_compose(
        year=year,
        budget=budget,
        count=count,
        weights=weights,
        exclusions=exclusions,
        apartments_radius_m=apartments_radius_m,
        first_month=first_month,
        last_month=last_month,
        previous=previous,
        now=now,
    )
    if previous is not None:
        # The superseded version becomes history: its items, as they are now, into its archive.
        previous.archive = plan_items(plan=previous)
        previous.is_record = False
        previous.superseded_at = now
        previous.save(update_fields=["archive", "is_record", "superseded_at"])
        previous.items.all().delete()
    version = (YardPlan.objects.filter(year=year).aggregate(v=Max("version"))["v"] or 0) + 1
    plan = YardPlan(
        year=year,
        version=version,
        basis=draft.basis,
        budget=budget,
        count=count,
        weights=weights.as_dict(),
        exclude=exclusions.as_dict(),
        apartments_radius_m=apartments_radius_m,
        first_month=first_month,
        last_month=last_month,
        total_cost=draft.total_cost,
        total_area_m2=draft.total_area_m2,
        is_record=True,
        note=note,
        created_by=by,
    )
    plan.full_clean()
    plan.save()
    items = [
        YardPlanItem(
            plan=plan,
            year=year,
            geom=d.geom,
            yard_id=d.yard_id,
            rank=d.rank,
            score=d.score,
            source=d.source,
            source_id=d.source_id,
            address=d.address,
            area_m2=d.area_m2,
            surface=d.surface,
            unit_cost=d.unit_cost,
            cost=d.cost,
            planned_month=d.planned_month,
            status=d.status,
            done_on=d.done_on,
            carried_over=d.carried_over,
        )
        for d in draft.items
    ]
    for item in items:
        # The unique constraints are the database's to check: one query per item saved.
        item.full_clean(validate_constraints=False)
    YardPlanItem.objects.bulk_create(items)
    return plan, draft


@transaction.atomic
def plan_item_update(
    *, plan_id: int, item_id: int, status: str, done_on: date | None, today: date
) -> YardPlanItem:
    """Set a yard's status in the plan of record; ``done`` also records the yard as repaired.

    A yard marked done gets ``last_repaired_on`` = the day it was done (unless the yard says
    later), so the ``repaired:N`` exclusion leaves it out of the next rankings. Setting it back
    leaves the yard's date as it is: the date may have come from elsewhere.
    """
    plan = YardPlan.objects.filter(pk=plan_id).first()
    if plan is None:
        raise NotFound(_("No yard plan %(plan_id)s.") % {"plan_id": plan_id})
    if not plan.is_record:
        raise Conflict(
            _("Yard plan %(year)s v%(version)s is superseded; update the plan of record.")
            % {"year": plan.year, "version": plan.version}
        )
    item = YardPlanItem.objects.select_for_update().filter(pk=item_id, plan=plan).first()
    if item is None:
        raise NotFound(
            _("No item %(item_id)s in yard plan %(plan_id)s.")
            % {"item_id": item_id, "plan_id": plan_id}
        )
    if status not in YardPlanItem.Status.values:
        raise BadQuery(
            _("Unknown status %(status)s.") % {"status": repr(status)},
            extra={"statuses": YardPlanItem.Status.values},
        )
    if status != YardPlanItem.Status.DONE and done_on is not None:
        raise BadQuery(_("done_on goes with status 'done' only."))
    item.status = status
    item.done_on = (done_on or today) if status == YardPlanItem.Status.DONE else None
    if item.done_on is not None and item.done_on > today:
        raise BadQuery(_("done_on %(done_on)s is in the future.") % {"done_on": item.done_on})
    item.full_clean(exclude=["plan"])
    item.save(update_fields=["status", "done_on", "updated_at"])
    if item.done_on is not None and item.yard_id is not None:
        Yard.objects.filter(pk=item.yard_id).filter(
            Q(last_repaired_on__isnull=True) | Q(last_repaired_on__lt=item.done_on)
        ).update(last_repaired_on=item.done_on, updated_at=timezone.now())
    return item


# --- the density raster ------------------------------------------------------------------------

DEFAULT_CELL_M = 50.0
MAX_CELLS = 25_000_000


class DensityError(ApplicationError):
    code = "bad_density"


@dataclass(frozen=True, slots=True)
class DensityExport:
    path: Path
    kind: str
    since: date
    until: date
    srid: int
    cell_m: float
    width: int
    height: int
    incidents: int
    bounds: tuple[float, float, float, float]
    """(west, south, east, north) in the raster's CRS, metres."""
    seconds: float
    raster: RasterImport

    def summary(self) -> str:
        return (
            f"export_density: {self.incidents:,} {self.kind} incidents "
            f"{self.since}…{self.until} in {self.width}×{self.height} cells of "
            f"{self.cell_m:g} m, EPSG:{self.srid}, {self.path} in {self.seconds:.1f} s; "
            f"tiles: /tiles/raster/{self.raster.raster.name}/{{z}}/{{x}}/{{y}}.png "
            f"({self.raster.outcome})"
        )


def incidents_density_export(*, query: BreakQuery, cell_m: float, path: Path) -> DensityExport:
    """Count the kind's located incidents per square cell into a GeoTIFF, and serve it as tiles.

    The grid is in the UTM zone of the incidents' centre (the CRS the hotspots cluster in), so
    a cell is ``cell_m`` metres square on the ground; its edges are multiples of ``cell_m`` with
    one empty cell of margin. Values are counts (uint32, 0 = none, the nodata value so that empty
    cells are transparent on the map); their sum is the number of incidents. The file is then
    registered as the raster ``density-KIND`` (tiles.services.raster_import).
    """
    started = time.monotonic()
    if query.kind is None or query.kind not in NetworkKind.values:
        raise DensityError(_("Name a network kind."), extra={"kinds": NetworkKind.values})
    if not (math.isfinite(cell_m) and 1 <= cell_m <= 10_000):
        raise DensityError(
            _("The cell size must be 1 to 10,000 m, got %(cell_m)s.")
            % {"cell_m": format(cell_m, "g")}
        )
    srid, points = incident_points_projected(query=query)
    if srid is None:
        raise DensityError(
            _("No located %(kind)s incident from %(since)s to %(until)s: nothing to count.")
            % {"kind": query.kind, "since": query.since, "until": query.until}
        )
    xs = np.array([p[0] for p in points])
    ys = np.array([p[1] for p in points])
    west = (math.floor(xs.min() / cell_m) - 1) * cell_m
    east = (math.floor(xs.max() / cell_m) + 2) * cell_m
    south = (math.floor(ys.min() / cell_m) - 1) * cell_m
    north = (math.floor(ys.max() / cell_m) + 2) * cell_m
    width, height = round((east - west) / cell_m), round((north - south) / cell_m)
    if width * height > MAX_CELLS:
        raise DensityError(
            _("%(width)s×%(height)s cells is too many; use a larger cell size than %(cell_m)s m.")
            % {"width": width, "height": height, "cell_m": format(cell_m, "g")}
        )
    counts = np.zeros((height, width), dtype=np.uint32)
    cols = np.floor((xs - west) / cell_m).astype(int)
    rows = np.floor((north - ys) / cell_m).astype(int)
    np.add.at(counts, (rows, cols), 1)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False
    ) as part:
        name = part.name
    try:
        with rasterio.open(
            name,
            "w",
            driver="GTiff",
            width=width,
            height=height,
            count=1,
            dtype="uint32",
            crs=CRS.from_epsg(srid),
            transform=Affine(cell_m, 0.0, west, 0.0, -cell_m, north),
            nodata=0,
            compress="deflate",
        ) as dst:
            dst.write(counts, 1)
            dst.update_tags(
                kind=query.kind,
                since=query.since.isoformat(),
                until=query.until.isoformat(),
                incidents=str(len(points)),
                cell_m=f"{cell_m:g}",
                units="incidents per cell",
            )
            dst.set_band_description(1, f"{query.kind} incidents per {cell_m:g} m cell")
        os.chmod(name, 0o644)
        os.replace(name, path)
    except BaseException:
        if os.path.exists(name):
            os.unlink(name)
        raise
    registered = raster_import(name=f"density-{query.kind}", path=path)
    return DensityExport(
        path=path,
        kind=query.kind,
        since=query.since,
        until=query.until,
        srid=srid,
        cell_m=cell_m,
        width=width,
        height=height,
        incidents=len(points),
        bounds=(west, south, east, north),
        seconds=time.monotonic() - started,
        raster=registered,
    )
