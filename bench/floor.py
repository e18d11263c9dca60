"""The server's per-request floor: p50/p95 of a few cheap requests, one client, sequentially.

    python bench/floor.py http://127.0.0.1:8000 OPERATOR_TOKEN

`/api/search?q=x` is refused (400) before any database work, `/healthz` runs three tiny queries
and a cache round trip (before 2026-12-07: one query, so older figures are not comparable);
the search and nearby rows show what a real lookup adds on the loaded city.
"""

from __future__ import annotations

import sys
import time

import httpx

PATHS = (
    "/api/search?q=x",
    "/healthz",
    "/api/search?q=Eastern%20Ave%201600",
    "/api/nearby?lon=-76.57&lat=39.29&radius=100&layers=buildings,yards",
)
WARM_UP, REQUESTS = 20, 300


def main(base_url: str, token: str) -> None:
    headers = {"Authorization": f"Token {token}"}
    with httpx.Client(base_url=base_url, headers=headers) as client:
        for path in PATHS:
            for _ in range(WARM_UP):
                client.get(path)
            times = []
            for _ in range(REQUESTS):
                started = time.perf_counter()
                status = client.get(path).status_code
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            p50, p95 = times[len(times) // 2], times[int(len(times) * 0.95)]
            print(f"{path:70s} {status} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms")


if __name__ == "__main__":
    main(*sys.argv[1:3])
