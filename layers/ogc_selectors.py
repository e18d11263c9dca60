"""Reads behind OGC API - Features (``/ogc/``): collection metadata, queryables, item queries.

Every document is scoped by the viewer: the collections its role may see (``layers.registry``),
the properties it may see (``LayerSpec.properties_for``), the rows it may see
(``LayerSpec.queryset_for``), and features shaped by ``layers.geojson.feature`` like the object
card's. A CQL2 filter, ``sortby`` and ``properties`` may only name the viewer's queryables: the
field mapping handed to pygeofilter holds nothing else, so a column the role may not see is a
400, never a lookup.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib.gis.db.models import Extent
from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException, MultiPolygon, Polygon
from django.core.exceptions import FieldError, ValidationError
from django.db import DataError, InternalError, ProgrammingError, models, transaction
from django.db.models import F, Max, Min, Q, Value
from django.db.models.expressions import OrderBy
from django.utils import timezone
from django.utils.translation import gettext as _
from lark.exceptions import LarkError
from pygeofilter import ast
from pygeofilter.backends.django.evaluate import DjangoFilterEvaluator
from pygeofilter.backends.evaluator import handle
from pygeofilter.parsers.cql2_text import parse as cql2_text_parse

from gis.exceptions import ApplicationError, NotFound
from gis.roles import Viewer
from gis.spatial import STORAGE_SRID
from layers.geojson import feature, related_fields
from layers.registry import LayerSpec, layers_for

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
JSON_SCHEMA = "application/schema+json"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
OPENAPI_YAML = "application/vnd.oai.openapi"
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"

DEFAULT_LIMIT = 10
# Part 1 (/req/core/fc-limit-response-1): a limit above the maximum is not an error, the server
# answers with the maximum. 1000 features of city outlines is about 1 MB of GeoJSON.
MAX_LIMIT = 1000
GEOMETRY = "geometry"
"""The name CQL2 filters use for a collection's geometry (its queryable)."""

CONFORMANCE: tuple[str, ...] = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/property-property",
)

GEOMETRY_FORMATS = {
    "Point": "geometry-point",
    "MultiPoint": "geometry-multipoint",
    "LineString": "geometry-linestring",
    "MultiLineString": "geometry-multilinestring",
    "Polygon": "geometry-polygon",
    "MultiPolygon": "geometry-multipolygon",
}

POSITIVE_INTEGER_FIELDS = (
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.PositiveBigIntegerField,
)
FID_RE = re.compile(r"^[0-9]{1,19}$")
DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
DATETIME_RE = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?$"
)


# --- documents -------------------------------------------------------------------------------


def _link(href: str, rel: str, type_: str, title: str = "") -> dict[str, str]:
    out = {"href": href, "rel": rel, "type": type_}
    if title:
        out["title"] = title
    return out


def _with_query(url: str, params: Mapping[str, Any]) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None and v != ""})
    return f"{url}?{query}" if query else url


def landing_describe(*, base: str, schema_url: str, docs_url: str) -> dict[str, Any]:
    """The landing page: what the API is and where its parts are."""
    return {
        "title": "citygis OGC API - Features",
        "description": (
            "The city's layers as OGC API - Features collections, scoped by the caller's role "
            "(Authorization: Token …)."
        ),
        "links": [
            _link(_with_query(base, {"f": "json"}), "self", JSON, "This document"),
            _link(_with_query(base, {"f": "html"}), "alternate", HTML, "This document as HTML"),
            _link(f"{base}api", "service-desc", OPENAPI_JSON, "The API definition (OpenAPI 3.0)"),
            _link(schema_url, "service-desc", OPENAPI_YAML, "The API definition as YAML"),
            _link(docs_url, "service-doc", HTML, "The API documentation"),
            _link(f"{base}conformance", "conformance", JSON, "Conformance classes"),
            _link(f"{base}collections", "data", JSON, "The collections"),
        ],
    }


