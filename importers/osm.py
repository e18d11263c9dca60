"""Reading an OSM file (.osm.pbf or .osm) in one pass into records for every layer.

pyosmium assembles areas (closed ways and multipolygon relations) and node locations; public
transport route relations are built from the geometries of their member ways, kept from the
same pass.

A standard openstreetmap.org export holds every relation that touches its bounds, with only the
members inside them. What cannot be built from such a file (a multipolygon missing a ring, a
route none of whose ways is in it) is listed in ``incomplete``; a route missing some of its
ways is built from the others and marked ``partial``; relations of kinds no layer takes (a
train route, a hiking route) are counted in ``skipped``. Nothing is left out silently.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import osmium
from django.contrib.gis.geos import GEOSGeometry, MultiLineString
from shapely import box
from shapely import wkb as shapely_wkb

from gis.spatial import Bbox
from importers.osm_mapping import (
    STOP_ROLES,
    Rule,
    bus_route_fields,
    first_int,
    is_route_way,
    is_transit_route,
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
    """Objects a layer takes that could not be built (a broken way, an area that won't close)."""
    incomplete: list[Rejection] = field(default_factory=list)
    """Relations a layer takes whose members are not all in the file, so none could be built."""
    skipped: Counter[str] = field(default_factory=Counter)
    """Relations of kinds no layer takes, by kind ("train routes")."""
    admin_levels: Counter[int] = field(default_factory=Counter)
    """Named ``boundary=administrative`` objects by ``admin_level``: what districts could be."""
    objects_seen: int = 0


def _incomplete_label(layer: str, tags: dict[str, str]) -> str:
    return "boundaries" if tags.get("type") == "boundary" or layer == "districts" else layer


def _skipped_kind(tags: dict[str, str]) -> str | None:
    """How the summary names a relation no layer takes, or None for one it does not count."""
    kind = tags.get("type")
    if kind == "route":
        return f"{tags.get('route') or 'untyped'} routes"
    if kind == "route_master":
        return f"{tags.get('route_master') or 'untyped'} route masters"
    return None


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

    # Relations an area rule takes, by id: those that no area comes out of were incomplete.
    area_relations: dict[int, tuple[str, dict[str, str]]] = {}
    assembled: set[int] = set()
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
            route_way = is_route_way(tags)
            if not rules and not route_way:
                continue
            try:
                wkb_hex = factory.create_linestring(obj)
            except RuntimeError as exc:
                if rules:
                    out.failures.append(Rejection(rules[0].layer, f"osm w{obj.id}", str(exc)))
                continue
            if route_way:
                route_ways[obj.id] = wkb_hex
            if rules:
                add(rules, f"w{obj.id}", tags, wkb_hex)
        elif obj.is_area():
            rules = rules_for("area", tags)
            if not rules:
                continue
            source_id = f"{'w' if obj.from_way() else 'r'}{obj.orig_id()}"
            if not obj.from_way():
                assembled.add(obj.orig_id())
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
        elif obj.is_relation():
            if is_transit_route(tags):
                # Files need not list ways before relations (osmconvert writes them after), so
                # routes are assembled once the whole file has been read.
                routes.append((obj.id, tags, [(m.type, m.ref, m.role) for m in obj.members]))
            elif tags.get("type") in ("multipolygon", "boundary") and (
                rules := rules_for("area", tags)
            ):
                area_relations[obj.id] = (rules[0].layer, tags)
            elif kind := _skipped_kind(tags):
                out.skipped[kind] += 1
        if tags.get("boundary") == "administrative" and tags.get("name", "").strip():
            if (level := first_int(tags.get("admin_level"))) is not None and not obj.is_area():
                out.admin_levels[level] += 1
    for relation_id, (layer, tags) in area_relations.items():
        if relation_id in assembled:
            continue
        out.incomplete.append(
            Rejection(
                _incomplete_label(layer, tags),
                f"osm r{relation_id}",
                "multipolygon could not be assembled: members outside the file",
            )
        )
    for relation_id, tags, members in routes:
        source_id = f"r{relation_id}"
        ways = [ref for kind, ref, _ in members if kind == "w"]
        lines = [route_ways[ref] for ref in ways if ref in route_ways]
        if not lines:
            out.incomplete.append(
                Rejection(
                    f"{tags['route'].replace('_', ' ')} routes",
                    f"osm {source_id}",
                    "none of its ways is in the file",
                )
            )
            continue
        geom = MultiLineString([GEOSGeometry(h, srid=4326) for h in lines], srid=4326)
        if clip is not None and not clip.intersects(shapely_wkb.loads(bytes(geom.wkb))):
            continue
        values = bus_route_fields(tags)
        values["partial"] = len(lines) < len(ways)
        out.records["bus_routes"].append(
            Record(source_id=source_id, values=values, geom=geom, label=f"osm {source_id}")
        )
        out.route_stops[source_id] = [
            f"n{ref}" for kind, ref, role in members if kind == "n" and role in STOP_ROLES
        ]
    return out
