"""Requests through the ASGI front (tiles.asgi.TileServer) in a test: a fresh server each time.

``run_front(scenario)`` starts a TileServer in front of ``app`` (Django by default), gives the
scenario an httpx client on it and the server (for its caches), and stops the server and closes
the database connections its token lookups opened, whatever the scenario did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx
from asgiref.sync import sync_to_async
from django.db import connections

from gis.asgi import django_application
from tiles.asgi import JsonRoute, TileServer

T = TypeVar("T")


def run_front(
    scenario: Callable[[httpx.AsyncClient, TileServer], Awaitable[T]],
    *,
    app: Callable[..., Awaitable[None]] = django_application,
    json_routes: Mapping[str, JsonRoute] | None = None,
) -> T:
    async def main() -> T:
        server = TileServer(app, json_routes=json_routes)
        transport = httpx.ASGITransport(app=server)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                return await scenario(c, server)
        finally:
            await server._stop()
            # The token lookups ran in asgiref's thread: close its connection there.
            await sync_to_async(connections.close_all)()

    return asyncio.run(main())


def get_through_front(path: str, headers: dict[str, Any] | None = None) -> httpx.Response:
    """One GET through a fresh front in front of Django."""

    async def get(client: httpx.AsyncClient, server: TileServer) -> httpx.Response:
        return await client.get(path, headers=headers or {})

    return run_front(get)