def conformance_describe(*, base: str) -> dict[str, Any]:
    return {
        "conformsTo": list(CONFORMANCE),
        "links": [
            _link(_with_query(f"{base}conformance", {"f": "json"}), "self", JSON),
            _link(_with_query(f"{base}conformance", {"f": "html"}), "alternate", HTML),
        ],
    }


def _instant(value: date | datetime | None, *, end: bool = False) -> str | None:
    """An RFC 3339 date-time for an extent: a date spans its whole (UTC) day."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return f"{value.isoformat()}T{'23:59:59' if end else '00:00:00'}Z"


def collection_extent(*, spec: LayerSpec, viewer: Viewer) -> dict[str, Any] | None:
    """The spatial (CRS84) and temporal extent of the rows the viewer may see; None if none."""
    aggregates: dict[str, Any] = {"bbox": Extent(spec.geometry_field.name)}
    if spec.datetime_field:
        aggregates["first"] = Min(spec.datetime_field)
        aggregates["last"] = Max(spec.datetime_field)
    found = spec.queryset_for(viewer).aggregate(**aggregates)
    if found["bbox"] is None:
        return None
    extent: dict[str, Any] = {"spatial": {"bbox": [list(found["bbox"])], "crs": CRS84}}
    if spec.datetime_field:
        extent["temporal"] = {
            "interval": [[_instant(found["first"]), _instant(found["last"], end=True)]],
            "trs": GREGORIAN,
        }
    return extent


def collection_describe(*, spec: LayerSpec, viewer: Viewer, base: str) -> dict[str, Any]:
    """One collection's metadata: id, title, extent from the data, CRS and links."""
    url = f"{base}collections/{spec.name}"
    doc: dict[str, Any] = {
        "id": spec.name,
        "title": str(spec.title),
        "description": str(spec.description)
        or _("%(title)s of the city (%(geometry)s).")
        % {"title": str(spec.title), "geometry": spec.geometry_type},
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
    }
    extent = collection_extent(spec=spec, viewer=viewer)
    if extent is not None:
        doc["extent"] = extent
    doc["links"] = [
        _link(_with_query(url, {"f": "json"}), "self", JSON, "This collection"),
        _link(_with_query(url, {"f": "html"}), "alternate", HTML, "This collection as HTML"),
        _link(_with_query(f"{url}/items", {"f": "json"}), "items", GEOJSON, "Items as GeoJSON"),
        _link(_with_query(f"{url}/items", {"f": "html"}), "items", HTML, "Items as HTML"),
        _link(f"{url}/queryables", QUERYABLES_REL, JSON_SCHEMA, "Queryables"),
        _link(f"{url}/queryables", "queryables", JSON_SCHEMA, "Queryables"),
        _link(f"{url}/feature-schema", "describedby", JSON_SCHEMA, "Schema of the features"),
        # Link relations compare case-insensitively (RFC 8288), GDAL < 3.7 does not: it reads
        # only "describedBy", and without a schema it guesses field types from the first page
        # (a page where every flats is null makes flats a string).
        _link(f"{url}/feature-schema", "describedBy", JSON_SCHEMA, "Schema of the features"),
    ]
    return doc


def collections_describe(*, viewer: Viewer, base: str) -> dict[str, Any]:
    """Every collection the viewer's role may see, in registry order."""
    url = f"{base}collections"
    return {
        "collections": [
            collection_describe(spec=spec, viewer=viewer, base=base) for spec in layers_for(viewer)
        ],
        "links": [
            _link(_with_query(url, {"f": "json"}), "self", JSON, "The collections"),
            _link(_with_query(url, {"f": "html"}), "alternate", HTML, "The collections as HTML"),
        ],
    }


# --- queryables ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Queryable:
    name: str
    lookup: str
    """The ORM path a filter or sort on this name uses (a related object by its name)."""
    schema: dict[str, Any]


