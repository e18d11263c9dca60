"""Mixed load with a database restart, for bench/appeals.sh: nothing lost, nothing twice.

--concurrency clients, for --seconds, each pick in turn: create an appeal (its text carries the
client's own marker, so a row made twice shows), move one of its appeals on (new → assigned →
in work → done), issue an overdue permit and start it (the claims sweep must claim it once per
recipient), read a tile, search an address. At --outage-at seconds the driver stops the
project-local PostgreSQL (``scripts/db.sh stop``) and starts it again --outage-seconds later.

Every request has a timeout. The driver writes what each 2xx did (numbers, transitions, permit
ids) and every answer's time, status and latency to --json; bench/appeals.sh then checks the
database against it. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gis.spatial import lonlat_to_tile  # noqa: E402  (pure tile math, no Django)

WEST, SOUTH, EAST, NORTH = -76.5960, 39.2760, -76.5460, 39.3060
CATEGORIES = ("pothole", "pipe-burst", "street-cleaning", "street-light-out", "dug-up-yard")
NEXT = {"new": "assigned", "assigned": "in_work", "in_work": "done"}
ACTIONS = (("create", 4), ("transition", 3), ("permit", 1), ("tile", 3), ("search", 3))
Z = 15


@dataclass
class Run:
    started: float
    answers: list[tuple[float, str, int, float]] = field(default_factory=list)
    """(seconds since start, action, status or 0 for no answer, latency in seconds)."""
    created: list[dict] = field(default_factory=list)
    transitions: list[dict] = field(default_factory=list)
    permits: list[int] = field(default_factory=list)
    outage: tuple[float, float] | None = None


def square(rng: random.Random) -> dict:
    lon, lat = rng.uniform(WEST, EAST), rng.uniform(SOUTH, NORTH)
    d = 0.00012
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


async def client_loop(
    n: int, http: httpx.AsyncClient, run: Run, args: argparse.Namespace, deadline: float
) -> None:
    rng = random.Random(n)
    mine: list[dict] = []  # this client's appeals: id and status
    made = 0
    names, weights = zip(*ACTIONS, strict=True)
    while time.monotonic() < deadline:
        action = rng.choices(names, weights)[0]
        if action == "transition" and not any(a["status"] in NEXT for a in mine):
            action = "create"
        start = time.monotonic()
        status = 0
        try:
            if action == "create":
                made += 1
                marker = f"{args.run}-{n}-{made}"
                body = {
                    "category": rng.choice(CATEGORIES),
                    "channel": "phone",
                    "text": marker,
                    "lon": rng.uniform(WEST, EAST),
                    "lat": rng.uniform(SOUTH, NORTH),
                }
                r = await http.post("/api/appeals", json=body)
                status = r.status_code
                if status == 201:
                    appeal = r.json()
                    mine.append({"id": appeal["id"], "status": appeal["status"]})
                    run.created.append({"number": appeal["number"], "marker": marker})
            elif action == "transition":
                appeal = rng.choice([a for a in mine if a["status"] in NEXT])
                to = NEXT[appeal["status"]]
                r = await http.post(f"/api/appeals/{appeal['id']}/transition", json={"to": to})
                status = r.status_code
                if status == 200:
                    appeal["status"] = to
                    run.transitions.append({"id": appeal["id"], "to": to})
            elif action == "permit":
                today = date.today()
                body = {
                    "contractor": args.contractor,
                    "responsible_person": f"bench {n}",
                    "purpose": f"{args.run} permit",
                    "geom": square(rng),
                    "issued_on": (today - timedelta(days=10)).isoformat(),
                    "planned_start": (today - timedelta(days=9)).isoformat(),
                    "deadline": (today - timedelta(days=1)).isoformat(),
                    "conflict_override": "bench: load test",
                }
                r = await http.post("/api/permits", json=body)
                status = r.status_code
                if status == 201:
                    permit = r.json()["id"]
                    r = await http.post(f"/api/permits/{permit}/start", json={})
                    status = r.status_code
                    if status == 200:
                        run.permits.append(permit)
            elif action == "tile":
                x, y = lonlat_to_tile(rng.uniform(WEST, EAST), rng.uniform(SOUTH, NORTH), Z)
                r = await http.get(f"/tiles/buildings,appeals,permits/{Z}/{x}/{y}.mvt")
                status = r.status_code
            else:
                r = await http.get("/api/search", params={"q": rng.choice(args.addresses)})
                status = r.status_code
        except httpx.HTTPError:
            status = 0
        elapsed = time.monotonic() - start
        run.answers.append((start - run.started, action, status, elapsed))
        if status in (0, 503):
            await asyncio.sleep(0.2)  # as a client told Retry-After would, briefly


async def outage(run: Run, args: argparse.Namespace) -> None:
    await asyncio.sleep(args.outage_at)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    down = time.monotonic() - run.started
    await asyncio.to_thread(subprocess.run, [args.db_script, "stop"], env=env, check=True)
    await asyncio.sleep(args.outage_seconds)
    await asyncio.to_thread(
        subprocess.run, [args.db_script, "start"], env=env, check=True, capture_output=True
    )
    run.outage = (down, time.monotonic() - run.started)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(p * len(values)))] * 1000, 1) if values else 0.0


def summary(run: Run, seconds: float) -> dict:
    down, up = run.outage or (seconds, seconds)

    def overlaps(a: tuple[float, str, int, float]) -> bool:  # it was in flight while down
        return a[0] < up and a[0] + a[3] > down

    during = [a for a in run.answers if overlaps(a)]
    outside = [a for a in run.answers if not overlaps(a)]
    after_up = [a for a in run.answers if a[0] >= up and 200 <= a[2] < 300]
    recovered = round(min(a[0] for a in after_up) - up, 2) if after_up else None
    settling = [a for a in outside if up <= a[0] < up + 10]
    rows = {}
    for action, _ in ACTIONS:
        mine = [a for a in outside if a[1] == action]
        ok = [a[3] for a in mine if 200 <= a[2] < 300]
        rows[action] = {
            "requests": len(mine),
            "ok": len(ok),
            "503": sum(1 for a in mine if a[2] == 503),
            "other 5xx": sum(1 for a in mine if a[2] >= 500 and a[2] != 503),
            "no answer": sum(1 for a in mine if a[2] == 0),
            "p50_ms": pct(ok, 0.5),
            "p95_ms": pct(ok, 0.95),
        }
    statuses: dict[int, int] = {}
    for a in during:
        statuses[a[2]] = statuses.get(a[2], 0) + 1
    return {
        "outside_outage": rows,
        "outage": {
            "from_s": round(down, 1),
            "to_s": round(up, 1),
            "answers": statuses,
            "p95_ms": pct([a[3] for a in during], 0.95),
            "500s": sum(1 for a in during if a[2] == 500),
            "first_2xx_after_start_s": recovered,
            "503_in_10_s_after": sum(1 for a in settling if a[2] == 503),
        },
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--contractor", type=int, required=True)
    parser.add_argument("--addresses", type=Path, required=True)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--outage-at", type=float, default=50)
    parser.add_argument("--outage-seconds", type=float, default=10)
    parser.add_argument("--db-script", default="scripts/db.sh")
    parser.add_argument("--run", default=f"mixed-{int(time.time())}")
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    args.addresses = args.addresses.read_text().split("\n")

    run = Run(started=time.monotonic())
    deadline = run.started + args.seconds
    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(
        base_url=args.base,
        headers={"Authorization": f"Token {args.token}"},
        timeout=httpx.Timeout(15.0),
        limits=limits,
    ) as http:
        tasks = [client_loop(n, http, run, args, deadline) for n in range(args.concurrency)]
        if args.outage_seconds > 0:
            tasks.append(outage(run, args))
        await asyncio.gather(*tasks)
    result = summary(run, args.seconds)
    result |= {
        "run": args.run,
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "created": run.created,
        "transitions": run.transitions,
        "permits": run.permits,
    }
    args.json.write_text(json.dumps(result))
    print(f"## mixed load: {args.concurrency} clients, {args.seconds:.0f} s, run {args.run}")
    print("Outside the outage (requests not in flight while PostgreSQL was down):")
    print("| action | requests | 2xx | 503 | other 5xx | no answer | p50 ms | p95 ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for action, row in result["outside_outage"].items():
        print(
            f"| {action} | {row['requests']} | {row['ok']} | {row['503']} | {row['other 5xx']} "
            f"| {row['no answer']} | {row['p50_ms']} | {row['p95_ms']} |"
        )
    o = result["outage"]
    print(
        f"PostgreSQL down {o['from_s']}–{o['to_s']} s: the requests in flight then answered "
        f"{o['answers']}, p95 {o['p95_ms']} ms, 500s {o['500s']}; first 2xx "
        f"{o['first_2xx_after_start_s']} s after it was back; 503s in the 10 s after: "
        f"{o['503_in_10_s_after']}"
    )


if __name__ == "__main__":
    asyncio.run(main())
