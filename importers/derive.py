"""Objects OSM does not map, derived deterministically from what it does.

Real OSM has no yards, manholes or snowplough routes for most cities. For a demo city these are
computed from the real geometry and stored with ``source="derived"``, so no map, card or export
presents them as surveyed data. Each derivation is a pure function of the layers it reads:
running it again on the same data changes nothing.

- yards: city blocks (the faces of the street network) minus their buildings, a street
  setback and any park, school ground, water, cemetery or hospital ground: the shared inner
  space of a block of houses, named in the city's language (``CITY_LANGUAGE``);
- manholes: every ``MANHOLE_SPACING_M`` along each buried network line (not power, nor a line
  tagged overground or overhead);
- snowplough routes: main streets grouped by name, priority by street class;
- bus route stops: for routes whose source lists no stops, the stops near the route's line in
  the order the route passes them (``BusRouteStop.derived``);
- districts, only while no surveyed district boundary is loaded: the Voronoi cells of the named
  place points (``place=neighbourhood|suburb|quarter``) clipped to the city (the convex hull of
  its buildings and streets, grown by ``DISTRICT_MARGIN_M``), each named after its place. They
  say which part of town an appeal is in; they are not official boundaries.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Callable

import numpy as np
import shapely
from django.conf import settings
from django.contrib.gis.db.models import Collect, Extent, GeometryField
from django.contrib.gis.geos import GEOSGeometry
from django.db import transaction
from django.db.models import Func
from django.utils import translation
from django.utils.translation import gettext, ngettext
from pyproj import CRS, Transformer
from shapely.geometry import MultiLineString, MultiPoint, MultiPolygon, Polygon
from shapely.ops import linemerge, polygonize, unary_union

from importers.osm_mapping import DISTRICT_PLACES, STREET_CLASSES
from importers.records import ImportReport, Record, records_validate, records_write
from importers.services import organisations_by_name
from layers.addresses import house_number_key, house_number_value
from layers.model_base import written_address
from layers.models import (
    Building,
    BusRoute,
    BusRouteStop,
    BusStop,
    District,
    LandArea,
    NetworkKind,
    NetworkLocation,
    NetworkSegment,
    Organisation,
    Place,
    Street,
)
from layers.registry import LAYERS

SOURCE = "derived"
# Street classes that bound a city block (alleys, footways and paths run inside blocks).
BLOCK_STREETS = STREET_CLASSES - {
    "service",
    "pedestrian",
    "footway",
    "path",
    "cycleway",
    "steps",
    "track",
}
RESIDENTIAL_KINDS = (
    "residential",
    "terrace",
    "house",
    "apartments",
    "detached",
    "semidetached_house",
    "dormitory",
)
BLOCK_AREA_M2 = (1_500, 80_000)
STREET_SETBACK_M = 9.0  # half a carriageway plus the sidewalk, from the centreline
MIN_YARD_M2 = 250.0
MIN_HOUSES_PER_BLOCK = 3
MANHOLE_SPACING_M = 80.0
# Lines on supports or on the ground have no manholes (a heating main on stilts, a cable on poles).
ABOVE_GROUND = (NetworkLocation.OVERGROUND, NetworkLocation.OVERHEAD)
# Land a yard never covers: the block's space that is a park, a school ground, water …
NOT_YARD_LAND = ("park", "school", "water", "cemetery", "hospital")
STOP_DISTANCE_M = 30.0
SNOW_PRIORITY = {"motorway": 1, "trunk": 1, "primary": 1, "secondary": 2, "tertiary": 3}
SNOW_SCHEDULE = {
    1: "Priority 1: ploughed and treated continuously during snowfall; clear within 4 h after.",
    2: "Priority 2: ploughed after priority 1 routes; clear within 12 h after snowfall ends.",
    3: "Priority 3: ploughed after priority 2 routes; clear within 24 h after snowfall ends.",
}
SNOW_ORGANISATION = "Snow removal service (demo)"
DISTRICT_MARGIN_M = 150.0
"""How far past the outermost buildings and streets derived districts reach."""


class Metric:
    """Projection to the local UTM zone and back, for lengths and buffers in metres."""

    def __init__(self, lon: float, lat: float) -> None:
        zone = int((lon + 180) // 6) + 1
        utm = CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)
        self._to = Transformer.from_crs(4326, utm, always_xy=True)
        self._back = Transformer.from_crs(utm, 4326, always_xy=True)

    @staticmethod
    def _apply(transformer: Transformer) -> Callable[[np.ndarray], np.ndarray]:
        return lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))

    def to_metres(self, geom: GEOSGeometry | shapely.Geometry) -> shapely.Geometry:
        if isinstance(geom, GEOSGeometry):
            geom = shapely.from_wkb(bytes(geom.wkb))
        return shapely.transform(geom, self._apply(self._to))

    def to_lonlat(self, geom: shapely.Geometry) -> GEOSGeometry:
        lonlat = shapely.transform(geom, self._apply(self._back))
        return GEOSGeometry(memoryview(shapely.to_wkb(lonlat)), srid=4326)


def _key(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:16]


def _metric_for_city() -> Metric | None:
    extent = Street.objects.aggregate(extent=Extent("geom"))["extent"]
    if not extent:
        return None
    return Metric((extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2)


# --- yards -----------------------------------------------------------------------------------


def yard_records(metric: Metric) -> list[Record]:
    lines = [
        metric.to_metres(g)
        for g in Street.objects.filter(kind__in=BLOCK_STREETS).values_list("geom", flat=True)
    ]
    if not lines:
        return []
    # unary_union nodes the street lines where they cross, so polygonize finds the blocks.
    noded = unary_union(lines)
    blocks = [
        b
        for b in polygonize(getattr(noded, "geoms", [noded]))
        if BLOCK_AREA_M2[0] <= b.area <= BLOCK_AREA_M2[1]
    ]
    houses = []
    for geom, kind, street, number in Building.objects.values_list(
        "geom", "kind", "street", "housenumber"
    ):
        if geom.geom_type == "Point":
            continue
        houses.append((metric.to_metres(geom), kind, street, number))
    tree = shapely.STRtree([h[0] for h in houses])
    grounds = [
        metric.to_metres(g)
        for g in LandArea.objects.filter(kind__in=NOT_YARD_LAND).values_list("geom", flat=True)
    ]
    grounds_tree = shapely.STRtree(grounds)
    records = []
    for block in sorted(blocks, key=lambda b: (round(b.centroid.x), round(b.centroid.y))):
        inside = [
            houses[i]
            for i in tree.query(block, predicate="intersects")
            if block.contains(houses[i][0].representative_point())
        ]
        residential = [h for h in inside if h[1] in RESIDENTIAL_KINDS or h[3]]
        if len(residential) < MIN_HOUSES_PER_BLOCK:
            continue
        space = block.buffer(-STREET_SETBACK_M)
        if inside:
            space = space.difference(unary_union([h[0].buffer(1.0) for h in inside]))
        if hits := grounds_tree.query(block, predicate="intersects").tolist():
            space = space.difference(unary_union([grounds[i] for i in hits]))
        parts = [p for p in getattr(space, "geoms", [space]) if isinstance(p, Polygon)]
        if not parts:
            continue
        yard = max(parts, key=lambda p: p.area).simplify(0.5)
        if yard.area < MIN_YARD_M2 or not yard.is_valid:
            continue
        records.append(
            Record(
                source_id=_block_key(block),
                values=_yard_address(residential),
                geom=metric.to_lonlat(yard),
                label="derived yard",
            )
        )
    return records


def _block_key(block: Polygon) -> str:
    """A yard's stable id: its block's rounded area and centre, in metres."""
    x, y = block.centroid.coords[0]
    return f"yard-{_key(round(block.area), round(x), round(y))}"


def _yard_address(houses: list) -> dict[str, str]:
    """The block's main street and its house numbers: how residents name the yard.

    Named in the city's language and address order: "Yard behind 3400–3406 Eastern Avenue",
    "Двор за домами улица Ленина, 2–14". Numbers are ordered as numbers (2 before 14, 12 before
    12к1), not as text.
    """
    addressed = [(street, number) for _, _, street, number in houses if street and number]
    with translation.override(settings.CITY_LANGUAGE):
        if not addressed:
            return {"name": gettext("Yard"), "address": ""}
        street = Counter(s for s, _ in addressed).most_common(1)[0][0]
        numbers = sorted({n for s, n in addressed if s == street}, key=_house_order)
        low, high = numbers[0], numbers[-1]
        span = low if low == high else f"{low}–{high}"
        name = ngettext("Yard behind {address}", "Yard behind {address}", len(numbers))
        return {
            "name": name.format(address=written_address(street, span)),
            "address": written_address(street, low),
        }


def _house_order(number: str) -> tuple[float, str]:
    key = house_number_key(number)
    value = house_number_value(key)
    return (math.inf if value is None else value, key)


# --- manholes --------------------------------------------------------------------------------


def manhole_records(metric: Metric) -> list[Record]:
    records = []
    buried = (
        NetworkSegment.objects.exclude(kind=NetworkKind.POWER)
        .exclude(source=SOURCE)
        .exclude(location__in=ABOVE_GROUND)
    )
    for segment in buried.order_by("source", "source_id"):
        line = metric.to_metres(segment.geom)
        count = max(int(line.length // MANHOLE_SPACING_M), 1)
        for i in range(count + 1):
            point = line.interpolate(min(i * MANHOLE_SPACING_M, line.length))
            records.append(
                Record(
                    # Hashed: a segment's own key may be long, and source_id holds 64 characters.
                    source_id=f"mh-{_key(segment.source, segment.source_id)}-{i}",
                    values={"kind": segment.kind, "segment": segment.pk},
                    geom=metric.to_lonlat(point),
                    label="derived manhole",
                )
            )
    return records


# --- snowplough routes -----------------------------------------------------------------------


def snowplough_records(organisation_id: int) -> list[Record]:
    groups: dict[str, tuple[int, list]] = {}
    for name, kind, geom in (
        Street.objects.filter(kind__in=SNOW_PRIORITY, source__in=("osm",))
        .exclude(name="")
        .values_list("name", "kind", "geom")
    ):
        priority, lines = groups.get(name, (9, []))
        lines.append(shapely.from_wkb(bytes(geom.wkb)))
        groups[name] = (min(priority, SNOW_PRIORITY[kind]), lines)
    records = []
    for name, (priority, lines) in sorted(groups.items()):
        merged = linemerge(MultiLineString(lines))
        parts = list(getattr(merged, "geoms", [merged]))
        records.append(
            Record(
                source_id=f"snow-{_key(name)}",
                values={
                    "name": name,
                    "priority": priority,
                    "organisation": organisation_id,
                    "schedule": SNOW_SCHEDULE[priority],
                },
                geom=GEOSGeometry(memoryview(shapely.to_wkb(MultiLineString(parts))), srid=4326),
                label=f"derived snowplough route {name}",
            )
        )
    return records


# --- districts -------------------------------------------------------------------------------


def city_extent(metric: Metric) -> shapely.Geometry | None:
    """The convex hull of the city's buildings and streets grown by the margin, in metres."""
    hulls = []
    for model in (Building, Street):
        # The hull is taken in the database: only one polygon per layer travels.
        hull = model.objects.aggregate(
            hull=Func(Collect("geom"), function="ST_ConvexHull", output_field=GeometryField())
        )["hull"]
        if hull is not None:
            hulls.append(metric.to_metres(hull))
    if not hulls:
        return None
    return unary_union(hulls).convex_hull.buffer(DISTRICT_MARGIN_M)


