r"""bench/lookup_stages.py — the lookups' Python stages, timed in one process on the bench city.

For the same 200 queries and points as bench/lookup.py: the input checks (``search_params``,
``nearby_params``), parsing and planning (``parse_address``, ``search_plan``), and each statement
run through the async driver the front uses (a psycopg async connection, uvloop) against the
same statement run blocking (psycopg, as the bare SQL). Each figure is a median over 3 rounds,
µs, hot (the process does nothing else; under a server's load the same code takes longer).

  DATABASE_URL=postgres://postgres@127.0.0.1:55432/citygis_bench \\
    .venv/bin/python bench/lookup_stages.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gis.settings")

import lookup  # noqa: E402  (django.setup())
import psycopg  # noqa: E402
import uvloop  # noqa: E402

from gis.prepared import SESSION_SETUP, configure_async, numbered  # noqa: E402
from gis.roles import PUBLIC  # noqa: E402
from layers.addresses import parse_address  # noqa: E402
from layers.api import search_params  # noqa: E402
from layers.api_spatial import nearby_params  # noqa: E402
from layers.search import search_plan  # noqa: E402
from layers.selectors import nearby_plan  # noqa: E402
from tiles.asgi import conninfo  # noqa: E402

ROUNDS = 3


def per_call(fn: Callable[[object], object], items: list) -> float:
    """Median over rounds of the mean µs per item."""
    rounds = []
    for _ in range(ROUNDS + 1):
        started = time.perf_counter()
        for item in items:
            fn(item)
        rounds.append((time.perf_counter() - started) / len(items) * 1e6)
    return statistics.median(rounds[1:])


def main() -> None:
    cases = lookup.search_cases(200)
    points = lookup.nearby_points(200)
    search_queries = [
        dict(parse_qsl(urlencode({"q": c.q, "limit": 10}), encoding="utf-8")) for c in cases
    ]
    nearby_queries = [
        {"lon": str(lon), "lat": str(lat), "radius": "100", "layers": "buildings,yards"}
        for lon, lat in points
    ]
    print("| stage | µs |\n|---|---:|")
    print(f"| `search_params` (input check) | {per_call(search_params, search_queries):.0f} |")
    print(f"| `nearby_params` (input check) | {per_call(nearby_params, nearby_queries):.0f} |")
    print(f"| `parse_address` | {per_call(parse_address, [c.q for c in cases]):.0f} |")
    checked = [search_params(q) for q in search_queries]
    plan = lambda params: search_plan(viewer=PUBLIC, **params)  # noqa: E731
    print(f"| `search_plan` (parsing included) | {per_call(plan, checked):.0f} |")

    statements = [(numbered(p.statement), p.params) for p in map(plan, checked)] + [
        (numbered(p.statement), p.params)
        for p in (
            nearby_plan(
                lon=lon, lat=lat, radius_m=100, viewer=PUBLIC, layers=["buildings", "yards"]
            )
            for lon, lat in points
        )
    ]

    with psycopg.connect(**conninfo(), autocommit=True) as db:
        db.execute(SESSION_SETUP)

        def blocking(item: tuple) -> None:
            query, params = item
            with psycopg.RawCursor(db) as cursor:
                cursor.execute(query.text, query.values(params), prepare=True)
                cursor.fetchall()

        sync_us = per_call(blocking, statements)

    async def through_async() -> float:
        conn = await psycopg.AsyncConnection.connect(**conninfo(), autocommit=True)
        await configure_async(conn)
        rounds = []
        for _ in range(ROUNDS + 1):
            started = time.perf_counter()
            for query, params in statements:
                async with psycopg.AsyncRawCursor(conn) as cursor:
                    await cursor.execute(query.text, query.values(params), prepare=True)
                    await cursor.fetchall()
            rounds.append((time.perf_counter() - started) / len(statements) * 1e6)
        await conn.close()
        return statistics.median(rounds[1:])

    async_us = uvloop.run(through_async())
    print(f"| the 400 statements, blocking psycopg (as the bare SQL) | {sync_us:.0f} |")
    print(f"| the same through psycopg's async driver (as the front) | {async_us:.0f} |")


if __name__ == "__main__":
    main()
