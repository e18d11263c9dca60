"""Layer properties as SQL expressions, composed from the registry with psycopg.sql.

Tiles (tiles/sql.py) and the nearby lookup (layers.selectors) select the properties a viewer may
see straight from PostgreSQL; both show a foreign key as the related row's name, as the object
card and OGC do (layers.geojson.property_value). The lookups (search, nearby) share the point
they are asked about.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models.fields.reverse_related import ForeignObjectRel
from psycopg import sql

from gis.spatial import STORAGE_SRID
from layers.registry import LayerSpec

QUERY_POINT = sql.SQL("ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), {})").format(
    sql.Literal(STORAGE_SRID)
)
"""The point a lookup is asked about, from its ``lon`` and ``lat`` parameters."""


def column(field: models.Field[Any, Any] | ForeignObjectRel) -> str:
    """The table column of a layer's field (a foreign key's ``…_id``).

    Every field the registry names has one; a reverse relation or a many-to-many has none.
    """
    if isinstance(field, models.Field) and field.column is not None:
        return field.column
    raise ImproperlyConfigured(f"{field} has no column of its own")


def scope_column(spec: LayerSpec) -> str:
    """The column of the organisation that scopes contractors' rows (``LayerSpec.scope_field``)."""
    if spec.scope_field is None:
        raise ImproperlyConfigured(f"layer {spec.name!r} is not scoped by organisation")
    return column(spec.model._meta.get_field(spec.scope_field))


def property_expression(spec: LayerSpec, name: str, *, empty_as_null: bool) -> sql.Composable:
    """The value of property ``name`` of row ``t``; ``empty_as_null`` turns '' into NULL."""
    field = spec.model._meta.get_field(name)
    if field.related_model is not None:
        related = field.related_model._meta
        label = "name" if any(f.name == "name" for f in related.concrete_fields) else "id"
        return sql.SQL("(SELECT r.{label} FROM {table} r WHERE r.id = t.{fk})").format(
            label=sql.Identifier(label),
            table=sql.Identifier(related.db_table),
            fk=sql.Identifier(column(field)),
        )
    if empty_as_null and isinstance(field, models.CharField | models.TextField):
        return sql.SQL("NULLIF(t.{}, '')").format(sql.Identifier(column(field)))
    return sql.SQL("t.{}").format(sql.Identifier(column(field)))


def label_expression(spec: LayerSpec, alias: str = "t") -> sql.Composable:
    """The name of row ``alias`` in lists: its model's ``__str__`` (the registry's ``label``)."""
    return spec.label.format(t=sql.Identifier(alias))