def district_records(metric: Metric, report: ImportReport) -> list[Record]:
    """Districts as the Voronoi cells of the named place points, clipped to the city.

    None while any district comes from a survey or a file: derived districts never stand in for
    real boundaries (and those already derived are then removed as stale).
    """
    if District.objects.exclude(source=SOURCE).exists():
        report.notes.append("districts: the city has district boundaries; none derived")
        return []
    extent = city_extent(metric)
    places = (
        Place.objects.filter(kind__in=DISTRICT_PLACES)
        .exclude(name="")
        .order_by("name", "source", "source_id")
        .values_list("name", "geom")
    )
    points, names, seen = [], [], set()
    for name, geom in places:
        point = metric.to_metres(geom)
        # Two places on one spot would share one cell: the first by name keeps it.
        if (point.x, point.y) in seen:
            continue
        seen.add((point.x, point.y))
        points.append(point)
        names.append(name)
    if extent is None or not points:
        return []
    if len(points) == 1:
        cells = [extent]
    else:
        # GEOS's Voronoi diagram (what ST_VoronoiPolygons runs), cells in the points' order.
        diagram = shapely.voronoi_polygons(MultiPoint(points), extend_to=extent, ordered=True)
        cells = list(diagram.geoms)
    # Places of one name (a neighbourhood mapped twice) make one district.
    by_name: dict[str, list[shapely.Geometry]] = defaultdict(list)
    for name, cell in zip(names, cells, strict=True):
        by_name[name].append(cell.intersection(extent))
    records = []
    for name in sorted(by_name):
        area = unary_union(by_name[name])
        parts = [p for p in getattr(area, "geoms", [area]) if isinstance(p, Polygon) and p.area]
        if not parts:
            continue
        records.append(
            Record(
                source_id=f"district-{_key(name)}",
                values={"name": name, "admin_level": None},
                geom=metric.to_lonlat(MultiPolygon(parts)),
                label=f"derived district {name}",
            )
        )
    if records:
        report.notes.append(
            f"districts: {len(records)} derived from {len(points)} named place points "
            "(Voronoi cells, not official boundaries)"
        )
    return records


