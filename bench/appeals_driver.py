"""Load driver for bench/appeals.sh: concurrent clients create appeals, then read under load.

Phase 1 creates up to --count appeals through POST /api/appeals (9 in 10 with a point in the
demo extract, 1 in 10 with only an address to geocode), stopping early at --create-seconds.
Phase 2 runs the list filters and the department report for --read-seconds. Every request has a
timeout; the run is bounded. Prints one Markdown table; --json writes the figures too.

Each client opens a new connection every --reconnect-every requests (default 100; 0 keeps each
connection for the whole run): that request asks the server to close the connection after its
answer (``Connection: close``), and the client's next one connects anew. Real clients come and go;
kept-alive connections would stay on whichever server worker accepted them, and the kernel may
hand all of them to one of the workers, leaving the other idle.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# Categories with a layer in the demo city, and the demo extract's box (east/central Baltimore).
CATEGORIES = (
    "pothole",
    "pipe-burst",
    "street-cleaning",
    "trash-collection",
    "dug-up-yard",
    "playground-broken",
    "bus-stop-damaged",
    "snow-not-cleared",
    "street-light-out",
)
WEST, SOUTH, EAST, NORTH = -76.5960, 39.2760, -76.5460, 39.3060


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def row(self, name: str, seconds: float) -> dict:
        ok = sorted(self.latencies)

        def pct(p: float) -> float:
            return ok[min(len(ok) - 1, int(p * len(ok)))] * 1000 if ok else float("nan")

        return {
            "endpoint": name,
            "requests": len(ok) + self.errors,
            "errors": self.errors,
            "per_s": round(len(ok) / seconds, 1) if seconds else 0.0,
            "p50_ms": round(pct(0.50), 1),
            "p95_ms": round(pct(0.95), 1),
            "p99_ms": round(pct(0.99), 1),
            "mean_ms": round(statistics.fmean(ok) * 1000, 1) if ok else float("nan"),
        }


class Reconnecting:
    """One client's requests: every ``every``-th closes its connection (0: never)."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.sent = 0

    def headers(self) -> dict[str, str]:
        self.sent += 1
        if self.every and self.sent % self.every == 0:
            return {"Connection": "close"}
        return {}


async def timed(
    client: httpx.AsyncClient,
    stats: Stats,
    method: str,
    url: str,
    conn: Reconnecting | None = None,
    **kw,
) -> None:
    if conn is not None:
        kw["headers"] = {**kw.get("headers", {}), **conn.headers()}
    start = time.perf_counter()
    try:
        response = await client.request(method, url, **kw)
    except httpx.HTTPError:
        stats.errors += 1
        return
    elapsed = time.perf_counter() - start
    stats.statuses[response.status_code] += 1
    if response.status_code >= 400:
        stats.errors += 1
    else:
        stats.latencies.append(elapsed)


def appeal_body(rng: random.Random, addresses: list[str], n: int) -> dict:
    body = {
        "category": rng.choice(CATEGORIES),
        "channel": rng.choice(("phone", "web", "social")),
        "text": f"bench appeal {n}",
        "resident_name": "Bench Resident",
        "resident_phone": "+1 410 555 0100",
    }
    if addresses and n % 10 == 9:
        body["address"] = rng.choice(addresses)
    else:
        body["lon"] = rng.uniform(WEST, EAST)
        body["lat"] = rng.uniform(SOUTH, NORTH)
    return body


async def create_phase(args, client, addresses) -> tuple[dict[str, Stats], float, int]:
    stats = {"create (point)": Stats(), "create (address)": Stats()}
    counter = iter(range(args.count))
    deadline = time.monotonic() + args.create_seconds
    created = 0

    async def worker(seed: int) -> None:
        nonlocal created
        rng = random.Random(seed)
        conn = Reconnecting(args.reconnect_every)
        for n in counter:
            if time.monotonic() > deadline:
                return
            body = appeal_body(rng, addresses, n)
            kind = "create (address)" if "address" in body else "create (point)"
            await timed(client, stats[kind], "POST", "/api/appeals", conn, json=body)
            created += 1

    start = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(args.concurrency)))
    return stats, time.monotonic() - start, created


