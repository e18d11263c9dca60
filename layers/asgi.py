"""The operator's two hottest lookups for the ASGI front (tiles.asgi.TileServer).

``GET /api/search`` and ``GET /api/nearby`` answer in about a millisecond of SQL; through Django
and DRF a request costs as much again. The front runs them on an async pool instead, with the
same input checks (the views' serializers) and the same statements (``search_plan``,
``nearby_plan``) as the views. Each statement builds its whole answer as JSON (``search_json``,
``nearby_json``), which the front sends as PostgreSQL wrote it and the views read into their
``Response``. The views in layers/api.py and layers/api_spatial.py still answer the test client,
the browsable API and browser sessions, and document both in OpenAPI.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg_pool import AsyncConnectionPool

from gis.prepared import prepared_rows_async
from gis.roles import Viewer
from layers.api import search_params
from layers.api_spatial import nearby_params
from layers.search import SearchPlan, better_answer, needs_second_reading, search_json, search_plan
from layers.selectors import nearby_json, nearby_plan

# Each answer is sent as PostgreSQL wrote it: reading 20 features' JSON and writing it again
# took 55 µs a request.


async def _answer(plan: SearchPlan, pool: AsyncConnectionPool) -> str:
    rows: Sequence[tuple[Any, ...]] = []
    if plan.statement is not None:
        rows = await prepared_rows_async(pool, plan.statement, plan.params)
    return search_json(plan, rows)


async def search(
    query: dict[str, str], viewer: Viewer, pool: AsyncConnectionPool, language: str
) -> bytes:
    """``layers.search.search_answer`` on the async pool."""
    plan = search_plan(viewer=viewer, language=language, **search_params(query))
    text = await _answer(plan, pool)
    if needs_second_reading(plan, text):
        assert plan.second_reading is not None
        text = better_answer(text, await _answer(plan.second_reading(), pool))
    return text.encode()


async def nearby(
    query: dict[str, str], viewer: Viewer, pool: AsyncConnectionPool, language: str
) -> bytes:
    plan = nearby_plan(viewer=viewer, **nearby_params(query))
    rows = await prepared_rows_async(pool, plan.statement, plan.params)
    return nearby_json(rows).encode()


JSON_ROUTES = {"/api/search": search, "/api/nearby": nearby}
