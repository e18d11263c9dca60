"""Writes to the layers that are not imports: search keys, and tables in spatial order."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from django.db import connection, models, transaction
from psycopg import sql

from layers.addresses import street_key
from layers.models import Building, Street, StreetAlias, StreetName
from layers.registry import LayerSpec
from layers.sql import column
from layers.triggers import addressed_layers

KEY_FIELDS = ("search_key", "street_key", "house_key", "house_number", "name_key")
REFRESH_BATCH = 5000


@dataclass(frozen=True, slots=True)
class KeysRefreshed:
    layer: str
    rows: int
    changed: int


class SearchKeyed(Protocol):
    """A row that keeps stored search keys (``layers.models``' key mixins and their models)."""

    pk: Any

    def refresh_search_key(self) -> None: ...


def keyed_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """The stored search-key fields of a model, in ``KEY_FIELDS`` order (none: not searchable)."""
    fields = {f.name: f for f in model._meta.concrete_fields}
    return [fields[name] for name in KEY_FIELDS if name in fields]


def _update_statement(model: type[models.Model], fields: list[models.Field[Any, Any]]) -> str:
    # One UPDATE … FROM unnest(arrays) per batch: Django's bulk_update writes a CASE with a WHEN
    # per row for every column, quadratic in the batch size; this is one join on the primary key.
    # Only rows whose keys differ are written, so a second run touches nothing (and fires no
    # tile purge).
    columns = [sql.Identifier(column(f)) for f in fields]
    types = [
        sql.SQL("integer[]" if isinstance(f, models.IntegerField) else "text[]") for f in fields
    ]
    return (
        sql.SQL(
            "UPDATE {table} t SET {sets} FROM unnest(%s::bigint[], {arrays}) AS v(id, {columns}) "
            "WHERE t.id = v.id AND ({old}) IS DISTINCT FROM ({new})"
        )
        .format(
            table=sql.Identifier(model._meta.db_table),
            sets=sql.SQL(", ").join(sql.SQL("{0} = v.{0}").format(c) for c in columns),
            arrays=sql.SQL(", ").join(sql.SQL("%s::{}").format(t) for t in types),
            columns=sql.SQL(", ").join(columns),
            old=sql.SQL(", ").join(sql.SQL("t.{}").format(c) for c in columns),
            new=sql.SQL(", ").join(sql.SQL("v.{}").format(c) for c in columns),
        )
        .as_string()
    )


def search_keys_refresh(
    *,
    spec: LayerSpec,
    batch: int = REFRESH_BATCH,
    progress: Callable[[int], None] | None = None,
) -> KeysRefreshed:
    """Recompute a layer's stored search keys from its fields, for rows written by plain SQL.

    Each batch (by primary key) is its own transaction, so a long run can be stopped and run
    again; rows whose keys are already right are not written.
    """
    model = spec.model
    fields = keyed_fields(model)
    if not fields:
        raise ValueError(f"layer {spec.name!r} has no search keys")
    statement = _update_statement(model, fields)
    rows = changed = 0
    last = 0
    queryset = model._default_manager.defer(spec.geometry_field.name).order_by("pk")
    while True:
        # A model with key fields has the mixin that refreshes them (keyed_fields above).
        objs = cast(list[SearchKeyed], list(queryset.filter(pk__gt=last)[:batch]))
        if not objs:
            break
        columns: list[list[Any]] = [[] for _ in fields]
        ids = []
        for obj in objs:
            obj.refresh_search_key()
            ids.append(obj.pk)
            for values, field in zip(columns, fields, strict=True):
                values.append(getattr(obj, field.attname))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [ids, *columns])
            changed += cursor.rowcount
        rows += len(objs)
        last = objs[-1].pk
        if progress:
            progress(len(objs))
    return KeysRefreshed(layer=spec.name, rows=rows, changed=changed)


def street_names_refresh() -> tuple[int, int]:
    """Make ``StreetName`` exactly the street keys in use; returns (added, removed).

    The triggers add keys as rows are written; this also adds those of rows written while
    triggers were off (a bulk copy with ``session_replication_role = replica``) and drops the
    keys no row uses any more (a street renamed or its houses deleted).
    """
    with transaction.atomic(), connection.cursor() as cursor:
        return street_names_sync(
            cursor,
            names=StreetName._meta.db_table,
            tables=[spec.model._meta.db_table for spec in addressed_layers()],
        )


