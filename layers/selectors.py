"""Reading the city by space: an object's card, what is near a point, inside an area, along a route.

Every function takes the viewer and goes through the registry (``get_layer``, ``queryset_for``,
``properties_for`` via layers.geojson), so a role sees here exactly what it sees on tiles.

Distances are geodesic metres (``::geography``). The index does the first cut: a ``&&`` against a
box grown by the radius in degrees (generous toward the poles), then the exact distance decides.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypedDict

import orjson
import shapely
from django.conf import settings
from django.contrib.gis.db.models import Extent as ExtentOf
from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.db.models.functions import GeoFunc
from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException, GEOSGeometry
from django.db import DEFAULT_DB_ALIAS, models
from django.db.models import Case, F, FloatField, Func, OuterRef, Subquery, Value, When
from django.db.models.functions import JSONObject
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from psycopg import sql
from pyproj import Geod

from gis.exceptions import BadInput, BadQuery, NotFound
from gis.prepared import prepared_rows
from gis.replica import replica_read
from gis.roles import Viewer
from layers.geojson import feature, related_fields, with_geojson
from layers.models import District
from layers.registry import LAYERS, LayerSpec, get_layer, layers_for
from layers.sql import QUERY_POINT, column, label_expression, property_expression, scope_column

METRES_PER_DEGREE = 111_320.0
MAX_RADIUS_M = 5_000.0
MAX_RESULTS = 500
MAX_WITHIN_VERTICES = 10_000
MAX_WITHIN_AREA_M2 = 25_000_000.0  # 25 km²: a district, not the whole city at once
MAX_BUFFER_M = 500.0
WGS84 = Geod(ellps="WGS84")


class GeodesicDistance(GeoFunc):
    """ST_Distance of the two geometries cast to geography: metres on the spheroid."""

    function = "ST_Distance"
    geom_param_pos = (0, 1)
    arg_joiner = "::geography, "
    template = "%(function)s(%(expressions)s::geography)"
    output_field = FloatField()


def degrees_for(metres: float, lat: float) -> float:
    """A radius in degrees that covers ``metres`` in every direction at this latitude."""
    shrink = max(math.cos(math.radians(min(abs(lat), 89.0))), 0.01)
    return metres / METRES_PER_DEGREE / shrink


# --- shaping results -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hit:
    spec: LayerSpec
    obj: models.Model
    distance_m: float | None


def hit_json(hit: Hit, viewer: Viewer, *, geometry: bool = True) -> dict[str, Any]:
    """A found object as a Feature; without its geometry, a point on it stands in."""
    item = feature(hit.spec, hit.obj, viewer)
    if not geometry:
        point = getattr(hit.obj, hit.spec.geometry_field.name).point_on_surface
        item["geometry"] = {"type": "Point", "coordinates": [point.x, point.y]}
    item["properties"]["label"] = str(hit.obj)
    if hit.distance_m is not None:
        item["properties"]["distance_m"] = round(hit.distance_m, 1)
    return item


def _visible(viewer: Viewer, names: Iterable[str] | None) -> list[LayerSpec]:
    """The layers asked for (or all the viewer may see): 401/403/404 for the ones it may not."""
    if names is None:
        return layers_for(viewer)
    return [get_layer(name, viewer) for name in names]


def _near(
    spec: LayerSpec, viewer: Viewer, geom: GEOSGeometry, metres: float
) -> models.QuerySet[Any]:
    """Rows within ``metres`` of ``geom`` (geodesic), nearest first, with ``distance_m``."""
    geom_name = spec.geometry_field.name
    lat = geom.centroid.y
    qs: models.QuerySet[Any] = (
        spec.queryset_for(viewer)
        .select_related(*related_fields(spec, viewer))
        .filter(**{f"{geom_name}__dwithin": (geom, degrees_for(metres, lat))})
        .annotate(distance_m=GeodesicDistance(geom_name, geom))
        .filter(distance_m__lte=metres)
    )
    return qs.order_by("distance_m", "pk")


# --- the district an object is in ------------------------------------------------------------

# Where districts overlap (a derived one left beside a real one until derive_layers runs again,
# admin levels 9 and 10 both imported), the one that counts: surveyed before derived, then the
# coarsest level (a district before its sub-districts), then the oldest row. The same rule in SQL
# keeps appeals' stored district (orders/appeals/district_sql.py): change both together.
DISTRICT_ORDER = (
    Case(When(source="derived", then=Value(1)), default=Value(0)),
    F("admin_level").asc(nulls_last=True),
    "pk",
)


def _districts_covering(point: Any) -> models.QuerySet[District]:
    # ST_Covers (not Within) so that a point on a shared border still finds a district; it is
    # index-aware, so each lookup is a GiST probe of the districts, never a scan.
    return District.objects.filter(geom__covers=point).order_by(*DISTRICT_ORDER)


class DistrictRef(TypedDict):
    id: int
    name: str


def district_of(geom: GEOSGeometry | None) -> DistrictRef | None:
    """The district (``{"id", "name"}``) a point on the geometry lies in; None outside all."""
    if geom is None or geom.empty:
        return None
    point = geom.point_on_surface
    point.srid = geom.srid
    return _districts_covering(point).values("id", "name").first()


# --- the city's bounds --------------------------------------------------------------------------

CITY_MARGIN_M = 2_000.0
"""How far outside its districts' extent a place still counts as the city's: a district border
drawn along the river, a suburb the city serves."""

Extent = tuple[float, float, float, float]


CITY_EXTENT_TTL_S = 60.0
_city_extent: list[tuple[float, Extent | None]] = []


def city_extent() -> Extent | None:
    """The city's bounds, lon/lat (west, south, east, north); None when it has none yet.

    ``CITY_BBOX`` when it is set, else the districts' extent grown by CITY_MARGIN_M, read at
    most once a minute per process: every appeal is checked against it, and districts change
    only with an import.
    """
    if settings.CITY_BBOX:
        return settings.CITY_BBOX
    now = time.monotonic()
    if _city_extent and _city_extent[0][0] > now:
        return _city_extent[0][1]
    box = District.objects.aggregate(box=ExtentOf("geom"))["box"]
    extent = None
    if box is not None:
        west, south, east, north = box
        dlat = CITY_MARGIN_M / METRES_PER_DEGREE
        dlon = degrees_for(CITY_MARGIN_M, max(abs(south), abs(north)))
        extent = (west - dlon, south - dlat, east + dlon, north + dlat)
    _city_extent[:] = [(now + CITY_EXTENT_TTL_S, extent)]
    return extent


def forget_city_extent() -> None:
    """Read the city's bounds again next time (after an import of districts, between tests)."""
    _city_extent.clear()


