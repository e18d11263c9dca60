"""bench/lookup.py — the lookup API against the bare SQL of its own statements, one client.

For 200 address queries made deterministically from the synthetic city's addresses and damaged
the way operators type them (one typo in the street name, the number before or after the
street, korpus forms, abbreviated or omitted street types, ё→е, case), it measures:

  (a) ``GET /api/search`` through the running server (HTTP keep-alive, one client);
  (b) the statement ``layers.search.addresses_search`` runs for the same query (its
      ``search_plan``), timed through psycopg directly the way the selector runs it (a prepared
      statement with numbered placeholders, planned generically, on a kept connection): the
      database's share;

and likewise ``GET /api/nearby`` (buildings and yards, 100 m) around 200 houses, against the
statement ``layers.selectors.nearby_plan`` composes, run the same way. Both lookups are answered
by the ASGI front (layers/asgi.py). Two more rows are the server's floors: a search refused
before any database work, by the front and by Django (``format=json`` sends it there). Each
query is timed ``--rounds``
times, API and SQL interleaved, after one warm-up pass; top-1 accuracy counts the queries whose
first hit has the target's address key.

bench/lookup.sh loads the city and serves citygis; run alone:
  DATABASE_URL=postgres://postgres@127.0.0.1:55432/citygis_bench
  .venv/bin/python bench/lookup.py --url http://127.0.0.1:8095
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gis.settings")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.db import connection  # noqa: E402

from gis.prepared import SESSION_SETUP, numbered  # noqa: E402
from gis.roles import PUBLIC  # noqa: E402
from layers.models import Building, Yard  # noqa: E402
from layers.search import SearchPlan, search_plan  # noqa: E402
from layers.selectors import NearbyPlan, nearby_plan  # noqa: E402

SEED = 11
TYPE_FORMS = {
    "улица": ["улица", "ул.", "ул", "", ""],
    "проспект": ["проспект", "пр.", "пр-т", "просп."],
    "переулок": ["переулок", "пер.", "пер"],
}
# Not "{n}/{k}": a fraction is a corner house, never a корпус (#14 §1), so 12/2 must not find
# 12 корп. 2 first.
KORPUS_FORMS = [
    "{n}к{k}",
    "{n} к {k}",
    "{n} корп. {k}",
    "{n} корп {k}",
    "{n} корпус {k}",
    "{n} к. {k}",
]


@dataclass(frozen=True, slots=True)
class Case:
    q: str
    key: str
    """The target's address key: a hit is right when its row has this search key."""


def damage(street: str, housenumber: str, rng: random.Random) -> str:
    """One operator-typed form of an address."""
    kind, _, name = street.partition(" ")
    if rng.random() < 0.5 and len(name) > 5:  # one typo, as search_floor.py: a letter dropped
        i = rng.randrange(1, len(name) - 1)
        name = name[:i] + name[i + 1 :]
    if "ё" in name and rng.random() < 0.5:
        name = name.replace("ё", "е")
    kind = rng.choice(TYPE_FORMS[kind])
    street_text = " ".join(p for p in ((kind, name) if rng.random() < 0.7 else (name, kind)) if p)
    number, _, part = housenumber.partition(" корп. ")
    if part:
        house = rng.choice(KORPUS_FORMS).format(n=number, k=part)
    else:
        house = rng.choice(["{n}", "{n}", "д. {n}", "дом {n}"]).format(n=number)
    sep = rng.choice([", ", " "])
    q = f"{house}{sep}{street_text}" if rng.random() < 0.3 else f"{street_text}{sep}{house}"
    roll = rng.random()
    return q.upper() if roll < 0.1 else q.lower() if roll < 0.25 else q


