"""Database triggers that announce every change to a layer's rows, for the tile cache purge.

Each layer table gets a row trigger that sends, on channel ``citygis_tiles``, the layer's name
and the bounding boxes of the row's old and new geometry (``"buildings w s e n;w s e n"``).
Being in the database, it fires for the API, the admin, imports and plain SQL alike; the
notification is delivered when the transaction commits, and never for one rolled back.

A layer that is a database view (``works``) gets no trigger — a view has no rows of its own to
change: the layers it is ``fed_by`` announce its changes, and the purge extends to it.

The tile front also remembers who a token or a session is (tiles/asgi.py, ``TOKEN_TTL_S``), in
each server process. So that a token revoked, an account switched off or given another role, or
a session logged out on one instance stops working on every instance at once, and not only
after that time, those tables announce their changes on ``citygis_viewers``; every listening
server then forgets the viewers it knew.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import connection
from psycopg import sql
from rest_framework.authtoken.models import Token

from layers.registry import LAYERS, LayerSpec
from layers.sql import column

CHANNEL = "citygis_tiles"
VIEWERS_CHANNEL = "citygis_viewers"

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


VIEWERS_FUNCTION = """
CREATE OR REPLACE FUNCTION citygis_viewers_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('citygis_viewers', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
"""
# Who a token or session is depends on these columns of the account (gis.roles.viewer_for); a
# login's last_login must not make every server forget every viewer. A password change ends the
# account's sessions (Django's session hash).
VIEWER_COLUMNS = ("role", "organisation_id", "is_active", "is_superuser", "password")


def viewer_triggers() -> list[sql.Composable]:
    """Statement triggers announcing a revoked token, a changed account, an ended session."""
    user_table = sql.Identifier(get_user_model()._meta.db_table)
    columns = sql.SQL(", ").join(map(sql.Identifier, VIEWER_COLUMNS))
    what = [
        (sql.Identifier(Token._meta.db_table), sql.SQL("UPDATE OR DELETE OR TRUNCATE")),
        (user_table, sql.SQL("UPDATE OF {} OR DELETE OR TRUNCATE").format(columns)),
        (sql.Identifier(Session._meta.db_table), sql.SQL("DELETE OR TRUNCATE")),
    ]
    return [sql.SQL(VIEWERS_FUNCTION)] + [
        sql.SQL(
            "CREATE OR REPLACE TRIGGER citygis_viewers_changed AFTER {} ON {} "
            "FOR EACH STATEMENT EXECUTE FUNCTION citygis_viewers_changed()"
        ).format(events, table)
        for table, events in what
    ]


def tile_columns(spec: LayerSpec) -> list[str]:
    """The columns a layer's tiles are drawn from: its geometry and every property any role sees.

    Only an update of one of these can change a tile; rewriting search keys or timestamps must
    not purge anything (a `refresh_search_keys` over 300,000 rows would purge the whole city).
    """
    names = (
        spec.common_properties
        + spec.properties
        + spec.staff_properties
        + (spec.geometry_field.name,)
    )
    return sorted({column(spec.model._meta.get_field(name)) for name in names})


def views(tables: list[str]) -> set[str]:
    """Those of the tables that are views (or materialized views) in the database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t FROM unnest(%s::text[]) t JOIN pg_class c ON c.oid = to_regclass(t) "
            "WHERE c.relkind IN ('v', 'm')",
            [tables],
        )
        return {row[0] for row in cursor.fetchall()}


def install_purge_triggers(**_kwargs: Any) -> None:
    """(Re)create the trigger functions, the triggers of every registry table and the viewers'.

    Idempotent.
    """
    statements: list[sql.Composable] = [sql.SQL(FUNCTION), *viewer_triggers()]
    skipped = views([spec.model._meta.db_table for spec in LAYERS.values()])
    for spec in LAYERS.values():
        if spec.model._meta.db_table in skipped:
            if not spec.fed_by:
                raise ValueError(f"layer {spec.name}: a view must name the layers feeding it")
            continue
        if spec.geometry_field.column != "geom":
            raise ValueError(f"layer {spec.name}: the purge trigger expects its column 'geom'")
        table = sql.Identifier(spec.model._meta.db_table)
        layer = sql.Literal(spec.name)
        columns = sql.SQL(", ").join(map(sql.Identifier, tile_columns(spec)))
        statements += [
            sql.SQL("DROP TRIGGER IF EXISTS citygis_tile_purge ON {}").format(table),
            sql.SQL(
                "CREATE OR REPLACE TRIGGER citygis_tile_purge_rows AFTER INSERT OR DELETE "
                "ON {} FOR EACH ROW EXECUTE FUNCTION citygis_tile_purge({})"
            ).format(table, layer),
            sql.SQL(
                "CREATE OR REPLACE TRIGGER citygis_tile_purge_update AFTER UPDATE OF {} "
                "ON {} FOR EACH ROW EXECUTE FUNCTION citygis_tile_purge({})"
            ).format(columns, table, layer),
            sql.SQL(
                "CREATE OR REPLACE TRIGGER citygis_tile_purge_truncate AFTER TRUNCATE "
                "ON {} FOR EACH STATEMENT EXECUTE FUNCTION citygis_tile_purge({})"
            ).format(table, layer),
        ]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement.as_string())