def city_check(geom: GEOSGeometry | None, *, field: str, what: str) -> None:
    """400 naming ``field`` when ``geom`` lies outside the city's bounds (``city_extent``).

    A city with no bounds yet (no districts, no CITY_BBOX) takes any place.
    """
    if geom is None or geom.empty:
        return
    bounds = city_extent()
    if bounds is None:
        return
    west, south, east, north = bounds
    xmin, ymin, xmax, ymax = geom.extent
    if not (west <= xmin and xmax <= east and south <= ymin and ymax <= north):
        raise BadInput(
            _(
                "%(what)s is outside the city (%(west)s,%(south)s to "
                "%(east)s,%(north)s): check the coordinates (lon/lat, EPSG:4326)."
            )
            % {
                "what": what,
                "west": format(west, ".4f"),
                "south": format(south, ".4f"),
                "east": format(east, ".4f"),
                "north": format(north, ".4f"),
            },
            extra={"fields": {field: ["Outside the city."]}},
        )


def with_district(qs: models.QuerySet[Any], *, geom_field: str = "geom") -> models.QuerySet[Any]:
    """Rows annotated with ``district``: ``{"id", "name"}`` of the district they lie in, or None.

    One correlated subquery per row on a point on the row's geometry (a point on surface: inside
    an area, on a line), so an object straddling a border belongs to exactly one district.
    """
    # A plain Func: GeoFunc (PointOnSurface) cannot read the SRID of an OuterRef.
    point = Func(OuterRef(geom_field), function="ST_PointOnSurface", output_field=GeometryField())
    covering = _districts_covering(point)
    annotated: models.QuerySet[Any] = qs.annotate(
        district=Subquery(covering.values(ref=JSONObject(id="pk", name="name"))[:1])
    )
    return annotated


