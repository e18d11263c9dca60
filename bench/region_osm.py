"""Write a synthetic OSM extract for the import-speed row of bench/region.sh.

    .venv/bin/python bench/region_osm.py OUT.osm.pbf [--buildings 100000]

The region's city as OpenStreetMap would hold it: BUILDINGS square houses of 12 × 12 m on a
grid, 20 to a block along a named street (``highway=residential``, one way of 21 nodes per
block side), each with ``building``, ``addr:street``, ``addr:housenumber``, ``building:levels``
and, for the apartment blocks, ``building:flats``. Deterministic: the same file every run
(pyosmium's SimpleWriter, nodes first, then ways, ids ascending, as an extract is sorted).
"""

from __future__ import annotations

import argparse
import math

import osmium
from osmium.osm.mutable import Node, Way

LON0, LAT0 = 69.05, 54.80
MX = 111_320.0 * math.cos(math.radians(LAT0))
MY = 111_320.0
STREETS = ("улица Абая", "улица Мира", "улица Жамбыла", "улица Пушкина", "улица Победы")
PER_BLOCK, STEP, SIDE = 20, 30.0, 12.0
"""Houses along a block side, metres between them, a house's side in metres."""


def write(path: str, buildings: int) -> tuple[int, int]:
    blocks = math.ceil(buildings / PER_BLOCK)
    across = math.ceil(math.sqrt(blocks))

    def lonlat(x: float, y: float) -> tuple[float, float]:
        return (LON0 + x / MX, LAT0 + y / MY)

    nodes: list[Node] = []
    ways: list[Way] = []
    node_id = way_id = 0
    for block in range(blocks):
        bx, by = (block % across) * PER_BLOCK * STEP, (block // across) * 60.0
        street = f"{STREETS[block % len(STREETS)]} {block // len(STREETS) + 1}-я"
        refs = []
        for k in range(PER_BLOCK + 1):
            node_id += 1
            nodes.append(Node(id=node_id, location=lonlat(bx + k * STEP, by)))
            refs.append(node_id)
        way_id += 1
        ways.append(Way(id=way_id, nodes=refs, tags={"highway": "residential", "name": street}))
        for k in range(min(PER_BLOCK, buildings - block * PER_BLOCK)):
            x0, y0 = bx + k * STEP + 4, by + 6
            corners = []
            for dx, dy in ((0, 0), (SIDE, 0), (SIDE, SIDE), (0, SIDE)):
                node_id += 1
                nodes.append(Node(id=node_id, location=lonlat(x0 + dx, y0 + dy)))
                corners.append(node_id)
            apartments = k % 5 == 0
            tags = {
                "building": "apartments" if apartments else "house",
                "addr:street": street,
                "addr:housenumber": str(2 * k + 1),
                "building:levels": "9" if apartments else "1",
            }
            if apartments:
                tags["building:flats"] = "72"
            way_id += 1
            ways.append(Way(id=way_id, nodes=[*corners, corners[0]], tags=tags))
    writer = osmium.SimpleWriter(path, overwrite=True)
    try:
        for node in nodes:
            writer.add_node(node)
        for way in ways:
            writer.add_way(way)
    finally:
        writer.close()
    return len(nodes), len(ways)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--buildings", type=int, default=100_000)
    args = parser.parse_args()
    nodes, ways = write(args.out, args.buildings)
    print(f"region_osm: {args.out}: {nodes:,} nodes, {ways:,} ways ({args.buildings:,} buildings)")


if __name__ == "__main__":
    main()
