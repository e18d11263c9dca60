"""The statement that answers an address or name search (``layers.search`` plans and runs it).

1. the query's street key is matched by trigram (``%``, GIN) against ``StreetName``, the few
   thousand distinct street keys, not the rows, and against ``StreetAlias``, the keys of the
   streets' other names (in another language, from before a renaming), each standing for the
   key its houses carry: that is where one typo is forgiven, and it is cheap because the tables
   are small; the best ``STREET_CANDIDATES`` are kept with their similarity;
2. the houses on those streets come from the btree on (street_key, house_number, house_key):
   every part of the asked number (the exact house key; 12 or 12к1 for 12к2), then — per street,
   two short index scans either side of the number — the numbers nearest to it; a query without
   a house number lists the street's houses, nearest to ``near`` first (KNN on the GiST index
   over (street_key, geom));
3. layers with a name (parks, playgrounds, bus stops, streets …) are matched by trigram on their
   ``name_key`` (GIN); a line layer's segments of one name (a street) collapse into one hit;
4. hits are ranked by tier — 3: the exact house, or a named object when the query has no house
   number; 2: the same number with another part; 1: a nearby number, a house on the street when
   no number was asked, or a named object when one was (so "615 N Wolfe St", with no such house,
   shows North Wolfe Street before the houses of South Wolfe Street) — then street or name
   similarity, then closeness of the number (a named object after the houses), then distance to
   ``near``.

The statement is composed once per combination of layers and query shape with ``psycopg.sql``
(identifiers only from the registry, every value a parameter), cached, and run as a prepared
statement (``layers.search.search_rows``): composing it through the ORM, or having the server
plan it on every request, would cost more than the database spends answering it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from django.conf import settings
from psycopg import sql

from layers.model_base import NameKeyMixin
from layers.models import StreetAlias, StreetName
from layers.registry import LAYERS, LayerSpec
from layers.sql import QUERY_POINT, column, scope_column

# Streets kept from the trigram match: enough for a typo that sits as close to two or three
# real streets, few enough that fetching their houses stays a handful of index probes.
STREET_CANDIDATES = 8
TIER_EXACT, TIER_SAME_NUMBER, TIER_NEAR = 3, 2, 1
# How far a named object's "number" is, when the query asked for a house: after every house.
NAMED_DIFF = 2**31 - 1


@lru_cache(maxsize=256)
def _has_field(spec: LayerSpec, name: str) -> bool:
    return any(f.name == name for f in spec.model._meta.concrete_fields)


def is_addressed(spec: LayerSpec) -> bool:
    return _has_field(spec, "street_key")


def is_named(spec: LayerSpec) -> bool:
    return _has_field(spec, "name_key")


def _column(spec: LayerSpec, name: str) -> sql.Composable:
    return sql.SQL("t.{}").format(sql.Identifier(column(spec.model._meta.get_field(name))))


def _words(spec: LayerSpec, names: Sequence[str], sep: str) -> sql.Composable:
    return sql.SQL("concat_ws({}, {})").format(
        sql.Literal(sep),
        sql.SQL(", ").join(sql.SQL("NULLIF({}, '')").format(_column(spec, n)) for n in names),
    )


def _address_label(spec: LayerSpec) -> sql.Composable:
    """The address as the model shows it ("улица Ленина, 12 корп. 2"), with its city if any."""
    if _has_field(spec, "housenumber"):
        if settings.ADDRESS_NUMBER_FIRST:
            label = _words(spec, ("housenumber", "street"), " ")
        else:
            label = _words(spec, ("street", "housenumber"), ", ")
        if _has_field(spec, "city"):
            label = sql.SQL("concat_ws(', ', NULLIF({}, ''), NULLIF({}, ''))").format(
                label, _column(spec, "city")
            )
        return label
    return _column(spec, "address")


def _name_label(spec: LayerSpec) -> sql.Composable:
    # A layer searched by name keeps a name key: its model is a NameKeyMixin.
    names = spec.model.name_fields if issubclass(spec.model, NameKeyMixin) else ("name",)
    return _words(spec, names, " ")


def _scope(spec: LayerSpec, scoped: bool) -> sql.Composable:
    if not scoped:
        return sql.SQL("")
    return sql.SQL(" AND t.{} = %(organisation)s").format(sql.Identifier(scope_column(spec)))


def _distance(geom: sql.Composable, near: bool) -> sql.Composable:
    # Planar degrees: only ever compared with each other, to break ties between equal matches.
    return sql.SQL("({} <-> {})").format(geom, QUERY_POINT) if near else sql.SQL("0::float8")


def _select(
    spec: LayerSpec,
    order: int,
    *,
    alias: str,
    label: sql.Composable,
    tier: sql.Composable,
    sim: sql.Composable,
    diff: sql.Composable,
    near: bool,
) -> sql.Composable:
    """The select list (after SELECT) every branch shares, so that the branches UNION."""
    # A branch selects from the table itself (t) or from a lateral sub-select (n, its geometry
    # as "geom").
    geom_column = column(spec.geometry_field) if alias == "t" else "geom"
    geom = sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(geom_column))
    return sql.SQL(
        "{layer}::text AS layer, {order} AS lo, {a}.id, {label} AS label, {geom} AS geom, "
        "{tier} AS tier, ({sim})::float8 AS sim, {diff} AS diff, {dist} AS dist"
    ).format(
        layer=sql.Literal(spec.name),
        order=sql.Literal(order),
        a=sql.Identifier(alias),
        label=label,
        geom=geom,
        tier=tier,
        sim=sim,
        diff=diff,
        dist=_distance(geom, near),
    )


_RANK = sql.SQL("tier DESC, sim DESC, diff, dist, lo, id")


def _inner_rows(
    spec: LayerSpec, *, scoped: bool, where: sql.Composable, order: sql.Composable
) -> sql.Composable:
    """Houses of one candidate street ``s``, as the lateral side of a branch."""
    return sql.SQL(
        "(SELECT t.id, {label} AS label, t.{geom} AS geom, t.house_number FROM {table} t "
        "WHERE t.street_key = s.key AND {where}{scope} ORDER BY {order} LIMIT %(lim)s)"
    ).format(
        label=_address_label(spec),
        geom=sql.Identifier(column(spec.geometry_field)),
        table=sql.Identifier(spec.model._meta.db_table),
        where=where,
        scope=_scope(spec, scoped),
        order=order,
    )


def _address_branches(
    spec: LayerSpec, order: int, *, scoped: bool, house: bool, near: bool
) -> list[sql.Composable]:
    table = sql.Identifier(spec.model._meta.db_table)
    if not house:
        # With ``near``: KNN on the GiST index over (street_key, geom), nearest first within the
        # street; without: the btree's order, lowest numbers first.
        inner = _inner_rows(
            spec,
            scoped=scoped,
            # Implies the predicate of the partial GiST on (street_key, geom) (layers.models).
            where=sql.SQL("t.street_key <> ''"),
            order=sql.SQL("{} <-> {}").format(_column(spec, spec.geometry_field.name), QUERY_POINT)
            if near
            else sql.SQL("t.house_number, t.house_key, t.id"),
        )
        return [
            sql.SQL(
                "(SELECT {select} FROM street_keys s CROSS JOIN LATERAL {inner} n "
                "ORDER BY {rank} LIMIT %(lim)s)"
            ).format(
                select=_select(
                    spec,
                    order,
                    alias="n",
                    label=sql.SQL("n.label"),
                    tier=sql.Literal(TIER_NEAR),
                    sim=sql.SQL("s.sim"),
                    diff=sql.SQL("0" if near else "coalesce(n.house_number, 0)"),
                    near=near,
                ),
                inner=inner,
                rank=_RANK,
            )
        ]
    # The asked number on each street, every part of it: the exact house key (tier 3) and the
    # number's other parts (tier 2), all of them ranked — a real street has a handful.
    number = sql.SQL(
        "(SELECT {select} FROM street_keys s JOIN {table} t ON t.street_key = s.key "
        "WHERE t.house_number = %(num)s{scope} ORDER BY {rank} LIMIT %(lim)s)"
    ).format(
        select=_select(
            spec,
            order,
            alias="t",
            label=_address_label(spec),
            tier=sql.SQL("CASE WHEN t.house_key = %(house)s THEN {} ELSE {} END").format(
                sql.Literal(TIER_EXACT), sql.Literal(TIER_SAME_NUMBER)
            ),
            sim=sql.SQL("s.sim"),
            # Among the number's other parts, those closest to the asked one first: the same
            # corner house ("4/17" of 4/17с6), then the same корпус/строение ("с6" of 4/17с6).
            diff=sql.SQL(
                "CASE WHEN t.house_key = %(house)s THEN 0 ELSE "
                "(CASE WHEN substring(t.house_key FROM '^[^кс]*') = %(body)s THEN 0 ELSE 2 END) "
                "+ (CASE WHEN %(parts)s <> '' AND right(t.house_key, length(%(parts)s)) "
                "= %(parts)s THEN 0 ELSE 1 END) END"
            ),
            near=near,
        ),
        table=table,
        scope=_scope(spec, scoped),
        rank=_RANK,
    )
    # The numbers either side, per street: two index range scans that stop after ``lim`` rows,
    # whatever the street's length.
    above = _inner_rows(
        spec,
        scoped=scoped,
        where=sql.SQL("t.house_number > %(num)s"),
        order=sql.SQL("t.house_number"),
    )
    below = _inner_rows(
        spec,
        scoped=scoped,
        where=sql.SQL("t.house_number < %(num)s"),
        order=sql.SQL("t.house_number DESC"),
    )
    nearby = sql.SQL(
        "(SELECT {select} FROM street_keys s CROSS JOIN LATERAL ({above} UNION ALL {below}) n "
        "ORDER BY {rank} LIMIT %(lim)s)"
    ).format(
        select=_select(
            spec,
            order,
            alias="n",
            label=sql.SQL("n.label"),
            tier=sql.Literal(TIER_NEAR),
            sim=sql.SQL("s.sim"),
            diff=sql.SQL("abs(n.house_number - %(num)s)"),
            near=near,
        ),
        above=above,
        below=below,
        rank=_RANK,
    )
    return [number, nearby]


def _named_branch(
    spec: LayerSpec, order: int, *, scoped: bool, house: bool, near: bool, two_names: bool
) -> sql.Composable:
    key = _column(spec, "name_key")
    match = sql.SQL("{} %% %(name)s").format(key)
    sim = sql.SQL("similarity({}, %(name)s)").format(key)
    if two_names:
        # The words besides the house number ("Charles St" of "1200 Charles St"), and the whole
        # query (a bus route "10", a name with a number in it).
        match = sql.SQL("({} OR {} %% %(full)s)").format(match, key)
        sim = sql.SQL("greatest({}, similarity({}, %(full)s))").format(sim, key)
    select = _select(
        spec,
        order,
        alias="t",
        label=_name_label(spec),
        tier=sql.Literal(TIER_NEAR if house else TIER_EXACT),
        sim=sim,
        diff=sql.Literal(NAMED_DIFF if house else 0),
        near=near,
    )
    table = sql.Identifier(spec.model._meta.db_table)
    if spec.geometry_type == "LineString":
        # The segments of one street (or one named line) are one hit: the segment nearest to
        # ``near``, else the first.
        return sql.SQL(
            "(SELECT * FROM (SELECT DISTINCT ON ({key}) {select} FROM {table} t "
            "WHERE {match}{scope} ORDER BY {key}, dist, t.id) c ORDER BY {rank} LIMIT %(lim)s)"
        ).format(
            key=key, select=select, table=table, match=match, scope=_scope(spec, scoped), rank=_RANK
        )
    return sql.SQL(
        "(SELECT {select} FROM {table} t WHERE {match}{scope} ORDER BY {rank} LIMIT %(lim)s)"
    ).format(select=select, table=table, match=match, scope=_scope(spec, scoped), rank=_RANK)


@lru_cache(maxsize=256)
def search_statement(
    *,
    addressed: tuple[tuple[str, bool], ...],
    named: tuple[tuple[str, bool], ...],
    house: bool,
    near: bool,
    two_names: bool,
) -> str | None:
    """The whole search as one statement; ``addressed``/``named`` are (layer, scoped) pairs.

    Its one row is the answer as JSON text (``search_json``). None when there is nothing to look
    in (no street words and no name words).
    """
    order = {name: i for i, name in enumerate(LAYERS)}
    branches: list[sql.Composable] = []
    for name, scoped in addressed:
        branches += _address_branches(
            LAYERS[name], order[name], scoped=scoped, house=house, near=near
        )
    for name, scoped in named:
        branches.append(
            _named_branch(
                LAYERS[name],
                order[name],
                scoped=scoped,
                house=house,
                near=near,
                two_names=two_names,
            )
        )
    if not branches:
        return None
    streets: sql.Composable = sql.SQL("")
    if addressed:
        # The street keys the houses carry, and those reached by another name of the street
        # (StreetAlias: its name in another language, its old name), each at its best match.
        streets = sql.SQL(
            "street_keys AS MATERIALIZED (SELECT key, max(sim) AS sim FROM ("
            "SELECT key, similarity(key, %(street)s) AS sim FROM {names} "
            "WHERE key %% %(street)s UNION ALL "
            "SELECT target, similarity(key, %(street)s) FROM {aliases} "
            "WHERE key %% %(street)s) m GROUP BY key ORDER BY sim DESC, key LIMIT {n}), "
        ).format(
            names=sql.Identifier(StreetName._meta.db_table),
            aliases=sql.Identifier(StreetAlias._meta.db_table),
            n=sql.Literal(STREET_CANDIDATES),
        )
    return (
        sql.SQL(
            "WITH {streets}hits AS ({branches}), "
            # An object found twice (a yard by address and by name) keeps its best match.
            "best AS (SELECT DISTINCT ON (lo, id) * FROM hits "
            "ORDER BY lo, id, tier DESC, sim DESC, diff, dist), "
            "top AS (SELECT * FROM best ORDER BY {rank} LIMIT %(lim)s) "
            # The answer, as GET /api/search sends it: the score ranks like the hits, but for
            # the distance to ``near``.
            "SELECT json_build_object('parsed', json_build_object("
            "'street', %(street)s::text, 'housenumber', %(house)s::text), "
            "'results', coalesce(json_agg(json_build_object("
            "'layer', layer, 'id', id, 'address', {label}, "
            "'centroid', json_build_array(ST_X(c), ST_Y(c)), "
            "'score', round(((tier + sim) / 4)::numeric, 3)::float8) ORDER BY {rank}), '[]'"
            "))::text "
            "FROM (SELECT top.*, CASE WHEN ST_Dimension(geom) = 2 "
            "AND ST_Contains(geom, ST_Centroid(geom)) "
            "THEN ST_Centroid(geom) ELSE ST_PointOnSurface(geom) END AS c FROM top) x"
        )
        .format(
            streets=streets,
            branches=sql.SQL(" UNION ALL ").join(branches),
            rank=_RANK,
            label=_label_in_language([LAYERS[name] for name, _ in addressed]),
        )
        .as_string()
    )


def _label_in_language(addressed: Sequence[LayerSpec]) -> sql.Composable:
    """A hit's label, its street named in the viewer's language (``%(lang)s``) where it has one.

    A Minsk house stored under "праспект Незалежнасці" reads "проспект Независимости, 16" to a
    viewer in Russian: the street's name in that language from ``StreetAlias``. Only the hits
    kept are looked up, each by its primary key.
    """
    branches = [
        sql.SQL(
            "WHEN {layer} THEN coalesce((SELECT replace(x.label, t.street, a.name) "
            "FROM {table} t JOIN {aliases} a ON a.target = t.street_key "
            "AND a.language = %(lang)s WHERE t.id = x.id AND t.street <> '' "
            "ORDER BY a.id LIMIT 1), x.label)"
        ).format(
            layer=sql.Literal(spec.name),
            table=sql.Identifier(spec.model._meta.db_table),
            aliases=sql.Identifier(StreetAlias._meta.db_table),
        )
        for spec in addressed
        if _has_field(spec, "street")
    ]
    if not branches:
        return sql.SQL("label")
    # Only when some street has a name in that language: a city without any pays one probe.
    return sql.SQL(
        "CASE WHEN (SELECT EXISTS (SELECT 1 FROM {aliases} WHERE language = %(lang)s)) "
        "THEN CASE x.layer {branches} ELSE x.label END ELSE x.label END"
    ).format(
        aliases=sql.Identifier(StreetAlias._meta.db_table), branches=sql.SQL(" ").join(branches)
    )