# --- the object card -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Relation:
    """What the card shows next to an object: rows of ``layer`` within ``metres`` of it."""

    layer: str
    metres: float
    title: str | Promise
    limit: int = 20
    same_street: bool = False
    """Keep rows named like the object's street (a snowplough route serving it)."""


# The card's relations per layer; "*" applies to every layer. Order is the order shown.
CARD_RELATIONS: dict[str, tuple[Relation, ...]] = {
    "buildings": (
        Relation("addresses", 0, gettext_lazy("Entrances and other addresses"), 30),
        Relation("yards", 40, gettext_lazy("Yard")),
        Relation("playgrounds", 150, gettext_lazy("Playgrounds nearby")),
        Relation("sports_fields", 150, gettext_lazy("Sports fields nearby")),
        Relation("networks", 15, gettext_lazy("Networks under and beside it")),
        Relation("manholes", 25, gettext_lazy("Manholes beside it")),
        Relation(
            "snowplough_routes", 60, gettext_lazy("Snowplough route serving its street"), 3, True
        ),
    ),
    "yards": (
        Relation("buildings", 25, gettext_lazy("Buildings around it"), 50),
        Relation("playgrounds", 0, gettext_lazy("Playgrounds in it")),
        Relation("sports_fields", 0, gettext_lazy("Sports fields in it")),
        Relation("networks", 0, gettext_lazy("Networks crossing it")),
        Relation("manholes", 0, gettext_lazy("Manholes in it"), 50),
    ),
    "playgrounds": (
        Relation("yards", 10, gettext_lazy("Yard")),
        Relation("buildings", 60, gettext_lazy("Buildings nearby")),
    ),
    "sports_fields": (
        Relation("yards", 10, gettext_lazy("Yard")),
        Relation("buildings", 60, gettext_lazy("Buildings nearby")),
    ),
    "networks": (
        Relation("manholes", 5, gettext_lazy("Manholes on it"), 50),
        Relation("yards", 0, gettext_lazy("Yards it crosses")),
        Relation("buildings", 10, gettext_lazy("Buildings beside it"), 50),
    ),
    "manholes": (
        Relation("networks", 5, gettext_lazy("Network")),
        Relation("yards", 0, gettext_lazy("Yard")),
    ),
    "*": (
        Relation("bus_stops", 300, gettext_lazy("Stops within 300 m"), 10),
        Relation("bus_routes", 300, gettext_lazy("Public transport routes within 300 m"), 30),
        Relation("permits", 0, gettext_lazy("Excavation permits on it")),
    ),
}


# Entries other apps add to every card, not found by distance: (layer, object, viewer) →
# (key, entry) or None. orders.appeals adds the appeals linked to the object (its AppConfig).
CardHook = Callable[[LayerSpec, models.Model, Viewer], tuple[str, dict[str, Any]] | None]
CARD_HOOKS: list[CardHook] = []


def _street_matches(obj: models.Model, hits: list[Hit]) -> list[Hit]:
    street = (getattr(obj, "street", "") or "").strip().lower()
    if not street:
        return hits[:1]
    named = [h for h in hits if getattr(h.obj, "name", "").strip().lower() == street]
    return named or hits[:1]