READS = (
    ("list newest", "/api/appeals?limit=50"),
    ("list status+category", "/api/appeals?status=new,assigned&category=pothole&limit=50"),
    ("list overdue", "/api/appeals?overdue=true&limit=50"),
    ("list bbox", f"/api/appeals?bbox={WEST},{SOUTH},{WEST + 0.01},{SOUTH + 0.01}&limit=50"),
    ("list date range", "/api/appeals?from={week}&to={today}&needs_attention=false&limit=50"),
    ("report json", "/api/reports/departments?from={week}&to={today}"),
    ("report csv", "/api/reports/departments?from={year}&to={today}&format=csv"),
)


async def read_phase(args, client) -> tuple[dict[str, Stats], float]:
    today = time.strftime("%Y-%m-%d")
    week = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 7 * 86400))
    year = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 365 * 86400))
    urls = [(n, u.format(today=today, week=week, year=year)) for n, u in READS]
    stats = {name: Stats() for name, _ in urls}
    deadline = time.monotonic() + args.read_seconds

    async def worker(seed: int) -> None:
        rng = random.Random(seed)
        conn = Reconnecting(args.reconnect_every)
        while time.monotonic() < deadline:
            name, url = rng.choice(urls)
            await timed(client, stats[name], "GET", url, conn)

    start = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(args.concurrency)))
    return stats, time.monotonic() - start


def table(rows: list[dict]) -> str:
    head = "| endpoint | requests | errors | req/s | p50 ms | p95 ms | p99 ms |"
    lines = [head, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(
            f"| {r['endpoint']} | {r['requests']:,} | {r['errors']} | {r['per_s']} | "
            f"{r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} |"
        )
    return "\n".join(lines)


async def main(args) -> None:
    addresses = Path(args.addresses).read_text().splitlines() if args.addresses else []
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(
        base_url=args.base,
        headers={"Authorization": f"Token {args.token}"},
        timeout=httpx.Timeout(30.0),
        limits=limits,
    ) as client:
        created_stats, create_s, created = await create_phase(args, client, addresses)
        read_stats, read_s = await read_phase(args, client)
    rows = [s.row(n, create_s) for n, s in created_stats.items()]
    everything = Stats(
        latencies=[x for s in created_stats.values() for x in s.latencies],
        errors=sum(s.errors for s in created_stats.values()),
    )
    rows.append(everything.row("create (all)", create_s))
    rows += [s.row(n, read_s) for n, s in read_stats.items()]
    statuses = defaultdict(int)
    for s in [*created_stats.values(), *read_stats.values()]:
        for code, n in s.statuses.items():
            statuses[code] += n
    print(
        f"created {created:,} of {args.count:,} appeals in {create_s:.0f} s "
        f"({'all' if created >= args.count else 'stopped at --create-seconds'}), "
        f"concurrency {args.concurrency}; reads for {read_s:.0f} s; "
        f"statuses {dict(sorted(statuses.items()))}"
    )
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"created": created, "rows": rows}, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", default="http://127.0.0.1:8096")
    parser.add_argument("--token", required=True)
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--create-seconds", type=float, default=300)
    parser.add_argument("--read-seconds", type=float, default=60)
    parser.add_argument("--addresses", help="a file of addresses, one a line, to geocode")
    parser.add_argument(
        "--reconnect-every",
        type=int,
        default=100,
        help="each client's every N-th request closes its connection (0: keep it for the run)",
    )
    parser.add_argument("--json", help="write the figures here too")
    arguments = parser.parse_args()
    if arguments.reconnect_every < 0:
        parser.error("--reconnect-every is 0 (never) or more")
    asyncio.run(main(arguments))