def street_names_sync(cursor: Any, *, names: str, tables: list[str]) -> tuple[int, int]:
    """Make table ``names`` exactly the street keys ``tables`` use; returns (added, removed).

    By table name, so that a migration (``layers.rekey``) runs it on its historical schema.
    """
    table = sql.Identifier(names)
    used = sql.SQL(" UNION ").join(
        sql.SQL("SELECT street_key FROM {} WHERE street_key <> ''").format(sql.Identifier(t))
        for t in tables
    )
    cursor.execute(
        sql.SQL(
            "INSERT INTO {table} (key) SELECT street_key FROM ({used}) u ORDER BY 1 "
            "ON CONFLICT (key) DO NOTHING"
        )
        .format(table=table, used=used)
        .as_string(cursor.connection)
    )
    added = cursor.rowcount
    cursor.execute(
        sql.SQL("DELETE FROM {table} WHERE key NOT IN ({used})")
        .format(table=table, used=used)
        .as_string(cursor.connection)
    )
    return added, cursor.rowcount


def _name_variants(name: str, names: dict[str, str]) -> list[tuple[str, str]]:
    """(language, name) of every name a street goes by; ``old_name=A; B`` is two.

    Those of a language come first, so that a name that is also the plain one is known by its
    language (what the search shows a viewer of that language).
    """
    variants = []
    for language, value in names.items():
        variants += [(language, v.strip()) for v in str(value).split(";") if v.strip()]
    return [*variants, ("", name)] if name else variants


def street_aliases_refresh() -> int:
    """Rebuild ``StreetAlias`` from the streets' other names and the houses' other streets.

    A street's every name (``name``, ``name:ru`` …, ``old_name``) becomes an alias of each of
    its names that houses carry as their street (a key in ``StreetName``); a house's street in
    another language (``addr:street:ru``) an alias of its own street. Returns the number of
    aliases; a run that would change nothing writes nothing.
    """
    used = set(StreetName.objects.values_list("key", flat=True))
    aliases: dict[tuple[str, str], tuple[str, str]] = {}
    streets = Street.objects.exclude(names={}).values_list("name", "names").distinct()
    for name, names in streets.iterator():
        keys = [(lang, n, street_key(n)) for lang, n in _name_variants(name, names)]
        targets = sorted({key for _, _, key in keys if key in used})
        for language, variant, key in keys:
            for target in targets:
                if key and key != target:
                    aliases.setdefault((key, target), (variant, language))
    houses = (
        Building.objects.exclude(street_names={})
        .exclude(street_key="")
        .values_list("street_key", "street_names")
        .distinct()
    )
    for target, names in houses.iterator():
        for language, variant in _name_variants("", names):
            key = street_key(variant)
            if key and key != target:
                aliases.setdefault((key, target), (variant, language))
    current = {
        (a.key, a.target): (a.name, a.language) for a in StreetAlias.objects.all().iterator()
    }
    if current != aliases:
        with transaction.atomic():
            StreetAlias.objects.all().delete()
            StreetAlias.objects.bulk_create(
                (
                    StreetAlias(key=key, target=target, name=name[:255], language=language[:16])
                    for (key, target), (name, language) in sorted(aliases.items())
                ),
                batch_size=5000,
            )
    return len(aliases)


# --- physical order --------------------------------------------------------------------------

# A bulk load that creates at least this share of a layer's rows re-orders its table.
CLUSTER_MIN_SHARE = 0.1


@dataclass(frozen=True, slots=True)
class LayerClustered:
    layer: str
    rows: int
    seconds: float


def layer_cluster(*, spec: LayerSpec) -> LayerClustered | None:
    """Rewrite a layer's table in the order of a space-filling curve (``CLUSTER``), then ANALYZE.

    Rows arrive in file or id order, so the features of one tile lie on about as many heap pages
    as there are features; in curve order (PostGIS's B-tree order of the rows' centroids) neighbours
    share pages. On the synthetic city's 300,000 buildings a z16 tile then costs PostgreSQL about a
    fifth less (docs/benchmarks.md, "Vector tiles"). The B-tree index exists only for the
    rewrite. The table is locked (ACCESS EXCLUSIVE) meanwhile, about 13 s for those 300,000 rows,
    so importers do it only after a bulk load. None for a computed layer (a view).
    """
    if spec.computed:
        return None
    table = spec.model._meta.db_table
    index = sql.Identifier(f"{table}_cluster_order"[:63])
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in (
            # On a point per row: a B-tree entry holds its whole key, and a large polygon's
            # would not fit in one (PostGIS orders points along a Hilbert curve).
            "CREATE INDEX {index} ON {table} USING btree (ST_Centroid({geom}))",
            "CLUSTER {table} USING {index}",
            "DROP INDEX {index}",
            "ANALYZE {table}",
        ):
            cursor.execute(
                sql.SQL(statement)
                .format(
                    index=index,
                    table=sql.Identifier(table),
                    geom=sql.Identifier(column(spec.geometry_field)),
                )
                .as_string()
            )
        rows = spec.model._default_manager.count()
    return LayerClustered(layer=spec.name, rows=rows, seconds=time.monotonic() - started)
