"""The tile statements, composed from the layer registry with psycopg.sql.

One statement per (layers, scope): each requested layer is a sub-select producing its own MVT
layer, and the layers' bytes are concatenated (MVT layers concatenate into a valid tile), so a
composite tile is one round trip. Identifiers come only from the registry via sql.Identifier;
z, x, y (and a contractor's organisation) are bound parameters.

The envelope is transformed to the column's SRID, never the column to the envelope's, so the
GiST index on ``geom`` answers the ``&&``.
"""

from __future__ import annotations

from functools import lru_cache

from psycopg import sql

from gis.spatial import STORAGE_SRID
from layers.registry import LAYERS, LayerSpec
from layers.sql import column, property_expression, scope_column

EXTENT = 4096
BUFFER = 64
# Below this zoom, lines and polygons are simplified to half a pixel before encoding. From here
# up the 4096 grid of ST_AsMVTGeom is finer than a metre and simplifying only costs time.
SIMPLIFY_BELOW_ZOOM = 14


def _property_columns(spec: LayerSpec, names: tuple[str, ...]) -> list[sql.Composable]:
    """Select-list items for the allowed properties; '' becomes NULL, which ST_AsMVT leaves out."""
    return [
        sql.SQL("{} AS {}").format(
            property_expression(spec, name, empty_as_null=True), sql.Identifier(name)
        )
        for name in names
    ]


def layer_select(
    spec: LayerSpec, properties: tuple[str, ...], *, scoped: bool, simplify: bool
) -> sql.Composed:
    """The sub-select that yields one MVT layer (NULL when no feature falls in the tile)."""
    geom = sql.Identifier(column(spec.geometry_field))
    projected = sql.SQL("ST_Transform(t.{}, 3857)").format(geom)
    if simplify and spec.geometry_type not in ("Point", "MultiPoint"):
        # Half a pixel of the 4096 grid at this zoom, in metres; points pass through unchanged.
        projected = sql.SQL(
            "ST_Simplify({}, 20037508.342789244 * 2 / 2 ^ %(z)s / {} / 2, true)"
        ).format(projected, sql.Literal(EXTENT))
    where = [
        sql.SQL(
            "t.{geom} && "
            "ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => {margin}), {srid})"
        ).format(geom=geom, margin=sql.Literal(BUFFER / EXTENT), srid=sql.Literal(STORAGE_SRID))
    ]
    if scoped:
        scope = sql.Identifier(scope_column(spec))
        where.append(sql.SQL("t.{} = %(organisation)s").format(scope))
    return sql.SQL(
        "(SELECT ST_AsMVT(q, {name}, {extent}, 'geom', 'id') FROM ("
        "SELECT t.id, {columns}"
        "ST_AsMVTGeom({simplified}, ST_TileEnvelope(%(z)s, %(x)s, %(y)s), {extent}, {buffer}, true)"
        " AS geom FROM {table} t WHERE {where}) q)"
    ).format(
        name=sql.Literal(spec.name),
        extent=sql.Literal(EXTENT),
        buffer=sql.Literal(BUFFER),
        columns=sql.SQL("").join(
            [sql.SQL("{}, ").format(c) for c in _property_columns(spec, properties)]
        ),
        simplified=projected,
        table=sql.Identifier(spec.model._meta.db_table),
        where=sql.SQL(" AND ").join(where),
    )


@lru_cache(maxsize=512)
def tile_query(
    layers: tuple[str, ...],
    properties: tuple[tuple[str, ...], ...],
    scoped: tuple[bool, ...],
    simplify: bool,
) -> str:
    """The whole tile: each layer's bytes, concatenated; composed once per combination.

    ``properties[i]`` are the columns layer i shows; ``scoped[i]`` keeps only the rows of the
    viewer's organisation (``%(organisation)s``), for contractors.
    """
    parts = [
        sql.SQL("COALESCE({}, ''::bytea)").format(
            layer_select(LAYERS[name], props, scoped=is_scoped, simplify=simplify)
        )
        for name, props, is_scoped in zip(layers, properties, scoped, strict=True)
    ]
    return sql.SQL("SELECT {}").format(sql.SQL(" || ").join(parts)).as_string()