def _field_schema(field: models.Field) -> dict[str, Any]:
    if isinstance(field, models.GeneratedField):
        field = field.output_field
    if field.is_relation:
        schema: dict[str, Any] = {"type": "string", "description": "Name of the related record"}
    elif isinstance(field, models.BooleanField):
        schema = {"type": "boolean"}
    elif isinstance(field, models.DateTimeField):
        schema = {"type": "string", "format": "date-time"}
    elif isinstance(field, models.DateField):
        schema = {"type": "string", "format": "date"}
    elif isinstance(field, models.IntegerField):
        schema = {"type": "integer"}
        if isinstance(field, POSITIVE_INTEGER_FIELDS):
            schema["minimum"] = 0
    elif isinstance(field, models.FloatField | models.DecimalField):
        schema = {"type": "number"}
    else:
        schema = {"type": "string"}
        if field.choices:
            schema["enum"] = [value for value, _label in field.flatchoices]
        if getattr(field, "max_length", None):
            schema["maxLength"] = field.max_length
    if field.help_text and "description" not in schema:
        schema["description"] = str(field.help_text)
    return {"title": str(field.verbose_name).capitalize(), **schema}


def queryables_for(*, spec: LayerSpec, viewer: Viewer) -> dict[str, Queryable]:
    """The names this viewer may filter and sort on: its properties and ``geometry``."""
    found = {
        GEOMETRY: Queryable(
            name=GEOMETRY,
            lookup=spec.geometry_field.name,
            schema={
                "title": "Geometry",
                "format": GEOMETRY_FORMATS.get(spec.geometry_type, "geometry-any"),
                "x-ogc-role": "primary-geometry",
            },
        )
    }
    for name in spec.properties_for(viewer):
        field = spec.model._meta.get_field(name)
        lookup = name
        if field.is_relation:
            # Shown as the related record's name (layers.geojson), so filtered on it too; a
            # related model without a name column is shown but cannot be queried.
            if "name" not in {f.name for f in field.related_model._meta.concrete_fields}:
                continue
            lookup = f"{name}__name"
        schema = _field_schema(field)
        if name == spec.datetime_field:
            schema["x-ogc-role"] = "primary-instant"
        found[name] = Queryable(name=name, lookup=lookup, schema=schema)
    return found


def queryables_describe(*, spec: LayerSpec, viewer: Viewer, base: str) -> dict[str, Any]:
    """The collection's queryables as a JSON Schema (Part 3), as the viewer's role sees them."""
    url = f"{base}collections/{spec.name}/queryables"
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": url,
        "type": "object",
        "title": str(spec.title),
        "properties": {
            name: q.schema for name, q in queryables_for(spec=spec, viewer=viewer).items()
        },
        "additionalProperties": False,
        "links": [
            _link(url, "self", JSON_SCHEMA, "Queryables"),
            _link(f"{base}collections/{spec.name}", "collection", JSON, str(spec.title)),
        ],
    }


def feature_schema_describe(*, spec: LayerSpec, viewer: Viewer, base: str) -> dict[str, Any]:
    """A JSON Schema of the collection's GeoJSON features, with the viewer's typed properties."""
    props = {
        name: q.schema
        for name, q in queryables_for(spec=spec, viewer=viewer).items()
        if name != GEOMETRY
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base}collections/{spec.name}/feature-schema",
        "title": _("%(title)s: a feature") % {"title": spec.title},
        "type": "object",
        "required": ["type", "id", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "integer"},
            "geometry": {
                "title": "Geometry",
                "format": GEOMETRY_FORMATS.get(spec.geometry_type, "geometry-any"),
            },
            "properties": {
                "type": "object",
                "properties": {
                    "layer": {"title": "Layer", "type": "string", "enum": [spec.name]},
                    **props,
                },
            },
        },
    }


# --- item query parameters -------------------------------------------------------------------


class BadQuery(ApplicationError):
    """A query parameter the API cannot answer (400), named in ``extra["parameter"]``."""

    code = "invalid_parameter"

    def __init__(self, parameter: str, message: str, **extra: Any) -> None:
        super().__init__(message, extra={"parameter": parameter, **extra})


@dataclass(frozen=True, slots=True)
class ItemsQuery:
    where: Q
    order_by: tuple[OrderBy, ...]
    properties: tuple[str, ...] | None
    limit: int
    offset: int


