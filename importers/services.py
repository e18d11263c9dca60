"""Import services: OpenStreetMap files and tabular/vector files into the layers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from django.db import transaction

from importers.osm import Bbox, read_osm
from importers.records import (
    ImportReport,
    check_rejections,
    records_validate,
    records_write,
)
from layers.models import BusRouteStop, Organisation
from layers.registry import LAYERS


# Write order: what others point at first.
LAYER_ORDER = (
    "buildings", "yards", "playgrounds", "sports_fields", "cameras", "networks", "manholes",
    "bus_stops", "bus_routes", "snowplough_routes", "streets", "land",
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
            BusRouteStop.objects.filter(route_id=route_id).order_by("sequence")
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


def osm_import(
    *,
    path: Path,
    bbox: Bbox | None = None,
    skip_invalid: bool = False,
    source: str = "osm",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import an OSM file into every layer of the mapping table, all or nothing."""
    report = ImportReport()
    extract = read_osm(path, bbox=bbox, tick=progress)
    report.read += len(extract.failures)
    report.rejected.extend(extract.failures)
    with transaction.atomic():
        owner_ids = organisations_by_name(
            extract.owners.values(), kind=Organisation.Kind.SERVICE,
            note="Created from the OSM operator tag on import.",
        )
        by_key = {(layer, r.source_id): r for layer, rs in extract.records.items() for r in rs}
        for key, name in extract.owners.items():
            by_key[key].values["owner"] = owner_ids[name]
        cleaned = {
            layer: records_validate(LAYERS[layer], extract.records.get(layer, []), report)
            for layer in LAYER_ORDER
        }
        check_rejections(report, skip_invalid=skip_invalid)
        ids = {
            layer: records_write(spec=LAYERS[layer], source=source, records=records, report=report)
            for layer, records in cleaned.items()
        }
        changed = bus_route_stops_write(
            route_ids=ids["bus_routes"], stop_ids=ids["bus_stops"], route_stops=extract.route_stops
        )
        if changed:
            report.notes.append(f"stops re-ordered on {changed} bus routes")
    return report
