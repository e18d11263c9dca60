"""Recompute the stored search keys in a migration, when ``layers.addresses`` changes them.

The keys (``search_key``, ``street_key``, ``house_key``, ``house_number``, ``name_key``) are
derived from the rows' fields by the functions of ``layers.addresses``. When those change what
they make of a text (a new house-number form, a new street type), the keys already stored are
stale, and the search no longer finds what the new parser reads from a query. A migration then
runs ``recompute_search_keys``: every searchable table of the ``layers`` app, read and written
in batches by primary key through the migration's historical models' tables, writing only the
rows whose keys changed, then the table of street names.

It reads the tables by column, not through the models' methods, so that it runs on the schema
of the migration that calls it.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from layers.addresses import address_keys, house_number_key, name_key, parse_address
from layers.addresses import street_key as street_key_of
from layers.services import street_names_sync

BATCH = 5000
# The fields a model's name key is made of, where they are not just ``name``
# (``NameKeyMixin.name_fields``).
NAME_FIELDS = {"busroute": ("ref", "name")}


def _keys(row: dict[str, Any], name_fields: tuple[str, ...]) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    if "name_key" in row:
        keys["name_key"] = name_key(" ".join(row[f] for f in name_fields if row[f]))
    if "street_key" in row:
        if "housenumber" in row:
            street, house = street_key_of(row["street"]), house_number_key(row["housenumber"])
        else:
            parsed = parse_address(row["address"] or "")
            street, house = parsed.street, parsed.housenumber
        keys |= address_keys(street, house)
    return keys


def _recompute_table(cursor: Any, table: str, columns: set[str], model_name: str) -> int:
    name_fields = NAME_FIELDS.get(model_name, ("name",))
    key_columns = [
        c
        for c in ("name_key", "street_key", "house_key", "house_number", "search_key")
        if c in columns
    ]
    if "street_key" in columns:
        sources = ["street", "housenumber"] if "housenumber" in columns else ["address"]
    else:
        sources = []
    if "name_key" in columns:
        sources += [f for f in name_fields if f not in sources]
    read = ["id", *sources, *key_columns]
    select = sql.SQL("SELECT {} FROM {} WHERE id > %s ORDER BY id LIMIT %s").format(
        sql.SQL(", ").join(map(sql.Identifier, read)), sql.Identifier(table)
    )
    update = sql.SQL(
        "UPDATE {table} t SET {sets} FROM unnest(%s::bigint[], {arrays}) AS v(id, {columns}) "
        "WHERE t.id = v.id"
    ).format(
        table=sql.Identifier(table),
        sets=sql.SQL(", ").join(
            sql.SQL("{0} = v.{0}").format(sql.Identifier(c)) for c in key_columns
        ),
        arrays=sql.SQL(", ").join(
            sql.SQL("%s::integer[]" if c == "house_number" else "%s::text[]") for c in key_columns
        ),
        columns=sql.SQL(", ").join(map(sql.Identifier, key_columns)),
    )
    changed, last = 0, 0
    while True:
        cursor.execute(select.as_string(cursor.connection), [last, BATCH])
        rows = [dict(zip(read, values, strict=True)) for values in cursor.fetchall()]
        if not rows:
            return changed
        ids: list[int] = []
        values: list[list[Any]] = [[] for _ in key_columns]
        for row in rows:
            keys = _keys(row, name_fields)
            if any(keys[c] != row[c] for c in key_columns):
                ids.append(row["id"])
                for column, value in zip(values, key_columns, strict=True):
                    column.append(keys[value])
        if ids:
            cursor.execute(update.as_string(cursor.connection), [ids, *values])
            changed += len(ids)
        last = rows[-1]["id"]


def recompute_search_keys(apps: Any, schema_editor: Any) -> int:
    """``RunPython`` operation: every stored search key of the layers app, as the code makes it.

    Returns the number of rows whose keys it changed.
    """
    connection = schema_editor.connection
    addressed, changed = [], 0
    with connection.cursor() as cursor:
        for model in apps.get_app_config("layers").get_models():
            columns = {f.column for f in model._meta.concrete_fields}
            if not columns & {"name_key", "street_key"}:
                continue
            changed += _recompute_table(
                cursor, model._meta.db_table, columns, model._meta.model_name
            )
            if "street_key" in columns:
                addressed.append(model._meta.db_table)
        if addressed:
            street_names_sync(
                cursor,
                names=apps.get_model("layers", "StreetName")._meta.db_table,
                tables=addressed,
            )
    return changed