def limit_parse(*, text: str | None) -> int:
    """``limit``: 1… ; above MAX_LIMIT it is capped (Part 1), not refused."""
    if text is None or text == "":
        return DEFAULT_LIMIT
    try:
        if not text.isdigit() or int(text) < 1:
            raise ValueError
    except ValueError:
        raise BadQuery(
            "limit",
            _("limit must be a positive integer, got %(value)s.") % {"value": repr(text[:40])},
        ) from None
    return min(int(text), MAX_LIMIT)


def offset_parse(*, text: str | None) -> int:
    """``offset``: ≥ 0; one past the last item is an empty page (the database is not asked)."""
    if text is None or text == "":
        return 0
    try:
        if not text.isdigit():
            raise ValueError
        return int(text)
    except ValueError:  # also Python's limit on digits
        raise BadQuery(
            "offset",
            _("offset must be an integer ≥ 0, got %(value)s.") % {"value": repr(text[:40])},
        ) from None


def _box(west: float, south: float, east: float, north: float) -> Polygon:
    return Polygon.from_bbox((west, south, east, north))


def bbox_parse(*, text: str) -> Polygon | MultiPolygon:
    """``bbox=W,S,E,N`` (or 6 numbers with heights) in CRS84, as a polygon to intersect.

    A box beyond the world is clipped to it; W > E crosses the antimeridian (two boxes).
    """
    parts = text.split(",")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (4, 6) or not all(math.isfinite(n) for n in numbers):
        raise BadQuery(
            "bbox",
            _("bbox takes 4 numbers, west,south,east,north in CRS84 (or 6 with heights)."),
        )
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    west, south, east, north = (
        max(-180.0, min(180.0, numbers[0])),
        max(-90.0, min(90.0, numbers[1])),
        max(-180.0, min(180.0, numbers[2])),
        max(-90.0, min(90.0, numbers[3])),
    )
    if south > north:
        raise BadQuery("bbox", _("bbox must have south ≤ north."))
    if west <= east:
        area = _box(west, south, east, north)
    else:
        area = MultiPolygon(_box(west, south, 180.0, north), _box(-180.0, south, east, north))
    area.srid = STORAGE_SRID
    return area


def _instant_parse(text: str) -> date | datetime:
    try:
        if DATE_RE.match(text):
            return date.fromisoformat(text)
        if DATETIME_RE.match(text):
            found = datetime.fromisoformat(text.upper())
            return found if found.tzinfo else found.replace(tzinfo=UTC)
    except ValueError:
        pass
    raise BadQuery(
        "datetime",
        _(
            "datetime: %(value)s is not an RFC 3339 date (2024-05-01) or date-time "
            "(2024-05-01T10:00:00Z)."
        )
        % {"value": repr(text[:40])},
    )


def _day_bounds(value: date | datetime) -> tuple[datetime, datetime]:
    """The interval an instant covers: a date is its whole UTC day."""
    if isinstance(value, datetime):
        return value, value
    start = datetime.combine(value, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1) - timedelta(microseconds=1)


def _as_date(value: date | datetime) -> date:
    return value.astimezone(UTC).date() if isinstance(value, datetime) else value


def datetime_parse(*, spec: LayerSpec, text: str) -> Q:
    """``datetime``: an instant, ``a/b``, ``../b`` or ``a/..`` on the layer's datetime_field.

    A stored date is a whole day: it matches an instant on that day and an interval it overlaps.
    """
    if not spec.datetime_field:
        raise BadQuery(
            "datetime",
            _("Collection %(name)s has no datetime property.") % {"name": repr(spec.name)},
        )
    name = spec.datetime_field
    is_date = not isinstance(spec.model._meta.get_field(name), models.DateTimeField)
    if "/" not in text:
        instant = _instant_parse(text)
        if is_date:
            return Q(**{name: _as_date(instant)})
        return Q(**{f"{name}__range": _day_bounds(instant)})
    start_text, _sep, end_text = text.partition("/")
    start = None if start_text in ("", "..") else _instant_parse(start_text)
    end = None if end_text in ("", "..") else _instant_parse(end_text)
    if start is None and end is None:
        raise BadQuery("datetime", _("datetime: an interval needs at least one end."))
    if start is not None and end is not None and _day_bounds(start)[0] > _day_bounds(end)[1]:
        raise BadQuery("datetime", _("datetime: the interval's start is after its end."))
    where = Q()
    if start is not None:
        where &= Q(**{f"{name}__gte": _as_date(start) if is_date else _day_bounds(start)[0]})
    if end is not None:
        where &= Q(**{f"{name}__lte": _as_date(end) if is_date else _day_bounds(end)[1]})
    return where