def search_cases(n: int) -> list[Case]:
    """N queries: 70 % random houses, 30 % with a korpus (8 % of the city) to try its forms."""
    rng = random.Random(SEED)
    total = Building.objects.count()
    korpus = list(
        Building.objects.filter(housenumber__contains="корп").order_by("id").values_list("id")
    )
    ids = rng.sample(range(1, total + 1), n - n * 3 // 10) + [
        pk for (pk,) in rng.sample(korpus, n * 3 // 10)
    ]
    rows = Building.objects.in_bulk(ids)
    return [
        Case(q=damage(rows[pk].street, rows[pk].housenumber, rng), key=rows[pk].search_key)
        for pk in ids
    ]


def nearby_points(n: int) -> list[tuple[float, float]]:
    rng = random.Random(SEED + 1)
    total = Building.objects.count()
    rows = Building.objects.in_bulk(rng.sample(range(1, total + 1), n))
    return [(rows[pk].geom.centroid.x, rows[pk].geom.centroid.y) for pk in sorted(rows)]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


@dataclass
class Timings:
    api: list[float]
    sql: list[float]

    def row(self, what: str, extra: str = "") -> str:
        a50, a95 = statistics.median(self.api), percentile(self.api, 0.95)
        s50, s95 = statistics.median(self.sql), percentile(self.sql, 0.95)
        return (
            f"| {what} | {a50:.1f} | {a95:.1f} | {s50:.1f} | {s95:.1f} | "
            f"{a50 / s50:.2f}× / {a95 / s95:.2f}× | {extra} |"
        )


SqlRun = Callable[[psycopg.Connection], None]


def prepared(plan: SearchPlan | NearbyPlan) -> SqlRun:
    """A lookup statement as its selector runs it (gis.prepared): bound server-side, prepared."""
    query = numbered(plan.statement)
    values = query.values(plan.params)

    def run(db: psycopg.Connection) -> None:
        with psycopg.RawCursor(db) as cursor:
            cursor.execute(query.text, values, prepare=True)
            cursor.fetchall()

    return run


def measure(
    requests: list[str],
    runs: list[SqlRun],
    *,
    url: str,
    dsn: str,
    rounds: int,
    expect: int = 200,
) -> tuple[Timings, list[bytes]]:
    parts = urlsplit(url)
    http_conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    bodies: list[bytes] = []

    def get(path: str) -> bytes:
        http_conn.request("GET", path)
        response = http_conn.getresponse()
        body = response.read()
        if response.status != expect:
            raise SystemExit(f"lookup.py: {path} answered {response.status}: {body[:300]!r}")
        return body

    timings = Timings(api=[], sql=[])
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute(SESSION_SETUP)  # as gis.prepared sets up its connections
        for path, run in zip(requests, runs, strict=True):  # warm-up
            bodies.append(get(path))
            run(db)
        for _ in range(rounds):
            for path, run in zip(requests, runs, strict=True):
                started = time.perf_counter()
                get(path)
                timings.api.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                run(db)
                timings.sql.append((time.perf_counter() - started) * 1000)
    http_conn.close()
    return timings, bodies


def top1_keys(bodies: list[bytes]) -> list[str | None]:
    """The search key of each response's first hit (looked up after timing)."""
    firsts = [(json.loads(b)["results"] or [None])[0] for b in bodies]
    models = {"buildings": Building, "yards": Yard}
    keys: dict[tuple[str, int], str] = {}
    for layer, model in models.items():
        ids = [h["id"] for h in firsts if h and h["layer"] == layer]
        keys.update(
            ((layer, pk), key)
            for pk, key in model.objects.filter(pk__in=ids).values_list("pk", "search_key")
        )
    return [keys.get((h["layer"], h["id"])) if h else None for h in firsts]


def nearby_row(args: argparse.Namespace, dsn: str) -> str:
    """``/api/nearby`` around 200 houses against the statement its selector runs."""
    points = nearby_points(args.queries)
    layers = args.nearby_layers.split(",")
    near_requests = [
        "/api/nearby?"
        + urlencode({"lon": lon, "lat": lat, "radius": args.radius, "layers": args.nearby_layers})
        for lon, lat in points
    ]
    plans = [
        nearby_plan(lon=lon, lat=lat, radius_m=args.radius, viewer=PUBLIC, layers=layers)
        for lon, lat in points
    ]
    nearby, _ = measure(
        near_requests, [prepared(plan) for plan in plans], url=args.url, dsn=dsn, rounds=args.rounds
    )
    return nearby.row(
        f"`/api/nearby` r={args.radius:g} m, layers={args.nearby_layers} (1 prepared statement)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", required=True, help="the running citygis, e.g. http://127.0.0.1:8095"
    )
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--radius", type=float, default=100.0, help="nearby radius, metres")
    parser.add_argument("--nearby-layers", default="buildings,yards")
    parser.add_argument(
        "--empty-url", help="an empty ASGI app under the same server (bench/empty_asgi.py)"
    )
    parser.add_argument("--skip-nearby", action="store_true")
    parser.add_argument("--show", type=int, default=0, help="print N queries and their top hit")
    args = parser.parse_args()
    settings = connection.settings_dict
    dsn = (
        f"host={settings['HOST']} port={settings['PORT'] or 5432} dbname={settings['NAME']} "
        f"user={settings['USER']}"
    )

    load_before = os.getloadavg()  # other work on the machine shows in every figure
    cases = search_cases(args.queries)
    requests = ["/api/search?" + urlencode({"q": c.q, "limit": args.limit}) for c in cases]
    runs = [prepared(search_plan(q=c.q, viewer=PUBLIC, limit=args.limit)) for c in cases]
    search, bodies = measure(requests, runs, url=args.url, dsn=dsn, rounds=args.rounds)
    firsts = top1_keys(bodies)
    right = sum(key == c.key for key, c in zip(firsts, cases, strict=True))
    for case, body in list(zip(cases, bodies, strict=True))[: args.show]:
        first = (json.loads(body)["results"] or [{}])[0]
        print(f"{case.q!r:50} → {first.get('address')!r} {first.get('score')}")
    misses = [c.q for key, c in zip(firsts, cases, strict=True) if key != c.key]

    load = ", ".join(f"{v:.1f}" for v in load_before)
    print(
        f"## lookup on the synthetic city: {Building.objects.count():,} buildings, "
        f"{Yard.objects.count():,} yards; {len(cases)} queries × {args.rounds} rounds, "
        f"one client, ms (load average before: {load})"
    )
    print("| request | API p50 | API p95 | bare SQL p50 | bare SQL p95 | API ÷ SQL p50 / p95 | |")
    print("|---|---:|---:|---:|---:|---:|---|")
    print(
        search.row(
            "`/api/search` (1 prepared statement per query)",
            f"top-1 {right}/{len(cases)}",
        )
    )
    # The same server answering without the database: a 1-character query is refused (400) by
    # the input check, at the ASGI front, and through Django and DRF (``format`` sends it there).
    floors = [
        (args.url, "/api/search?q=x", 400, "→ 400, no database: the front's floor"),
        (
            args.url,
            "/api/search?q=x&format=json",
            400,
            "→ 400, through Django and DRF: Django's floor",
        ),
    ]
    if args.empty_url:
        floors.append(
            (args.empty_url, "/", 200, "of an empty ASGI app, same server: the stack's floor")
        )
    for url, path, status, what in floors:
        floor, _ = measure(
            [path] * len(cases),
            [lambda db: None] * len(cases),
            url=url,
            dsn=dsn,
            rounds=args.rounds,
            expect=status,
        )
        a50, a95 = statistics.median(floor.api), percentile(floor.api, 0.95)
        print(f"| `{path}` {what} | {a50:.2f} | {a95:.2f} | – | – | – | |")
    if not args.skip_nearby:
        try:
            print(nearby_row(args, dsn))
        except Exception as exc:  # the nearby view is another module's: report, don't stop
            reason = " ".join(str(exc).split())[:120]
            print(f"| `/api/nearby` | not measured: {type(exc).__name__}: {reason} |")
    if misses:
        print(f"\nmissed ({len(misses)}): " + "; ".join(repr(q) for q in misses[:20]))


if __name__ == "__main__":
    main()
