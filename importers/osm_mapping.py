"""How OpenStreetMap tags become citygis objects: the whole mapping in one table.

Each ``Rule`` says which layer an OSM object goes to, for which kind of OSM geometry, when its
tags match, and which fields it fills. The first matching rule per layer wins; an object may
feed several layers (a pitch that is also a building is both).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings

from layers.models import NetworkKind

Tags = Mapping[str, str]

# The city's lighting service, owner of every imported lamp: the appeal categories route "street
# light out" to the same organisation (orders.appeals.categories).
LIGHTING = "Street lighting service (demo)"

# node: a point; line: an open or closed way read as a line; area: a closed way or multipolygon
# relation assembled as an area; any: area when the object is one, else point.
GEOMETRIES = ("node", "line", "area", "any")


@dataclass(frozen=True, slots=True)
class Rule:
    layer: str
    geometry: str
    when: Callable[[Tags], bool]
    fields: Callable[[Tags], dict[str, Any]]
    owner_tag: str | None = None
    """Tag naming the owning organisation (``operator``); resolved to an Organisation."""
    owner: str | None = None
    """The organisation owning every object of the rule that names none by ``owner_tag``."""


# --- tag helpers -----------------------------------------------------------------------------


def has(key: str) -> Callable[[Tags], bool]:
    return lambda t: t.get(key, "no") not in ("no", "")


def tag(key: str, *values: str) -> Callable[[Tags], bool]:
    return lambda t: t.get(key) in values


# The languages a street's name is kept in besides ``name``: those of our cities and English.
NAME_LANGUAGES = ("ru", "kk", "be", "uk", "en")
# Other names a resident may give: the official one, a common one, the one before a renaming.
OTHER_NAME_KEYS = ("alt_name", "official_name", "old_name", "short_name", "loc_name")


def other_names(t: Tags, *, prefix: str, also: tuple[str, ...] = ()) -> dict[str, str]:
    """A name in other languages (``name:ru`` …) and other names (``old_name`` …), by key.

    Every language's name is kept, also when it is the plain one (it says which language that
    is); the other names only when they differ from it. ``old_name=A;B`` keeps both ("A; B").
    """
    plain = t.get(prefix, "").strip()
    names = {}
    for key in (*NAME_LANGUAGES, *also):
        raw = t.get(f"{prefix}:{key}" if key in NAME_LANGUAGES else key, "")
        value = "; ".join(v.strip() for v in raw.split(";") if v.strip())
        if value and (key in NAME_LANGUAGES or value != plain):
            names[key] = value[:255]
    return names


def first_int(value: str | None) -> int | None:
    """The first whole number in a tag value: "5", "5;7", "approx 12" → 5, 5, 12."""
    match = re.search(r"\d+", value or "")
    return int(match.group()) if match else None


def first_float(value: str | None) -> float | None:
    match = re.search(r"\d+(?:[.,]\d+)?", value or "")
    return float(match.group().replace(",", ".")) if match else None


def osm_date(value: str | None) -> date | None:
    """OSM dates: "2014", "2014-06", "2014-06-03" → the first day they can mean."""
    match = re.fullmatch(r"\s*(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?\s*", value or "")
    if not match:
        return None
    year, month, day = match.groups()
    try:
        return date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return None


def year(value: str | None) -> int | None:
    match = re.match(r"\s*(\d{4})", value or "")
    return int(match.group(1)) if match and 1000 < int(match.group(1)) < 2200 else None


# substance=* / type=* of pipelines, to our network kinds.
NETWORK_KIND_BY_SUBSTANCE: dict[str, str] = {
    "water": NetworkKind.WATER,
    "drinking_water": NetworkKind.WATER,
    "hot_water": NetworkKind.HEAT,
    "heat": NetworkKind.HEAT,
    "steam": NetworkKind.HEAT,
    "sewage": NetworkKind.SEWER,
    "wastewater": NetworkKind.SEWER,
    "rainwater": NetworkKind.STORM,
    "stormwater": NetworkKind.STORM,
    "gas": NetworkKind.GAS,
    "natural_gas": NetworkKind.GAS,
}
# utility=* of manholes and cables.
NETWORK_KIND_BY_UTILITY: dict[str, str] = {
    "water": NetworkKind.WATER,
    "heating": NetworkKind.HEAT,
    "sewerage": NetworkKind.SEWER,
    "stormwater": NetworkKind.STORM,
    "gas": NetworkKind.GAS,
    "power": NetworkKind.POWER,
    "telecom": NetworkKind.TELECOM,
    "street_lighting": NetworkKind.POWER,
}
# manhole=* values.
MANHOLE_KIND: dict[str, str] = {
    "sewer": NetworkKind.SEWER,
    "drain": NetworkKind.STORM,
    "water": NetworkKind.WATER,
    "gas": NetworkKind.GAS,
    "telecom": NetworkKind.TELECOM,
    "power": NetworkKind.POWER,
    "heating": NetworkKind.HEAT,
}
# sport=* values that are one kind of field for the operator.
SPORT_KIND: dict[str, str] = {
    "soccer": "football",
    "football": "football",
    "american_football": "american-football",
    "basketball": "basketball",
    "tennis": "tennis",
    "baseball": "baseball",
    "volleyball": "volleyball",
}
STREET_CLASSES = frozenset(
    {
        "motorway",
        "trunk",
        "primary",
        "secondary",
        "tertiary",
        "unclassified",
        "residential",
        "living_street",
        "service",
        "pedestrian",
        "motorway_link",
        "trunk_link",
        "primary_link",
        "secondary_link",
        "tertiary_link",
        "footway",
        "path",
        "cycleway",
        "steps",
        "track",
    }
)
LAND_KIND: dict[tuple[str, str], str] = {
    ("leisure", "park"): "park",
    ("leisure", "garden"): "park",
    ("landuse", "grass"): "grass",
    ("landuse", "recreation_ground"): "park",
    ("landuse", "residential"): "residential",
    ("landuse", "commercial"): "commercial",
    ("landuse", "retail"): "commercial",
    ("landuse", "industrial"): "industrial",
    ("landuse", "railway"): "industrial",
    ("landuse", "cemetery"): "cemetery",
    ("amenity", "grave_yard"): "cemetery",
    ("natural", "water"): "water",
    ("landuse", "basin"): "water",
    ("waterway", "riverbank"): "water",
    ("natural", "wood"): "wood",
    ("landuse", "forest"): "wood",
    ("natural", "scrub"): "wood",
    ("amenity", "parking"): "parking",
    ("amenity", "school"): "school",
    ("amenity", "hospital"): "hospital",
    ("amenity", "university"): "school",
}


def land_kind(t: Tags) -> str | None:
    for (key, value), kind in LAND_KIND.items():
        if t.get(key) == value:
            return kind
    return None


def pipeline_kind(t: Tags) -> str:
    substance = t.get("substance") or t.get("type") or t.get("utility") or ""
    return NETWORK_KIND_BY_SUBSTANCE.get(substance) or NETWORK_KIND_BY_UTILITY.get(
        substance, NetworkKind.OTHER
    )


NETWORK_LOCATIONS = ("underground", "overground", "overhead", "underwater")


def network_location(t: Tags, *, default: str = "") -> str:
    """Where a line runs: ``location=*`` when it is one we know, else ``default`` (unknown)."""
    location = t.get("location", "").strip().lower()
    if location in ("aboveground", "surface"):
        location = "overground"
    return location if location in NETWORK_LOCATIONS else default


def manhole_kind(t: Tags) -> str:
    return MANHOLE_KIND.get(t.get("manhole", "")) or NETWORK_KIND_BY_UTILITY.get(
        t.get("utility", ""), NetworkKind.OTHER
    )


def is_manhole(t: Tags) -> bool:
    return "manhole" in t or t.get("man_made") == "manhole"


def lamp_ref(t: Tags) -> str:
    return (t.get("ref") or t.get("lamp_ref") or "").strip()[:64]


def lamp_kind(t: Tags) -> str:
    return (t.get("lamp_type") or t.get("light:method") or "").strip()[:64]


def is_district(t: Tags) -> bool:
    """A named administrative boundary of a level set as districts (DISTRICT_ADMIN_LEVELS)."""
    return (
        t.get("boundary") == "administrative"
        and bool(t.get("name", "").strip())
        and first_int(t.get("admin_level")) in settings.DISTRICT_ADMIN_LEVELS
    )


# place=* values a derived district is named after (importers.derive).
DISTRICT_PLACES = ("neighbourhood", "suburb", "quarter")


def is_district_place(t: Tags) -> bool:
    return t.get("place") in DISTRICT_PLACES and bool(t.get("name", "").strip())


# The route=* kinds that are public transport routes (TransitKind), in the order a stop serving
# several is named by: a stop with bus=yes and tram=yes is a bus stop.
TRANSIT_KINDS = ("bus", "share_taxi", "trolleybus", "tram", "light_rail", "subway")


def transit_stop_kind(t: Tags) -> str | None:
    """The kind of public transport stop an object is, or None when it is not one.

    A bus stop (``highway=bus_stop``), a tram stop (``railway=tram_stop``), a metro or light
    rail station (``railway=station`` + ``station=subway|light_rail``), or a PTv2 platform or
    stop position that names the kinds it serves (``bus=yes``, ``tram=yes`` …).
    """
    if t.get("highway") == "bus_stop":
        return "bus"
    if t.get("railway") == "tram_stop":
        return "tram"
    if t.get("railway") in ("station", "halt") and t.get("station") in ("subway", "light_rail"):
        return t["station"]
    if t.get("public_transport") in ("platform", "stop_position", "station"):
        return next((k for k in TRANSIT_KINDS if t.get(k) == "yes"), None)
    return None


def is_transit_stop(t: Tags) -> bool:
    return transit_stop_kind(t) is not None


def is_address_node(t: Tags) -> bool:
    """A node with an address of its own that is not a building, or an entrance."""
    if has("building")(t):
        return False
    return bool(t.get("addr:housenumber", "").strip()) or has("entrance")(t)


def is_addressed_area(t: Tags) -> bool:
    """An area with an address that is not a building: a school ground, a park, a plot."""
    return not has("building")(t) and bool(t.get("addr:housenumber", "").strip())


def address_fields(t: Tags, *, kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "name": t.get("name", ""),
        "street": t.get("addr:street", ""),
        "street_names": other_names(t, prefix="addr:street"),
        "housenumber": t.get("addr:housenumber", ""),
        "city": t.get("addr:city", ""),
        "postcode": t.get("addr:postcode", ""),
        "ref": (t.get("ref") or t.get("entrance:ref") or "").strip()[:32],
        "flats": t.get("addr:flats", "").strip()[:64],
    }


# --- the table -------------------------------------------------------------------------------

OSM_MAPPING: tuple[Rule, ...] = (
    Rule(
        "buildings",
        "any",
        has("building"),
        lambda t: {
            "name": t.get("name", ""),
            "street": t.get("addr:street", ""),
            "street_names": other_names(t, prefix="addr:street"),
            "housenumber": t.get("addr:housenumber", ""),
            "city": t.get("addr:city", ""),
            "postcode": t.get("addr:postcode", ""),
            "kind": t.get("building", ""),
            "flats": first_int(t.get("building:flats")),
            "floors": first_int(t.get("building:levels")),
            "height_m": first_float(t.get("height")),
            "year_built": year(t.get("start_date") or t.get("building:year")),
        },
    ),
    Rule(
        "addresses",
        "node",
        is_address_node,
        lambda t: address_fields(t, kind="entrance" if has("entrance")(t) else "point"),
    ),
    Rule("addresses", "area", is_addressed_area, lambda t: address_fields(t, kind="area")),
    Rule(
        "playgrounds",
        "any",
        tag("leisure", "playground"),
        lambda t: {
            "name": t.get("name", ""),
            "surface": t.get("surface", ""),
            "installed_on": osm_date(t.get("start_date")),
        },
    ),
    Rule(
        "sports_fields",
        "any",
        tag("leisure", "pitch"),
        lambda t: {
            "kind": SPORT_KIND.get(t.get("sport", ""), t.get("sport", "")),
            "name": t.get("name", ""),
            "surface": t.get("surface", ""),
            "installed_on": osm_date(t.get("start_date")),
        },
    ),
    Rule(
        "cameras",
        "node",
        tag("man_made", "surveillance"),
        lambda t: {
            "kind": t.get("camera:type") or t.get("surveillance:type") or t.get("surveillance", ""),
            "name": t.get("name", ""),
        },
        owner_tag="operator",
    ),
    Rule(
        "networks",
        "line",
        tag("man_made", "pipeline"),
        lambda t: {
            "kind": pipeline_kind(t),
            "name": t.get("name", ""),
            "location": network_location(t),
            "diameter_mm": first_int(t.get("diameter")),
            "laid_on": osm_date(t.get("start_date")),
        },
        owner_tag="operator",
    ),
    Rule(
        "networks",
        "line",
        tag("power", "line", "minor_line", "cable"),
        lambda t: {
            "kind": NetworkKind.POWER,
            "name": t.get("name", ""),
            "location": network_location(
                t, default="underground" if t.get("power") == "cable" else "overhead"
            ),
            "voltage_v": first_int(t.get("voltage")),
            "laid_on": osm_date(t.get("start_date")),
        },
        owner_tag="operator",
    ),
    Rule(
        "networks",
        "line",
        lambda t: t.get("telecom") == "line" or t.get("communication") == "line",
        lambda t: {
            "kind": NetworkKind.TELECOM,
            "name": t.get("name", ""),
            "location": network_location(t),
        },
        owner_tag="operator",
    ),
    Rule(
        "manholes",
        "node",
        is_manhole,
        lambda t: {
            "kind": manhole_kind(t),
            "depth_m": first_float(t.get("depth")),
        },
    ),
    Rule(
        "street_lights",
        "node",
        tag("highway", "street_lamp"),
        lambda t: {"ref": lamp_ref(t), "kind": lamp_kind(t)},
        # The city's lighting service answers for every lamp ("street light out" appeals go to
        # it), whoever OSM says operates the pole.
        owner=LIGHTING,
    ),
    Rule(
        "districts",
        "area",
        is_district,
        lambda t: {
            "name": t.get("name", "").strip(),
            "admin_level": first_int(t.get("admin_level")),
        },
    ),
    Rule(
        "places",
        "node",
        is_district_place,
        lambda t: {"name": t.get("name", "").strip(), "kind": t.get("place", "")},
    ),
    Rule(
        "bus_stops",
        "node",
        is_transit_stop,
        lambda t: {
            "name": t.get("name", ""),
            "ref": t.get("ref", ""),
            "kind": transit_stop_kind(t),
        },
    ),
    Rule(
        "streets",
        "line",
        lambda t: t.get("highway") in STREET_CLASSES,
        lambda t: {
            "name": t.get("name", ""),
            "names": other_names(t, prefix="name", also=OTHER_NAME_KEYS),
            "kind": t["highway"],
        },
    ),
    Rule(
        "land",
        "area",
        lambda t: land_kind(t) is not None,
        lambda t: {
            "name": t.get("name", ""),
            "kind": land_kind(t),
        },
    ),
)

# route=bus|tram|… relations become public transport routes; their stop and platform members,
# in order, its stops.
STOP_ROLES = frozenset(
    {
        "stop",
        "platform",
        "stop_entry_only",
        "stop_exit_only",
        "platform_entry_only",
        "platform_exit_only",
    }
)
# The ways a route runs on: streets for buses, rails for trams and the metro.
ROUTE_WAY_RAILWAYS = frozenset({"tram", "light_rail", "subway", "rail", "monorail", "narrow_gauge"})


def is_transit_route(t: Tags) -> bool:
    return t.get("type") == "route" and t.get("route") in TRANSIT_KINDS


def is_route_way(t: Tags) -> bool:
    """Whether a way can carry a route: a street or a rail line."""
    return "highway" in t or t.get("railway") in ROUTE_WAY_RAILWAYS


def bus_route_fields(t: Tags) -> dict[str, Any]:
    return {
        "ref": t.get("ref", ""),
        "name": t.get("name", ""),
        "operator": t.get("operator", ""),
        "kind": t["route"],
    }


def rules_for(geometry: str, tags: Tags) -> list[Rule]:
    """The rules an OSM object matches, one per layer (first wins)."""
    matched: dict[str, Rule] = {}
    for rule in OSM_MAPPING:
        if rule.layer in matched:
            continue
        fits = rule.geometry == geometry or (rule.geometry == "any" and geometry != "line")
        if fits and rule.when(tags):
            matched[rule.layer] = rule
    return list(matched.values())