def object_card(*, layer: str, pk: int, viewer: Viewer) -> dict[str, Any]:
    """An object's attributes for this viewer, and what lies around it that an operator needs."""
    spec = get_layer(layer, viewer)
    rows = spec.queryset_for(viewer).select_related(*related_fields(spec, viewer))
    obj = rows.filter(pk=pk).first()
    if obj is None:
        raise NotFound(_("No %(name)s object %(pk)s.") % {"name": spec.name, "pk": pk})
    geom = getattr(obj, spec.geometry_field.name)
    related: dict[str, dict[str, Any]] = {}
    # An object without a place (an appeal not yet located) has no neighbours, only its links.
    relations = CARD_RELATIONS.get(spec.name, ()) + CARD_RELATIONS["*"] if geom else ()
    for relation in relations:
        other = LAYERS[relation.layer]
        if not other.visible_to(viewer):
            continue
        rows = _near(other, viewer, geom, relation.metres)
        if other is spec:
            rows = rows.exclude(pk=obj.pk)
        hits = [Hit(other, row, row.distance_m) for row in rows[: relation.limit * 3]]
        if relation.same_street:
            hits = _street_matches(obj, hits)
        related[relation.layer] = {
            "title": str(relation.title),
            "within_m": relation.metres,
            # Related objects travel as points: a bus route's whole line has no place on a card.
            "features": [hit_json(h, viewer, geometry=False) for h in hits[: relation.limit]],
        }
    for hook in CARD_HOOKS:
        entry = hook(spec, obj, viewer)
        if entry is not None:
            related[entry[0]] = entry[1]
    in_district = spec.name != "districts" and LAYERS["districts"].visible_to(viewer)
    return {
        "layer": spec.name,
        "title": str(spec.title),
        "feature": feature(spec, obj, viewer),
        "label": str(obj),
        "district": district_of(geom) if in_district else None,
        "related": related,
    }


# --- nearby, within, along -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NearbyPlan:
    """What ``objects_nearby`` runs: one statement over every asked layer, and its values."""

    statement: str
    params: dict[str, Any]


@lru_cache(maxsize=256)
def nearby_statement(layers: tuple[tuple[str, tuple[str, ...], bool], ...]) -> str:
    """The nearest rows of each layer within the radius, merged nearest first, as GeoJSON.

    ``layers`` holds (name, the viewer's properties, scoped to ``%(organisation)s``). Per layer,
    KNN ``<->`` on the GiST index picks ``%(candidates)s`` rows inside a box of the radius in
    degrees; their geodesic distance then filters and orders them. Only the ``%(limit)s`` rows
    kept become Features, built whole in PostgreSQL: properties as the card shows them (foreign
    keys as names), the label as the model's ``__str__`` (the registry's ``label``), the distance
    in metres. One row, one column: the FeatureCollection as JSON text, which the ASGI front sends
    as it is (PostgreSQL's spacing: ``{"type" : "Feature", …}``).
    """
    candidates, features = [], []
    for name, properties, scoped in layers:
        spec = LAYERS[name]
        geom = sql.Identifier(column(spec.geometry_field))
        table = sql.Identifier(spec.model._meta.db_table)
        where = [sql.SQL("ST_DWithin(t.{}, {}, %(degrees)s)").format(geom, QUERY_POINT)]
        if scoped:
            scope = sql.Identifier(scope_column(spec))
            where.append(sql.SQL("t.{} = %(organisation)s").format(scope))
        candidates.append(
            sql.SQL(
                "(SELECT {name}::text AS layer, t.id, "
                "ST_Distance(t.{geom}::geography, {point}::geography) AS distance_m "
                "FROM {table} t WHERE {where} "
                "ORDER BY t.{geom} <-> {point} LIMIT %(candidates)s)"
            ).format(
                name=sql.Literal(name),
                geom=geom,
                point=QUERY_POINT,
                table=table,
                where=sql.SQL(" AND ").join(where),
            )
        )
        pairs = [
            sql.SQL("'layer', h.layer"),
            *(
                sql.SQL("{}, {}").format(
                    sql.Literal(prop), property_expression(spec, prop, empty_as_null=False)
                )
                for prop in properties
            ),
            sql.SQL("'label', {}").format(label_expression(spec)),
            sql.SQL("'distance_m', round(h.distance_m::numeric, 1)"),
        ]
        features.append(
            sql.SQL(
                "SELECT h.layer, h.id, h.distance_m, json_build_object("
                "'type', 'Feature', 'id', t.id, 'geometry', ST_AsGeoJSON(t.{geom}, 8, 0)::json, "
                "'properties', json_build_object({pairs})) AS feature "
                "FROM hits h JOIN {table} t ON t.id = h.id WHERE h.layer = {name}"
            ).format(
                name=sql.Literal(name), geom=geom, pairs=sql.SQL(", ").join(pairs), table=table
            )
        )
    return (
        sql.SQL(
            "WITH hits AS (SELECT * FROM ({candidates}) near WHERE distance_m <= %(radius)s "
            "ORDER BY distance_m, layer, id LIMIT %(limit)s) "
            "SELECT json_build_object('type', 'FeatureCollection', 'features', "
            "coalesce(json_agg(f.feature ORDER BY f.distance_m, f.layer, f.id), '[]'))::text "
            "FROM ({features}) f"
        )
        .format(
            candidates=sql.SQL(" UNION ALL ").join(candidates),
            features=sql.SQL(" UNION ALL ").join(features),
        )
        .as_string()
    )