# --- bus route stops -------------------------------------------------------------------------


def route_stops_derive(metric: Metric) -> int:
    """Attach nearby stops, in passing order, to routes whose source lists none."""
    stops = [(s.pk, metric.to_metres(s.geom)) for s in BusStop.objects.order_by("pk")]
    if not stops:
        return 0
    tree = shapely.STRtree([p for _, p in stops])
    changed = 0
    for route in BusRoute.objects.exclude(route_stops__derived=False).order_by("pk"):
        parts = list(metric.to_metres(route.geom).geoms)
        order = []
        for index in tree.query(unary_union(parts), predicate="dwithin", distance=STOP_DISTANCE_M):
            stop_id, point = stops[index]
            part = min(range(len(parts)), key=lambda i: parts[i].distance(point))
            order.append(((part, parts[part].project(point)), stop_id))
        wanted = [stop_id for _, stop_id in sorted(order)]
        current = list(
            BusRouteStop.objects.filter(route=route)
            .order_by("sequence")
            .values_list("stop_id", flat=True)
        )
        if wanted == current:
            continue
        BusRouteStop.objects.filter(route=route).delete()
        BusRouteStop.objects.bulk_create(
            BusRouteStop(route=route, stop_id=s, sequence=i, derived=True)
            for i, s in enumerate(wanted)
        )
        changed += 1
    return changed


