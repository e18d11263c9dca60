"""The operator's two hottest lookups for the ASGI front (tiles.asgi.TileServer).

``GET /api/search`` and ``GET /api/nearby`` answer in a few milliseconds of SQL; through Django
and DRF a request costs as much again. The front runs them on an async pool instead, with the
same input checks (the views' serializers), the same statements (``search_plan``,
``nearby_plan``) and the same JSON as the views (``search_payload``; nearby's statement builds
its FeatureCollection whole, which the front sends as PostgreSQL wrote it); the
views in layers/api.py and layers/api_spatial.py still answer the test client, the browsable API
and browser sessions, and document both in OpenAPI.
"""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool

from gis.prepared import prepared_rows_async
from gis.roles import Viewer
from layers.api import search_params
from layers.api_spatial import nearby_params
from layers.search import search_payload, search_plan, search_result
from layers.selectors import nearby_json, nearby_plan


async def search(
    query: dict[str, str], viewer: Viewer, pool: AsyncConnectionPool
) -> dict[str, Any]:
    plan = search_plan(viewer=viewer, **search_params(query))
    if plan.statement is None:
        return search_payload(search_result(plan, []))
    rows = await prepared_rows_async(pool, plan.statement, plan.params)
    return search_payload(search_result(plan, rows))


async def nearby(query: dict[str, str], viewer: Viewer, pool: AsyncConnectionPool) -> bytes:
    plan = nearby_plan(viewer=viewer, **nearby_params(query))
    rows = await prepared_rows_async(pool, plan.statement, plan.params)
    # Built whole by PostgreSQL: sent as it is, not read and written again (55 µs a request).
    return nearby_json(rows).encode()


JSON_ROUTES = {"/api/search": search, "/api/nearby": nearby}
