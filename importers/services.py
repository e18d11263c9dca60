"""Import services: OpenStreetMap files and tabular/vector files into the layers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import geopandas
import pandas
import pyogrio.errors
import shapely
from django.conf import settings
from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.geos import GEOSGeometry
from django.db import connection, transaction

from gis.spatial import Bbox
from importers.osm import read_osm
from importers.records import (
    ImportReport,
    Record,
    check_rejections,
    importable_fields,
    records_validate,
    records_write,
)
from layers.addresses import house_number_key, street_key
from layers.models import BusRouteStop, Organisation
from layers.registry import LAYERS, importable_layers
from layers.services import CLUSTER_MIN_SHARE, layer_cluster, street_aliases_refresh

# Write order: what others point at first.
LAYER_ORDER = (
    "buildings",
    "addresses",
    "yards",
    "playgrounds",
    "sports_fields",
    "cameras",
    "networks",
    "manholes",
    "bus_stops",
    "bus_routes",
    "snowplough_routes",
    "streets",
    "land",
    "street_lights",
    "districts",
    "places",
)


def organisations_by_name(names: Iterable[str], *, kind: str, note: str) -> dict[str, int]:
    """Organisation ids by name, creating the missing ones."""
    ids = dict(Organisation.objects.filter(name__in=set(names)).values_list("name", "id"))
    for name in sorted(set(names) - ids.keys()):
        ids[name] = Organisation.objects.create(name=name, kind=kind, note=note).pk
    return ids


def bus_route_stops_write(
    *, route_ids: dict[str, int], stop_ids: dict[str, int], route_stops: dict[str, list[str]]
) -> int:
    """Set each route's ordered stops as the source lists them; returns routes changed."""
    changed = 0
    for route_key, stop_keys in route_stops.items():
        route_id = route_ids.get(route_key)
        if route_id is None:
            continue
        wanted: list[int] = []
        for key in stop_keys:
            pk = stop_ids.get(key)
            if pk is not None and (not wanted or wanted[-1] != pk):
                wanted.append(pk)
        current = list(
            BusRouteStop.objects.filter(route_id=route_id)
            .order_by("sequence")
            .values_list("stop_id", "derived")
        )
        if not wanted or current == [(pk, False) for pk in wanted]:
            continue
        BusRouteStop.objects.filter(route_id=route_id).delete()
        BusRouteStop.objects.bulk_create(
            BusRouteStop(route_id=route_id, stop_id=pk, sequence=i) for i, pk in enumerate(wanted)
        )
        changed += 1
    return changed


def addresses_attach(
    addresses: list[Record], buildings: list[Record]
) -> tuple[list[Record], dict[str, str], int]:
    """Attach address points and entrances to the building outline they lie in or on.

    Returns the addresses to write, the building (by source id) of each that has one, and how
    many points were dropped for repeating their building's own address. Addressed areas stand
    on their own: a school ground is not in a building.
    """
    outlines = [r for r in buildings if r.geom.geom_type != "Point"]
    shapes = [shapely.from_wkb(bytes(r.geom.wkb)) for r in outlines]
    tree = shapely.STRtree(shapes)
    kept, owners, repeated = [], {}, 0
    for record in addresses:
        if record.values.get("kind") == "area":
            kept.append(record)
            continue
        point = shapely.from_wkb(bytes(record.geom.wkb))
        hits = tree.query(point, predicate="intersects")
        if len(hits):
            # Nested outlines (a building part inside a building): the smallest holds it.
            building = outlines[min(hits, key=lambda i: shapes[i].area)]
            if record.values.get("kind") == "point" and _same_address(record, building):
                repeated += 1
                continue
            owners[record.source_id] = building.source_id
        kept.append(record)
    return kept, owners, repeated


def _same_address(a: Record, b: Record) -> bool:
    def keys(r: Record) -> tuple[str, str]:
        return street_key(r.values.get("street")), house_number_key(r.values.get("housenumber"))

    return keys(a) == keys(b)


def layers_cluster_after_load(report: ImportReport) -> None:
    """Put the tables a committed load grew by ``CLUSTER_MIN_SHARE`` or more in spatial order.

    Inside a caller's transaction (a test, a larger write) nothing is re-ordered: CLUSTER would
    lock the tables until that transaction ends.
    """
    if connection.in_atomic_block:
        return
    for layer, counts in report.by_layer.items():
        spec = LAYERS[layer]
        if counts["created"] < CLUSTER_MIN_SHARE * max(spec.model._default_manager.count(), 1):
            continue
        if done := layer_cluster(spec=spec):
            report.notes.append(
                f"{layer}: {done.rows:,} rows put in spatial order in {done.seconds:.1f} s"
            )


