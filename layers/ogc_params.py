"""The items request's parameters of OGC API - Features (``/ogc/``), each parsed and checked.

``queryables_for`` is what a viewer may filter and sort on: its properties
(``LayerSpec.properties_for``) and ``geometry``. ``sortby`` and ``properties`` may name only
those; the CQL2 ``filter`` is ``layers.ogc_cql2``'s. Anything else is a ``BadQuery`` (400)
naming the parameter.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.contrib.gis.geos import MultiPolygon, Polygon
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models import F, Q
from django.db.models.expressions import OrderBy
from django.utils.translation import gettext as _

from gis.exceptions import ApplicationError
from gis.roles import Viewer
from gis.spatial import STORAGE_SRID
from layers.registry import LayerSpec

DEFAULT_LIMIT = 10
# Part 1 (/req/core/fc-limit-response-1): a limit above the maximum is not an error, the server
# answers with the maximum. 1000 features of city outlines is about 1 MB of GeoJSON.
MAX_LIMIT = 1000
GEOMETRY = "geometry"
"""The name CQL2 filters use for a collection's geometry (its queryable)."""

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
DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
DATETIME_RE = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?$"
)


# --- queryables ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Queryable:
    name: str
    lookup: str
    """The ORM path a filter or sort on this name uses (a related object by its name)."""
    schema: dict[str, Any]


def _field_schema(field: models.Field[Any, Any]) -> dict[str, Any]:
    if isinstance(field, models.GeneratedField) and field.output_field is not None:
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
        if not isinstance(field, models.Field):
            raise ImproperlyConfigured(f"layer {spec.name!r}: {name!r} is a reverse relation")
        lookup = name
        if field.is_relation:
            # Shown as the related record's name (layers.geojson), so filtered on it too; a
            # related model without a name column is shown but cannot be queried.
            related = field.related_model
            if related is None or "name" not in {f.name for f in related._meta.concrete_fields}:
                continue
            lookup = f"{name}__name"
        schema = _field_schema(field)
        if name == spec.datetime_field:
            schema["x-ogc-role"] = "primary-instant"
        found[name] = Queryable(name=name, lookup=lookup, schema=schema)
    return found


# --- item query parameters -------------------------------------------------------------------


class BadQuery(ApplicationError):
    """A query parameter the API cannot answer (400), named in ``extra["parameter"]``."""

    code = "invalid_parameter"

    def __init__(self, parameter: str, message: str, **extra: Any) -> None:
        super().__init__(message, extra={"parameter": parameter, **extra})


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
    area: Polygon | MultiPolygon
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
