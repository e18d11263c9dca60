"""One valid GeoJSON feature for any layer ``import_layer`` writes, made from its model."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.gis.geos import LineString, MultiLineString, MultiPolygon, Point
from django.db import models

from importers.records import required_fields
from layers.registry import LayerSpec
from tests.factories import CITY_LAT, CITY_LON, rectangle


def _geometry(geometry_type: str) -> Any:
    d = 0.0005
    line = LineString((CITY_LON, CITY_LAT), (CITY_LON + d, CITY_LAT + d), srid=4326)
    area = rectangle(50, 50)
    return {
        "Point": Point(CITY_LON, CITY_LAT, srid=4326),
        "LineString": line,
        "MultiLineString": MultiLineString(line, srid=4326),
        "Polygon": area,
        "MultiPolygon": MultiPolygon(area, srid=4326),
        "Geometry": area,
    }[geometry_type]


def _value(field: models.Field) -> Any:
    if field.choices:
        return field.choices[0][0]
    if isinstance(field, models.DateField):
        return "05.06.2026"
    if isinstance(field, models.IntegerField | models.FloatField):
        return 1
    return "Ленина"


def one_row(spec: LayerSpec) -> dict[str, Any]:
    fields = {f.name: f for f in spec.model._meta.concrete_fields}
    return {
        "type": "Feature",
        "properties": {"id": "row-1"}
        | {name: _value(fields[name]) for name in required_fields(spec.model)},
        "geometry": json.loads(_geometry(spec.geometry_type).geojson),
    }
