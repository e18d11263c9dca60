"""The address and name search behind ``GET /api/search`` (view: ``layers.api``).

A query is normalised once, in Python, by the same functions that computed the stored keys
(``layers.addresses.parse_address``): a street key, a house key and a name key. Then one
statement answers it (``layers.search_sql``: streets by trigram, their houses by the
number, named objects by trigram, ranked by tier, similarity, number and distance), composed
once per combination of layers and query shape and run as a prepared statement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, NamedTuple

import orjson
from django.db import DEFAULT_DB_ALIAS

from gis.exceptions import ApplicationError
from gis.prepared import prepared_rows
from gis.replica import replica_read
from gis.roles import Role, Viewer
from layers.addresses import (
    ParsedAddress,
    house_number_value,
    house_parts,
    keyboard_layout_swap,
    name_key,
    parse_address,
)
from layers.registry import LAYERS, LayerSpec, get_layer, layers_for
from layers.search_sql import TIER_EXACT, is_addressed, is_named, search_statement

MIN_QUERY_CHARS = 2
MAX_QUERY_CHARS = 200
DEFAULT_LIMIT = 10
MAX_LIMIT = 50
# Under this top score the first reading found neither the house asked for nor a name (both
# score (TIER_EXACT + sim) / 4 ≥ 0.75), and the query's keyboard-layout reading is tried too.
WEAK_SCORE = TIER_EXACT / 4


class BadSearch(ApplicationError):
    code = "bad_query"


class SearchHit(NamedTuple):
    """One hit, for Python callers (appeals and permits geocode addresses with the search)."""

    layer: str
    id: int
    address: str
    """The address, or the name of a named object."""
    centroid: tuple[float, float]
    """lon, lat: the centroid, or a point on the object when the centroid falls outside it."""
    score: float
    """(tier + similarity) / 4, in 0…1: ranks like the hits, but for the distance to ``near``."""


@dataclass(frozen=True, slots=True)
class SearchResult:
    parsed: ParsedAddress
    hits: list[SearchHit]


def search_layers(*, viewer: Viewer, names: Sequence[str] | None) -> list[LayerSpec]:
    """The layers to search, named (404 unknown, 401/403 restricted) or by default.

    The default is every layer the viewer may see that has an address or a name.
    """
    if names is None:
        return [s for s in layers_for(viewer) if is_addressed(s) or is_named(s)]
    specs = [get_layer(name, viewer) for name in dict.fromkeys(names)]
    for spec in specs:
        if not (is_addressed(spec) or is_named(spec)):
            searchable = [n for n, s in LAYERS.items() if is_addressed(s) or is_named(s)]
            raise BadSearch(
                f"Layer {spec.name!r} has no address or name to search.",
                extra={"fields": {"layers": [f"Searchable layers: {', '.join(searchable)}."]}},
            )
    return specs


# --- the selector ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchPlan:
    """What ``addresses_search`` runs: the statement and its parameters (None: nothing to run)."""

    parsed: ParsedAddress
    statement: str | None
    params: dict[str, Any]
    second_reading: Callable[[], SearchPlan] | None = None
    """The plan of the query as the Russian keyboard layout would have typed it
    (``keyboard_layout_swap``), made only when the first reading finds nothing good
    (``search_answer``): most queries never need it."""


def search_plan(
    *,
    q: str,
    viewer: Viewer,
    limit: int = DEFAULT_LIMIT,
    layers: Sequence[str] | None = None,
    near: tuple[float, float] | None = None,
    language: str = "",
    swap: bool = True,
) -> SearchPlan:
    """Validate and normalise a query, and compose the statement that answers it.

    A query in Latin letters also gets its keyboard-layout reading (``second_reading``, made on
    demand): Russian typed with the Latin layout on ("gjrhjdcrbq ,ekmdfh 4" for "покровский
    бульвар 4"). ``language`` is the viewer's: a house's street is shown by its name in it where
    the street has one.
    """
    text = (q or "").strip()
    if len(text) < MIN_QUERY_CHARS:
        raise BadSearch(
            f"Type at least {MIN_QUERY_CHARS} characters to search.",
            extra={"fields": {"q": [f"At least {MIN_QUERY_CHARS} characters."]}},
        )
    if len(text) > MAX_QUERY_CHARS:
        raise BadSearch(
            f"A query has at most {MAX_QUERY_CHARS} characters.",
            extra={"fields": {"q": [f"At most {MAX_QUERY_CHARS} characters."]}},
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise BadSearch(
            f"limit must be between 1 and {MAX_LIMIT}.",
            extra={"fields": {"limit": [f"Between 1 and {MAX_LIMIT}."]}},
        )
    # NaN compares false, infinity out of range: both are refused here.
    if near is not None and not (-180 <= near[0] <= 180 and -90 <= near[1] <= 90):
        raise BadSearch(
            "near must be lon,lat in degrees.", extra={"fields": {"near": ["lon,lat in degrees."]}}
        )
    addressed, named = _searched(viewer.role, None if layers is None else tuple(layers))
    parsed = parse_address(text)
    full = name_key(text)
    if not (parsed.street or parsed.housenumber or full):
        raise BadSearch(
            "The query has no letters or digits to search for.",
            extra={"fields": {"q": ["No letters or digits."]}},
        )
    names = parsed.name or full
    house = bool(parsed.housenumber) and house_number_value(parsed.housenumber) is not None
    statement = search_statement(
        addressed=addressed if parsed.street else (),
        named=named if names else (),
        house=house,
        near=near is not None,
        two_names=bool(full) and full != names,
    )
    body, parts = house_parts(parsed.housenumber)
    params: dict[str, Any] = {
        "street": parsed.street,
        "house": parsed.housenumber,
        "body": body,
        "parts": parts,
        "num": house_number_value(parsed.housenumber) if house else None,
        "name": names,
        "full": full,
        "lim": limit,
        "organisation": viewer.organisation_id,
        "lon": near[0] if near else None,
        "lat": near[1] if near else None,
        "lang": language,
    }
    swapped_text = keyboard_layout_swap(text) if swap else None
    second_reading = None
    if swapped_text is not None:
        second_reading = partial(
            search_plan,
            q=swapped_text,
            viewer=viewer,
            limit=limit,
            layers=layers,
            near=near,
            language=language,
            swap=False,
        )
    return SearchPlan(
        parsed=parsed, statement=statement, params=params, second_reading=second_reading
    )


@lru_cache(maxsize=128)
def _searched(
    role: Role, names: tuple[str, ...] | None
) -> tuple[tuple[tuple[str, bool], ...], tuple[tuple[str, bool], ...]]:
    """The (layer, scoped) pairs a role searches by address and by name (``search_statement``'s).

    Which layers a viewer sees and which are scoped depend on its role alone.
    """
    viewer = Viewer(role=role)
    specs = search_layers(viewer=viewer, names=names)
    return (
        tuple((s.name, s.is_scoped_for(viewer)) for s in specs if is_addressed(s)),
        tuple((s.name, s.is_scoped_for(viewer)) for s in specs if is_named(s)),
    )


def search_rows(plan: SearchPlan, *, using: str = DEFAULT_DB_ALIAS) -> list[tuple[Any, ...]]:
    """Run a plan's statement on Django's connection, prepared and planned generically.

    Planning the statement (a dozen UNION branches) costs the database more than running it
    (gis/prepared.py).
    """
    if plan.statement is None:
        return []
    return prepared_rows(plan.statement, plan.params, using=using)


def search_json(plan: SearchPlan, rows: Sequence[tuple[Any, ...]]) -> str:
    """The answer of ``GET /api/search`` as JSON text (``layers.api.SearchResponseSerializer``).

    ``rows`` are its statement's (``search_rows``, or the ASGI lookup's async pool), which builds
    the answer whole; a plan without a statement finds nothing.
    """
    if plan.statement is None:
        parsed = {"street": plan.parsed.street, "housenumber": plan.parsed.housenumber}
        return orjson.dumps({"parsed": parsed, "results": []}).decode()
    text: str = rows[0][0]
    return text


def _top_score(text: str) -> float:
    results = orjson.loads(text)["results"]
    return results[0]["score"] if results else 0.0


def better_answer(text: str, swapped_text: str) -> str:
    """The answer of the first reading or of the layout-swapped one, whichever found better."""
    return swapped_text if _top_score(swapped_text) > _top_score(text) else text


def needs_second_reading(plan: SearchPlan, text: str) -> bool:
    """Whether the keyboard-layout reading is worth running.

    It is when there is one and the first reading found neither the house asked for nor a name.
    """
    return plan.second_reading is not None and _top_score(text) < WEAK_SCORE


@replica_read
def search_answer(plan: SearchPlan, *, using: str = DEFAULT_DB_ALIAS) -> str:
    """The answer of ``GET /api/search`` as JSON text, read on the replica when it may serve.

    The query's reading, or its keyboard-layout reading when that finds better.
    """
    text = search_json(plan, search_rows(plan, using=using))
    if not needs_second_reading(plan, text):
        return text
    assert plan.second_reading is not None
    swapped = plan.second_reading()
    return better_answer(text, search_json(swapped, search_rows(swapped, using=using)))


def search_result(plan: SearchPlan, text: str) -> SearchResult:
    """The hits of an answer (``search_json``), for Python callers."""
    return SearchResult(
        parsed=plan.parsed,
        hits=[
            SearchHit(
                layer=hit["layer"],
                id=hit["id"],
                address=hit["address"],
                centroid=tuple(hit["centroid"]),
                score=hit["score"],
            )
            for hit in orjson.loads(text)["results"]
        ],
    )


def addresses_search(
    *,
    q: str,
    viewer: Viewer,
    limit: int = DEFAULT_LIMIT,
    layers: Sequence[str] | None = None,
    near: tuple[float, float] | None = None,
    language: str = "",
) -> SearchResult:
    """Houses and named objects matching free text, best first, in the layers the viewer sees.

    Raises ``BadSearch`` (400) for a query under two characters or without letters or digits,
    a limit outside 1…50, a layer without address or name; ``get_layer``'s 401/403/404.
    """
    plan = search_plan(q=q, viewer=viewer, limit=limit, layers=layers, near=near, language=language)
    return search_result(plan, search_answer(plan))
