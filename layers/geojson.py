"""GeoJSON features of layer objects, with only the properties the viewer's role may see.

The object card, OGC API Features and search all shape objects here, so a property a role may
not see can never leak through one of them and not the others.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.gis.db.models.functions import AsGeoJSON
from django.db import models

from gis.roles import Viewer
from layers.registry import LayerSpec


def property_value(obj: models.Model, spec: LayerSpec, name: str) -> Any:
    """A property as JSON: dates as ISO strings, a related object as its name (as on tiles)."""
    field = spec.model._meta.get_field(name)
    if field.is_relation:
        related = getattr(obj, name)
        return None if related is None else getattr(related, "name", str(related))
    value = getattr(obj, name)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def related_fields(spec: LayerSpec, viewer: Viewer) -> list[str]:
    """Foreign keys among the viewer's properties: what a queryset should select_related."""
    return [
        name for name in spec.properties_for(viewer) if spec.model._meta.get_field(name).is_relation
    ]


GEOJSON_ANNOTATION = "geometry_geojson"
"""A queryset may annotate each row's geometry as GeoJSON text under this name (``AsGeoJSON``
in PostGIS): feature() then uses it instead of converting the GEOS geometry in Python."""


def with_geojson(rows: models.QuerySet[Any], spec: LayerSpec) -> models.QuerySet[Any]:
    """Rows whose geometry comes as GeoJSON made by PostGIS, for feature(), and not as GEOS."""
    column = spec.geometry_field.name
    annotated: models.QuerySet[Any] = rows.annotate(**{GEOJSON_ANNOTATION: AsGeoJSON(column)})
    return annotated.defer(column)


def feature(
    spec: LayerSpec, obj: models.Model, viewer: Viewer, *, properties: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """A GeoJSON Feature; ``properties`` narrows the viewer's properties further (never widens)."""
    allowed = spec.properties_for(viewer)
    names = allowed if properties is None else tuple(p for p in properties if p in allowed)
    text = getattr(obj, GEOJSON_ANNOTATION, None)
    if text is None:
        geom = getattr(obj, spec.geometry_field.name)
        text = geom.geojson if geom is not None else None
    return {
        "type": "Feature",
        "id": obj.pk,
        "geometry": json.loads(text) if text is not None else None,
        "properties": {
            "layer": spec.name,
            **{name: property_value(obj, spec, name) for name in names},
        },
    }
