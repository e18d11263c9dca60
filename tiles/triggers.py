"""Database triggers that announce every change to a layer's rows, for the tile cache purge.

Each layer table gets a row trigger that sends, on channel ``citygis_tiles``, the layer's name
and the bounding boxes of the row's old and new geometry (``"buildings w s e n;w s e n"``).
Being in the database, it fires for the API, the admin, imports and plain SQL alike; the
notification is delivered when the transaction commits, and never for one rolled back.
"""

from __future__ import annotations

from django.db import connection
from psycopg import sql

from layers.registry import LAYERS

CHANNEL = "citygis_tiles"

FUNCTION = """
CREATE OR REPLACE FUNCTION citygis_tile_purge() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    boxes text[] := '{}';
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('citygis_tiles', TG_ARGV[0] || ' -180 -90 180 90');
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW IS NOT DISTINCT FROM OLD THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.geom IS NOT NULL THEN
        boxes := boxes || concat_ws(' ', ST_XMin(OLD.geom), ST_YMin(OLD.geom),
                                         ST_XMax(OLD.geom), ST_YMax(OLD.geom));
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.geom IS NOT NULL THEN
        boxes := boxes || concat_ws(' ', ST_XMin(NEW.geom), ST_YMin(NEW.geom),
                                         ST_XMax(NEW.geom), ST_YMax(NEW.geom));
    END IF;
    IF cardinality(boxes) = 0 THEN
        RETURN NULL;  -- no geometry before or after (an appeal not yet located)
    END IF;
    PERFORM pg_notify('citygis_tiles', TG_ARGV[0] || ' ' ||
                      array_to_string(ARRAY(SELECT DISTINCT unnest(boxes)), ';'));
    RETURN NULL;
END
$$;
"""


def install_purge_triggers(**_kwargs) -> None:
    """(Re)create the trigger function and one row trigger per registry layer; idempotent."""
    statements: list[sql.Composable] = [sql.SQL(FUNCTION)]
    for spec in LAYERS.values():
        if spec.geometry_field.column != "geom":
            raise ValueError(f"layer {spec.name}: the purge trigger expects its column 'geom'")
        table = sql.Identifier(spec.model._meta.db_table)
        statements += [
            sql.SQL(
                "CREATE OR REPLACE TRIGGER citygis_tile_purge AFTER INSERT OR UPDATE OR DELETE "
                "ON {} FOR EACH ROW EXECUTE FUNCTION citygis_tile_purge({})"
            ).format(table, sql.Literal(spec.name)),
            sql.SQL(
                "CREATE OR REPLACE TRIGGER citygis_tile_purge_truncate AFTER TRUNCATE "
                "ON {} FOR EACH STATEMENT EXECUTE FUNCTION citygis_tile_purge({})"
            ).format(table, sql.Literal(spec.name)),
        ]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement.as_string())
