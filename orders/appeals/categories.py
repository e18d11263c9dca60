"""The categories a city starts with: what residents complain about, who fixes it, how fast.

Each category names the registry layer an appeal of its kind is about and the radius within
which the nearest object of that layer is linked; ``sla_hours`` is the norm from receipt to
done. A "street light out" appeal links to the nearest lamp of the ``street_lights`` layer; with
none in range it is flagged for an operator, never linked to a guess. Categories without a layer
(park maintenance, other) are located but not linked, and not flagged for it either.

``categories_load`` creates missing categories and leaves existing ones alone; a change to a seed
that existing databases must pick up comes with a data migration (layers 0007 for the lights).
"""

from __future__ import annotations

from dataclasses import dataclass

from importers.osm_mapping import LIGHTING  # the lamps' owner, as the OSM import sets it

DEMO_NOTE = "Demo organisation created with the appeal categories; not a real body."

WATER = "Water and sewer service (demo)"
ROADS = "Roads and traffic department (demo)"
SANITATION = "Sanitation service (demo)"
HOUSING = "Housing inspections (demo)"
PARKS = "Parks and recreation (demo)"
TRANSIT = "Transit agency (demo)"
POLICE = "Police traffic department (demo)"
ADMINISTRATION = "City administration (demo)"

# The snowplough routes' service, as importers.derive names it (not imported: that module
# pulls in the whole import machinery).
SNOW = "Snow removal service (demo)"

OTHER = "other"


@dataclass(frozen=True, slots=True)
class CategorySeed:
    code: str
    name: str
    group: str
    organisation: str
    layer: str = ""
    link_radius_m: float = 50.0
    sla_hours: float = 72.0
    priority: int = 2
    network_break: bool = False


# fmt: off
# code, name, group, organisation, layer, link radius (m), SLA (h), priority, network break
_ROWS = (
    ("street-light-out", "Street light out",
     "lighting", LIGHTING, "street_lights", 30, 72, 2, False),
    ("pipe-burst", "Pipe burst or water leak", "water", WATER, "networks", 30, 4, 1, True),
    ("no-water", "No water or low pressure", "water", WATER, "networks", 50, 8, 1, True),
    ("sewer-backup", "Sewer backup or water in a basement",
     "water", WATER, "networks", 50, 12, 1, True),
    ("storm-inlet", "Blocked or damaged storm inlet", "water", WATER, "manholes", 30, 72, 2, False),
    ("pothole", "Pothole", "roads", ROADS, "streets", 25, 72, 2, False),
    ("street-repair", "Street, curb or footway damage",
     "roads", ROADS, "streets", 25, 240, 3, False),
    ("traffic-signal", "Traffic signal out", "roads", ROADS, "streets", 40, 8, 1, False),
    ("snow-not-cleared", "Snow or ice not cleared",
     "roads", SNOW, "snowplough_routes", 60, 12, 1, False),
    ("dug-up-yard", "Dug-up yard not restored",
     "yards", ADMINISTRATION, "yards", 30, 120, 2, False),
    ("playground-broken", "Broken playground equipment",
     "parks", PARKS, "playgrounds", 50, 72, 2, False),
    ("park-maintenance", "Park or tree maintenance", "parks", PARKS, "", 0, 168, 3, False),
    ("bus-stop-damaged", "Damaged bus stop", "transit", TRANSIT, "bus_stops", 40, 72, 2, False),
    ("street-cleaning", "Dirty street or alley",
     "sanitation", SANITATION, "streets", 30, 96, 3, False),
    ("trash-collection", "Trash, bulk or recycling collection",
     "sanitation", SANITATION, "buildings", 30, 240, 3, False),
    ("rats", "Rats and rodents", "sanitation", SANITATION, "buildings", 30, 240, 3, False),
    ("illegal-dumping", "Illegal dumping", "sanitation", SANITATION, "yards", 50, 120, 2, False),
    ("graffiti", "Graffiti", "sanitation", SANITATION, "buildings", 30, 168, 3, False),
    ("property-sanitation", "Sanitation violation on a property",
     "housing", HOUSING, "buildings", 30, 240, 3, False),
    ("vacant-building", "Vacant or unsafe building",
     "housing", HOUSING, "buildings", 30, 720, 3, False),
    ("parking", "Parking complaint or abandoned vehicle",
     "parking", POLICE, "streets", 30, 48, 3, False),
    ("other", "Other", "other", ADMINISTRATION, "", 0, 168, 3, False),
)
# fmt: on
CATEGORIES: tuple[CategorySeed, ...] = tuple(CategorySeed(*row) for row in _ROWS)