def osm_import(
    *,
    path: Path,
    bbox: Bbox | None = None,
    strict: bool = False,
    source: str = "osm",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import an OSM file into every layer of the mapping table in one transaction.

    What cannot be built or is invalid is reported and left out, and the rest is written: an
    extract cut from openstreetmap.org always holds relations it has only a part of. ``strict``
    is all or nothing instead: any such object aborts the import before anything is written.
    """
    report = ImportReport()
    extract = read_osm(path, bbox=bbox, tick=progress)
    report.read += len(extract.failures) + len(extract.incomplete)
    report.rejected.extend(extract.failures)
    for row in extract.incomplete:
        if strict:
            report.rejected.append(row)
        else:
            report.skip(f"incomplete {row.layer.replace('_', ' ')}", row)
    for kind, n in extract.skipped.items():
        report.skip(kind, n=n)
    with transaction.atomic():
        owner_ids = organisations_by_name(
            extract.owners.values(),
            kind=Organisation.Kind.SERVICE,
            note="Created on OSM import: named by an operator tag or the tag mapping.",
        )
        by_key = {(layer, r.source_id): r for layer, rs in extract.records.items() for r in rs}
        for key, name in extract.owners.items():
            by_key[key].values["owner"] = owner_ids[name]
        cleaned = {
            layer: records_validate(LAYERS[layer], extract.records.get(layer, []), report)
            for layer in LAYER_ORDER
        }
        check_rejections(report, skip_invalid=not strict)
        cleaned["addresses"], owners, repeated = addresses_attach(
            cleaned["addresses"], cleaned["buildings"]
        )
        if repeated:
            report.skip("address points repeating their building's address", n=repeated)
        ids: dict[str, dict[str, int]] = {}
        for layer, records in cleaned.items():
            if layer == "addresses":
                for record in records:
                    if record.source_id in owners:
                        record.values["building_id"] = ids["buildings"][owners[record.source_id]]
            ids[layer] = records_write(
                spec=LAYERS[layer], source=source, records=records, report=report
            )
        changed = bus_route_stops_write(
            route_ids=ids["bus_routes"], stop_ids=ids["bus_stops"], route_stops=extract.route_stops
        )
        if changed:
            report.notes.append(f"stops re-ordered on {changed} public transport routes")
        if aliases := street_aliases_refresh():
            report.notes.append(f"{aliases:,} street names in other languages found by search")
    if partial := sum(r.values["partial"] for r in cleaned["bus_routes"]):
        report.notes.append(
            f"{partial} public transport routes are partial: some of their ways are not in the file"
        )
    if not cleaned["districts"]:
        report.notes.append(districts_hint(extract.admin_levels))
    layers_cluster_after_load(report)
    return report


def districts_hint(levels: dict[int, int]) -> str:
    """Why no district came out of an OSM file, and which levels it would take."""
    wanted = ", ".join(map(str, settings.DISTRICT_ADMIN_LEVELS)) or "none"
    if not levels:
        found = "it has no named boundary=administrative at all"
    else:
        found = "it has " + ", ".join(
            f"admin_level {level} ({n:,})" for level, n in sorted(levels.items())
        )
    return (
        f"no districts: DISTRICT_ADMIN_LEVELS is {wanted} and {found}; set "
        "DISTRICT_ADMIN_LEVELS to the level of the city's districts, or derive_layers "
        "makes districts from place=* names"
    )


# --- GeoJSON, GeoPackage, Shapefile, CSV -----------------------------------------------------

# CSV geometry: a WKT column or lon/lat columns under any of these names (GDAL's CSV driver).
CSV_OPEN_OPTIONS = {
    "GEOM_POSSIBLE_NAMES": "wkt,geometry,geom,the_geom",
    "X_POSSIBLE_NAMES": "lon,lng,long,longitude,x",
    "Y_POSSIBLE_NAMES": "lat,latitude,y",
    "KEEP_GEOM_COLUMNS": "NO",
}
ID_COLUMNS = ("source_id", "id", "fid", "objectid")


def read_vector(path: Path, *, srid: int | None, layer_name: str | None = None):
    """A GeoDataFrame in EPSG:4326 from any file GDAL reads; raises ValueError when it can't.

    A file that names its CRS is reprojected from it; ``srid`` declares (or overrides) the CRS of
    a file that names none. A file without a CRS is taken as lon/lat, and rows whose coordinates
    are not lon/lat are rejected row by row as "wrong SRID".
    """
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    options = CSV_OPEN_OPTIONS if path.suffix.lower() == ".csv" else {}
    try:
        frame = geopandas.read_file(path, layer=layer_name, engine="pyogrio", **options)
    except (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        pyogrio.errors.FieldError,
        pyogrio.errors.GeometryError,
    ) as exc:
        raise ValueError(f"cannot read {path.name}: {exc}") from None
    if "geometry" not in frame or frame.geometry.name is None:
        raise ValueError(f"{path.name} has no geometry (CSV needs a WKT column or lon/lat columns)")
    if srid is not None:
        frame = frame.set_crs(srid, allow_override=True)
    elif frame.crs is None:
        frame = frame.set_crs(4326)
    try:
        frame = frame.to_crs(4326)
    except Exception as exc:  # pyproj raises several kinds for unknown or broken CRSs
        raise ValueError(f"cannot reproject {path.name} from {frame.crs}: {exc}") from None
    # The layers' columns are 2D: drop the heights GPS and CAD exports often carry.
    return frame.set_geometry(frame.geometry.force_2d())


def _missing(value: Any) -> bool:
    """Whether a cell is empty: pandas reads empty numbers as NaN and empty dates as NaT."""
    return value is None or (pandas.api.types.is_scalar(value) and bool(pandas.isna(value)))


def _row_key(value: Any) -> str | None:
    """A row's id as text, or None when the cell is empty."""
    if _missing(value):
        return None
    # pandas reads an integer column with gaps as floats: key row 7 as "7", not "7.0".
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def layer_import(
    *,
    layer: str,
    path: Path,
    srid: int | None = None,
    mapping: dict[str, str] | None = None,
    id_column: str | None = None,
    source: str | None = None,
    skip_invalid: bool = False,
    layer_name: str | None = None,
    dayfirst: bool = False,
) -> ImportReport:
    """Import a vector file into one layer, all or nothing, keyed on (source, id column).

    Columns named like the layer's fields are read as they are; ``mapping`` maps field → column
    for the others. A column feeding an organisation (``owner``) holds its name.
    """
    spec = LAYERS.get(layer)
    if spec is None or layer not in importable_layers():
        raise ValueError(f"unknown layer {layer!r}; layers: {', '.join(importable_layers())}")
    fields = {
        name: f
        for name, f in importable_fields(spec.model).items()
        if not isinstance(f, GeometryField)
    }
    mapping = dict(mapping or {})
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        raise ValueError(
            f"--map names unknown field(s) {', '.join(unknown)} of layer {layer}; "
            f"its fields: {', '.join(fields)}"
        )
    frame = read_vector(path, srid=srid, layer_name=layer_name)
    absent = sorted(c for c in mapping.values() if c not in frame.columns)
    if absent:
        raise ValueError(f"{path.name} has no column(s) {', '.join(absent)}")
    if id_column is None:
        id_column = next((c for c in ID_COLUMNS if c in frame.columns), None)
    elif id_column not in frame.columns:
        raise ValueError(f"{path.name} has no id column {id_column!r}")
    columns = {
        name: mapping.get(name, name) for name in fields if mapping.get(name, name) in frame.columns
    }
    org_fields = {
        name
        for name in columns
        if fields[name].is_relation and fields[name].related_model is Organisation
    }

    report = ImportReport()
    if id_column is None:
        report.notes.append("no id column: rows are keyed by their row number")
    with transaction.atomic():
        org_ids = organisations_by_name(
            {str(v) for name in org_fields for v in frame[columns[name]] if not _missing(v)},
            kind=Organisation.Kind.SERVICE,
            note=f"Created on import of {path.name}.",
        )
        records = []
        for position, row in enumerate(frame.itertuples(index=False), 1):
            row = dict(zip(frame.columns, row, strict=True))
            values = {
                name: None if _missing(row[col]) else row[col] for name, col in columns.items()
            }
            for name in org_fields:
                if values[name] is not None:
                    values[name] = org_ids[str(values[name])]
            key = _row_key(row[id_column]) if id_column else None
            shape = row[frame.geometry.name]
            records.append(
                Record(
                    source_id=f"row-{position}" if key is None else key,
                    values=values,
                    geom=None
                    if shape is None or shape.is_empty
                    else GEOSGeometry(memoryview(shape.wkb), srid=4326),
                    label=f"row {position}" + ("" if key is None else f" (id {key})"),
                )
            )
        cleaned = records_validate(spec, records, report, dayfirst=dayfirst)
        check_rejections(report, skip_invalid=skip_invalid)
        records_write(
            spec=spec, source=source or f"file:{path.stem}"[:32], records=cleaned, report=report
        )
        if layer in ("streets", "buildings"):
            street_aliases_refresh()
    layers_cluster_after_load(report)
    return report