def properties_parse(*, text: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise BadQuery(
            "properties",
            _("Unknown properties %(unknown)s.") % {"unknown": unknown},
            properties=list(allowed),
        )
    return names


def sortby_parse(*, text: str, queryables: Mapping[str, Queryable]) -> tuple[OrderBy, ...]:
    """``sortby=a,-b``: ``+``/no sign ascending, ``-`` descending; nulls always last."""
    sortable = {n: q.lookup for n, q in queryables.items() if n != GEOMETRY}
    sortable["id"] = "pk"
    order: list[OrderBy] = []
    for item in text.split(","):
        # An unescaped "+" in a query string arrives as a space.
        item = item.strip()
        descending = item.startswith("-")
        name = item.lstrip("+-").strip()
        if name not in sortable:
            raise BadQuery(
                "sortby",
                _("Cannot sort by %(name)s.") % {"name": repr(name)},
                sortable=sorted(sortable),
            )
        expr = F(sortable[name])
        order.append(expr.desc(nulls_last=True) if descending else expr.asc(nulls_last=True))
    return tuple(order)


# --- CQL2 ------------------------------------------------------------------------------------


class FilterError(BadQuery):
    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__("filter", message, **extra)


def like_regex(*, pattern: str) -> str:
    """A CQL2 LIKE pattern (``%`` any run, ``_`` one character, backslash escapes) as a regex."""
    out, chars = ["^"], iter(pattern)
    for char in chars:
        if char == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    out.append("$")
    return "".join(out)


class CityFilterEvaluator(DjangoFilterEvaluator):
    """pygeofilter's Django evaluator, limited to the viewer's queryables.

    pygeofilter falls back to the raw name for an attribute missing from the mapping; here it is
    an error, so only allow-listed names ever reach a lookup. LIKE follows CQL2 (``_`` is one
    character, which pygeofilter's Django backend does not do), and ``BBOX(…)`` is an envelope.
    """

    def __init__(self, lookups: Mapping[str, str]) -> None:
        super().__init__(dict(lookups), None)
        self.geometry_lookup = lookups.get(GEOMETRY)

    def _no_geometry(self, *operands: Any) -> None:
        if any(isinstance(o, F) and o.name == self.geometry_lookup for o in operands):
            raise FilterError(
                _("geometry can only be used in a spatial predicate (S_INTERSECTS…).")
            )

    @handle(ast.Comparison, subclasses=True)
    def comparison(self, node: ast.Comparison, lhs: Any, rhs: Any) -> Q:
        self._no_geometry(lhs, rhs)
        return super().comparison(node, lhs, rhs)

    @handle(ast.Between)
    def between(self, node: ast.Between, lhs: Any, low: Any, high: Any) -> Q:
        self._no_geometry(lhs, low, high)
        return super().between(node, lhs, low, high)

    @handle(ast.In)
    def in_(self, node: ast.In, lhs: Any, *options: Any) -> Q:
        self._no_geometry(lhs, *options)
        return super().in_(node, lhs, *options)

    @handle(ast.Attribute)
    def attribute(self, node: ast.Attribute) -> F:
        if node.name not in self.field_mapping:
            raise FilterError(
                _("Unknown property %(name)s in filter.") % {"name": repr(node.name)},
                queryables=sorted(self.field_mapping),
            )
        return F(self.field_mapping[node.name])

    @handle(ast.Like)
    def like(self, node: ast.Like, lhs: Any) -> Q:
        if not isinstance(lhs, F):
            raise FilterError(_("LIKE needs a property on its left."))
        self._no_geometry(lhs)
        lookup = "iregex" if node.nocase else "regex"
        where = Q(**{f"{lhs.name}__{lookup}": like_regex(pattern=node.pattern)})
        return ~where if node.not_ else where

    @handle(ast.Function)
    def function(self, node: ast.Function, *args: Any) -> Polygon:
        values = [a.value if isinstance(a, Value) else a for a in args]
        if node.name.lower() == "bbox" and len(values) in (4, 6):
            return bbox_parse(text=",".join(str(v) for v in values))
        raise FilterError(_("Function %(name)s is not supported.") % {"name": repr(node.name)})


def filter_parse(*, text: str, queryables: Mapping[str, Queryable]) -> Q:
    """A CQL2-text filter as a Q on the viewer's queryables; anything else is a 400."""
    try:
        tree = cql2_text_parse(text)
    except (LarkError, ValueError, TypeError, OverflowError) as exc:
        # A literal the grammar accepts can still fail to convert (DATE('2021-13-01')).
        message = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise FilterError(_("Invalid CQL2 filter: %(message)s") % {"message": message}) from None
    lookups = {name: q.lookup for name, q in queryables.items()}
    try:
        where = CityFilterEvaluator(lookups).evaluate(tree)
    except ApplicationError:
        raise
    except (
        ValueError,
        TypeError,
        KeyError,
        AssertionError,
        NotImplementedError,
        GEOSException,
        GDALException,
    ) as exc:
        raise FilterError(_("Unsupported CQL2 filter: %(exc)s") % {"exc": exc}) from None
    if not isinstance(where, Q):
        raise FilterError(_("The filter must be a predicate, e.g. flats > 10."))
    return where


def _check_compiles(spec: LayerSpec, where: Q) -> None:
    """Build the SQL (no query runs): a lookup a value cannot take is a 400 here, not a 500."""
    try:
        qs = spec.model._default_manager.filter(where)
        qs.query.get_compiler(using=qs.db).as_sql()
    except (
        FieldError,
        ValidationError,
        ValueError,
        TypeError,
        AttributeError,  # a GIS lookup given a non-geometry value
        GEOSException,
        GDALException,
    ) as exc:
        message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        raise FilterError(
            _("The filter does not fit the data: %(message)s") % {"message": message}
        ) from None


def items_query_parse(*, spec: LayerSpec, viewer: Viewer, params: Mapping[str, str]) -> ItemsQuery:
    """The items request's parameters, checked against what this viewer may see."""
    queryables = queryables_for(spec=spec, viewer=viewer)
    where = Q()
    if params.get("bbox"):
        where &= Q(**{f"{spec.geometry_field.name}__intersects": bbox_parse(text=params["bbox"])})
    elif "bbox" in params:
        raise BadQuery("bbox", _("bbox is empty."))
    if "datetime" in params:
        where &= datetime_parse(spec=spec, text=params["datetime"])
    lang = params.get("filter-lang", "cql2-text")
    if lang != "cql2-text":
        raise BadQuery(
            "filter-lang",
            _("Unsupported filter-lang %(value)s; use cql2-text.") % {"value": repr(lang[:40])},
        )
    if params.get("filter-crs", CRS84) != CRS84:
        raise BadQuery("filter-crs", _("filter-crs must be %(crs84)s.") % {"crs84": CRS84})
    if params.get("filter", "").strip():
        cql = filter_parse(text=params["filter"], queryables=queryables)
        _check_compiles(spec, cql)
        where &= cql
    order_by = ()
    if params.get("sortby", "").strip():
        order_by = sortby_parse(text=params["sortby"], queryables=queryables)
    properties = None
    if "properties" in params:
        properties = properties_parse(
            text=params["properties"], allowed=spec.properties_for(viewer)
        )
    return ItemsQuery(
        where=where,
        order_by=order_by,
        properties=properties,
        limit=limit_parse(text=params.get("limit")),
        offset=offset_parse(text=params.get("offset")),
    )


# --- items -----------------------------------------------------------------------------------


# undefined_function (no such operator for these types), datatype_mismatch
TYPE_MISMATCH = frozenset({"42883", "42804"})


def _sqlstate(exc: Exception) -> str | None:
    return getattr(exc.__cause__, "sqlstate", None)


def _timestamp() -> str:
    return timezone.now().astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def items_page(
    *, spec: LayerSpec, viewer: Viewer, query: ItemsQuery, base: str, params: Mapping[str, str]
) -> dict[str, Any]:
    """One page of the collection's items as a GeoJSON FeatureCollection with paging links.

    ``params`` are the request's own (to repeat in self/next/prev links).
    """
    qs = (
        spec.queryset_for(viewer)
        .filter(query.where)
        .select_related(*related_fields(spec, viewer))
        .order_by(*query.order_by, "pk")
    )
    try:
        # A savepoint: a value the database rejects (out of range, a GEOS error on a broken
        # polygon in a filter) must not poison the request's connection.
        with transaction.atomic():
            matched = qs.count()
            rows = []
            if query.offset < matched:  # past the end the database is not asked at all
                rows = list(qs[query.offset : query.offset + query.limit])
    except (DataError, InternalError, ProgrammingError) as exc:
        # A type mismatch the filter made (street > 5: "operator does not exist") is the
        # client's; any other programming error is ours and stays a 500.
        if isinstance(exc, ProgrammingError) and _sqlstate(exc) not in TYPE_MISMATCH:
            raise
        raise FilterError(
            _("The query could not be evaluated: %(0)s") % {"0": str(exc).splitlines()[0]}
        ) from None
    url = f"{base}collections/{spec.name}/items"
    kept = {k: v for k, v in params.items() if k not in ("f", "limit", "offset")}

    def page(offset: int, f: str) -> str:
        return _with_query(url, {**kept, "limit": query.limit, "offset": offset or None, "f": f})

    links = [
        _link(page(query.offset, "json"), "self", GEOJSON, "This page"),
        _link(page(query.offset, "html"), "alternate", HTML, "This page as HTML"),
        _link(f"{base}collections/{spec.name}", "collection", JSON, str(spec.title)),
    ]
    if query.offset + len(rows) < matched:
        nxt = query.offset + query.limit
        links += [
            _link(page(nxt, "json"), "next", GEOJSON, "Next page"),
            _link(page(nxt, "html"), "next", HTML, "Next page as HTML"),
        ]
    if query.offset > 0:
        prev = max(0, min(query.offset, matched) - query.limit)
        links += [
            _link(page(prev, "json"), "prev", GEOJSON, "Previous page"),
            _link(page(prev, "html"), "prev", HTML, "Previous page as HTML"),
        ]
    return {
        "type": "FeatureCollection",
        "features": [feature(spec, obj, viewer, properties=query.properties) for obj in rows],
        "numberMatched": matched,
        "numberReturned": len(rows),
        "timeStamp": _timestamp(),
        "links": links,
    }


def item_get(*, spec: LayerSpec, viewer: Viewer, fid: str, base: str) -> dict[str, Any]:
    """One feature by id, if this viewer may see its row; otherwise 404."""
    qs = spec.queryset_for(viewer).select_related(*related_fields(spec, viewer))
    obj = qs.filter(pk=int(fid)).first() if FID_RE.match(fid) and int(fid) < 2**63 else None
    if obj is None:
        raise NotFound(
            _("No feature %(value)s in collection %(name)s.")
            % {"value": repr(fid[:40]), "name": repr(spec.name)}
        )
    url = f"{base}collections/{spec.name}/items/{obj.pk}"
    return {
        **feature(spec, obj, viewer),
        "links": [
            _link(_with_query(url, {"f": "json"}), "self", GEOJSON, "This feature"),
            _link(_with_query(url, {"f": "html"}), "alternate", HTML, "This feature as HTML"),
            _link(f"{base}collections/{spec.name}", "collection", JSON, str(spec.title)),
        ],
    }