def nearby_plan(
    *,
    lon: float,
    lat: float,
    radius_m: float,
    viewer: Viewer,
    layers: list[str] | None = None,
    limit: int = 20,
) -> NearbyPlan:
    """Check a nearby query and compose its statement: 400 for bad values, 401/403/404 layers."""
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadQuery(_("lon must be within -180…180 and lat within -90…90."))
    if not 0 < radius_m <= MAX_RADIUS_M:
        raise BadQuery(
            _("radius must be more than 0 and at most %(max_radius_m)s m.")
            % {"max_radius_m": format(MAX_RADIUS_M, "g")}
        )
    if not 1 <= limit <= MAX_RESULTS:
        raise BadQuery(
            _("limit must be between 1 and %(max_results)s.") % {"max_results": MAX_RESULTS}
        )
    specs = {spec.name: spec for spec in _visible(viewer, layers)}
    statement = nearby_statement(
        tuple(
            (spec.name, spec.properties_for(viewer), spec.is_scoped_for(viewer))
            for spec in specs.values()
        )
    )
    params = {
        "lon": lon,
        "lat": lat,
        "degrees": degrees_for(radius_m, lat),
        "radius": radius_m,
        "candidates": limit * 2,
        "limit": limit,
        "organisation": viewer.organisation_id,
    }
    return NearbyPlan(statement=statement, params=params)


def nearby_json(rows: Sequence[tuple[Any, ...]]) -> str:
    """The FeatureCollection of a nearby statement's one row, as JSON text."""
    text: str = rows[0][0]
    return text


@replica_read
def objects_nearby(
    *,
    lon: float,
    lat: float,
    radius_m: float,
    viewer: Viewer,
    layers: list[str] | None = None,
    limit: int = 20,
    using: str = DEFAULT_DB_ALIAS,
) -> dict[str, Any]:
    """The objects nearest a point within a radius, nearest first: a GeoJSON FeatureCollection.

    Read on the replica when it may serve (gis.replica).
    """
    plan = nearby_plan(
        lon=lon, lat=lat, radius_m=radius_m, viewer=viewer, layers=layers, limit=limit
    )
    collection: dict[str, Any] = orjson.loads(
        nearby_json(prepared_rows(plan.statement, plan.params, using=using))
    )
    return collection


def area_from_geojson(data: Any) -> GEOSGeometry:
    """A search area from GeoJSON (a geometry, a Feature, or a one-feature collection).

    400 with the reason when it is not a valid lon/lat polygon of sensible size.
    """
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        features = data.get("features") or []
        if len(features) != 1:
            raise BadQuery(_("Send one polygon: a geometry, a Feature, or a collection of one."))
        data = features[0]
    if isinstance(data, dict) and data.get("type") == "Feature":
        data = data.get("geometry")
    if not isinstance(data, dict) or data.get("type") not in ("Polygon", "MultiPolygon"):
        raise BadQuery(_("The area must be a GeoJSON Polygon or MultiPolygon."))
    if not isinstance(data.get("coordinates"), list) or not data["coordinates"]:
        raise BadQuery(_("The polygon has no coordinates: give its rings as lists of [lon, lat]."))
    try:
        area = GEOSGeometry(json.dumps(data, allow_nan=False))
    except (GEOSException, GDALException, ValueError, TypeError) as exc:
        raise BadQuery(_("Not readable GeoJSON: %(exc)s") % {"exc": exc}) from None
    if area.empty:
        raise BadQuery(_("The polygon is empty."))
    area.srid = 4326  # RFC 7946: GeoJSON is always WGS 84 lon/lat
    if area.num_coords > MAX_WITHIN_VERTICES:
        raise BadQuery(
            _("The polygon has %(num_coords)s vertices; at most %(max_within_vertices)s.")
            % {"num_coords": area.num_coords, "max_within_vertices": MAX_WITHIN_VERTICES}
        )
    xmin, ymin, xmax, ymax = area.extent
    if xmin < -180 or xmax > 180 or ymin < -90 or ymax > 90:
        raise BadQuery(_("Coordinates must be lon/lat (EPSG:4326), as GeoJSON requires."))
    if not area.valid:
        raise BadQuery(
            _("The polygon is not valid: %(valid_reason)s.") % {"valid_reason": area.valid_reason}
        )
    return area