@transaction.atomic
def layers_derive(*, report: ImportReport | None = None) -> ImportReport:
    """Derive yards, manholes, snowplough routes, districts and route stops from the layers."""
    report = report or ImportReport()
    metric = _metric_for_city()
    if metric is None:
        report.notes.append("no streets loaded: nothing to derive from")
        return report
    organisation = organisations_by_name(
        [SNOW_ORGANISATION],
        kind=Organisation.Kind.SERVICE,
        note="Demo organisation: responsible for the derived snowplough routes.",
    )[SNOW_ORGANISATION]
    batches = {
        "yards": yard_records(metric),
        "manholes": manhole_records(metric),
        "snowplough_routes": snowplough_records(organisation),
        "districts": district_records(metric, report),
    }
    for layer, records in batches.items():
        spec = LAYERS[layer]
        ids = records_write(
            spec=spec,
            source=SOURCE,
            records=records_validate(spec, records, report),
            report=report,
        )
        # Derived rows follow their inputs: what the inputs no longer give is removed.
        stale, _ = spec.model.objects.filter(source=SOURCE).exclude(source_id__in=ids).delete()
        if stale:
            report.notes.append(
                f"{layer}: removed {stale} derived rows their inputs no longer give"
            )
    changed = route_stops_derive(metric)
    if changed:
        report.notes.append(f"stops matched by distance on {changed} bus routes")
    return report
