"""Reading an OSM file (.osm.pbf or .osm) in one pass into records for every layer.

pyosmium assembles areas (closed ways and multipolygon relations) and node locations; bus route
relations are built from the geometries of their member ways, kept from the same pass.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import osmium
from django.contrib.gis.geos import GEOSGeometry, MultiLineString
from shapely import box
from shapely import wkb as shapely_wkb

from gis.spatial import Bbox
from importers.osm_mapping import (
    BUS_ROUTE_TAGS,
    STOP_ROLES,
    Rule,
    bus_route_fields,
    rules_for,
)
from importers.records import Record, Rejection


@dataclass
class OsmExtract:
    records: dict[str, list[Record]] = field(default_factory=lambda: defaultdict(list))
    owners: dict[tuple[str, str], str] = field(default_factory=dict)
    """(layer, source_id) → name of the owning organisation (OSM ``operator``, or the rule's)."""
    route_stops: dict[str, list[str]] = field(default_factory=dict)
    """Bus route source_id → its stops' source_ids, in the relation's order."""
    failures: list[Rejection] = field(default_factory=list)
    objects_seen: int = 0


def read_osm(
    path: Path, *, bbox: Bbox | None = None, tick: Callable[[int], None] | None = None
) -> OsmExtract:
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    factory = osmium.geom.WKBFactory()
    clip = box(*bbox) if bbox else None
    out = OsmExtract()
    # Geometries of street ways, kept for the bus route relations that come after them.
    route_ways: dict[int, str] = {}
    routes: list[tuple[int, dict[str, str], list[tuple[str, int, str]]]] = []

    def add(rules: list[Rule], source_id: str, tags: dict[str, str], wkb_hex: str) -> None:
        if clip is not None and not clip.intersects(shapely_wkb.loads(wkb_hex, hex=True)):
            return
        geom = GEOSGeometry(wkb_hex, srid=4326)
        for rule in rules:
            out.records[rule.layer].append(
                Record(
                    source_id=source_id,
                    values=rule.fields(tags),
                    geom=geom.clone(),
                    label=f"osm {source_id}",
                )
            )
            owner = (rule.owner_tag and tags.get(rule.owner_tag)) or rule.owner
            if owner:
                out.owners[(rule.layer, source_id)] = owner.strip()[:255]

    processor = osmium.FileProcessor(str(path)).with_areas()
    for n, obj in enumerate(processor, 1):
        if tick and n % 5000 == 0:
            tick(5000)
        out.objects_seen = n
        if not obj.tags:
            continue
        tags = {t.k: t.v for t in obj.tags}
        if obj.is_node():
            rules = rules_for("node", tags)
            if rules:
                add(rules, f"n{obj.id}", tags, factory.create_point(obj))
        elif obj.is_way():
            rules = rules_for("line", tags)
            if not rules and "highway" not in tags:
                continue
            try:
                wkb_hex = factory.create_linestring(obj)
            except RuntimeError as exc:
                if rules:
                    out.failures.append(Rejection(rules[0].layer, f"osm w{obj.id}", str(exc)))
                continue
            if "highway" in tags:
                route_ways[obj.id] = wkb_hex
            if rules:
                add(rules, f"w{obj.id}", tags, wkb_hex)
        elif obj.is_area():
            rules = rules_for("area", tags)
            if not rules:
                continue
            source_id = f"{'w' if obj.from_way() else 'r'}{obj.orig_id()}"
            try:
                wkb_hex = factory.create_multipolygon(obj)
            except RuntimeError as exc:
                out.failures.append(
                    Rejection(
                        rules[0].layer, f"osm {source_id}", f"area could not be assembled: {exc}"
                    )
                )
                continue
            add(rules, source_id, tags, wkb_hex)
        elif obj.is_relation() and all(tags.get(k) == v for k, v in BUS_ROUTE_TAGS.items()):
            # Files need not list ways before relations (osmconvert writes them after), so
            # routes are assembled once the whole file has been read.
            routes.append((obj.id, tags, [(m.type, m.ref, m.role) for m in obj.members]))
    for relation_id, tags, members in routes:
        source_id = f"r{relation_id}"
        lines = [route_ways[ref] for kind, ref, _ in members if kind == "w" and ref in route_ways]
        if not lines:
            out.failures.append(
                Rejection("bus_routes", f"osm {source_id}", "none of its ways is in the extract")
            )
            continue
        geom = MultiLineString([GEOSGeometry(h, srid=4326) for h in lines], srid=4326)
        if clip is not None and not clip.intersects(shapely_wkb.loads(bytes(geom.wkb))):
            continue
        out.records["bus_routes"].append(
            Record(
                source_id=source_id,
                values=bus_route_fields(tags),
                geom=geom,
                label=f"osm {source_id}",
            )
        )
        out.route_stops[source_id] = [
            f"n{ref}" for kind, ref, role in members if kind == "n" and role in STOP_ROLES
        ]
    return out