def objects_within(
    *, area: GEOSGeometry, viewer: Viewer, layers: list[str] | None = None, limit: int = 100
) -> dict[str, Any]:
    """Per layer: how many objects intersect the area, and the first ``limit`` of them."""
    if not 1 <= limit <= MAX_RESULTS:
        raise BadQuery(
            _("limit must be between 1 and %(max_results)s.") % {"max_results": MAX_RESULTS}
        )
    area_m2 = _area_m2(area)
    if area_m2 > MAX_WITHIN_AREA_M2:
        raise BadQuery(
            _("The area is %(value)s km²; at most %(value2)s km².")
            % {
                "value": format(area_m2 / 1e6, ".1f"),
                "value2": format(MAX_WITHIN_AREA_M2 / 1e6, "g"),
            }
        )
    result: dict[str, Any] = {"area_m2": round(area_m2, 1), "layers": {}}
    for spec in _visible(viewer, layers):
        rows = (
            spec.queryset_for(viewer)
            .select_related(*related_fields(spec, viewer))
            .filter(**{f"{spec.geometry_field.name}__intersects": area})
            .order_by("pk")
        )
        result["layers"][spec.name] = {
            "count": rows.count(),
            "features": [feature(spec, row, viewer) for row in with_geojson(rows, spec)[:limit]],
        }
    return result


def _area_m2(area: GEOSGeometry) -> float:
    """Geodesic area on the WGS 84 ellipsoid."""
    area_m2, _ = WGS84.geometry_area_perimeter(shapely.from_wkb(bytes(area.wkb)))
    return abs(area_m2)


def objects_along(
    *,
    layer: str,
    pk: int,
    buffer_m: float,
    viewer: Viewer,
    layers: list[str] | None = None,
    limit: int = 200,
) -> dict[str, Any]:
    """Objects within ``buffer_m`` of a line object (which houses a snowplough route serves)."""
    spec = get_layer(layer, viewer)
    if "Line" not in spec.geometry_type:
        raise BadQuery(
            _("'along' needs a line layer; %(layer)s is %(geometry_type)s.")
            % {"layer": repr(layer), "geometry_type": spec.geometry_type}
        )
    if not 0 < buffer_m <= MAX_BUFFER_M:
        raise BadQuery(
            _("buffer must be more than 0 and at most %(max_buffer_m)s m.")
            % {"max_buffer_m": format(MAX_BUFFER_M, "g")}
        )
    if not 1 <= limit <= MAX_RESULTS:
        raise BadQuery(
            _("limit must be between 1 and %(max_results)s.") % {"max_results": MAX_RESULTS}
        )
    route = spec.queryset_for(viewer).filter(pk=pk).first()
    if route is None:
        raise NotFound(_("No %(name)s object %(pk)s.") % {"name": spec.name, "pk": pk})
    line = getattr(route, spec.geometry_field.name)
    result: dict[str, Any] = {
        "route": feature(spec, route, viewer),
        "buffer_m": buffer_m,
        "layers": {},
    }
    for other in _visible(viewer, layers):
        rows = _near(other, viewer, line, buffer_m)
        if other is spec:
            rows = rows.exclude(pk=route.pk)
        result["layers"][other.name] = {
            "count": rows.count(),
            "features": [hit_json(Hit(other, r, r.distance_m), viewer) for r in rows[:limit]],
        }
    return result
