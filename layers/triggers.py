"""Database triggers that keep ``StreetName`` (the distinct street keys) in step with the rows.

Every addressed table (a registry layer whose model has ``street_key``) gets two statement
triggers that insert the street keys of the rows just inserted or updated, ``ON CONFLICT DO
NOTHING``. Being statement triggers over the transition table, a bulk import of 300,000 rows costs
one ``SELECT DISTINCT``; being in the database, they see imports, the admin and plain SQL alike.
Keys no row uses any more are dropped by ``layers.services.street_names_refresh``.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from psycopg import sql

from layers.models import StreetName
from layers.registry import LAYERS, LayerSpec


def addressed_layers() -> list[LayerSpec]:
    """Registry layers searched by address: their models store ``street_key``/``house_key``."""
    return [
        spec
        for spec in LAYERS.values()
        if any(f.name == "street_key" for f in spec.model._meta.concrete_fields)
    ]


FUNCTION = """
CREATE OR REPLACE FUNCTION citygis_street_names() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {table} (key)
    SELECT DISTINCT street_key FROM new_rows WHERE street_key <> ''
    ORDER BY 1
    ON CONFLICT (key) DO NOTHING;
    RETURN NULL;
END
$$;
"""


def install_street_name_triggers(**_kwargs: Any) -> None:
    """(Re)create the function and the triggers on every addressed table; idempotent."""
    statements: list[sql.Composable] = [
        sql.SQL(FUNCTION).format(table=sql.Identifier(StreetName._meta.db_table))
    ]
    for spec in addressed_layers():
        table = sql.Identifier(spec.model._meta.db_table)
        # Transition tables allow one event per trigger: one for INSERT, one for UPDATE.
        for event in ("INSERT", "UPDATE"):
            statements.append(
                sql.SQL(
                    "CREATE OR REPLACE TRIGGER {name} AFTER {event} ON {table} "
                    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
                    "EXECUTE FUNCTION citygis_street_names()"
                ).format(
                    name=sql.Identifier(f"citygis_street_names_{event.lower()}"),
                    event=sql.SQL(event),
                    table=table,
                )
            )
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement.as_string())
