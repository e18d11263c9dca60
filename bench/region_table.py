"""The markdown table of bench/region.sh, from the raw output of one run.

python3 bench/region_table.py /tmp/citygis-region-results/<UTC time> WALL_SECONDS
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path


def lines(out: Path, name: str) -> list[str]:
    path = out / name
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def tiles(out: Path) -> dict[tuple[str, str], float]:
    """req/s by (target, zoom) at the run's one concurrency; floor.py's tiles/s as "floor"."""
    rows = {}
    for line in lines(out, "tiles.txt") + lines(out, "floor.txt"):
        f = line.split()
        if len(f) >= 8 and not line.startswith("#"):
            rows[(f[0], f[1])] = float(f[3])
    return rows


def lookup_row(out: Path, start: str) -> list[str] | None:
    for line in lines(out, "lookup.md"):
        if line.startswith(start):
            return [c.strip() for c in line.strip("|").split("|")]
    return None


def dashboard(out: Path) -> dict[str, float]:
    figures = {}
    for line in lines(out, "dashboard.txt"):
        if m := re.match(r"(.+?)\s+median\s+([\d.]+) ms\s+max\s+([\d.]+) ms", line):
            figures[m[1].strip()] = float(m[2])
    return figures


def main(out: Path, wall: int) -> None:
    load = dict(line.split(" ", 1) for line in lines(out, "load.txt"))
    status = [line for line in lines(out, "status.txt") if not line.startswith("build:")]
    built = next((line for line in lines(out, "status.txt") if line.startswith("build:")), "")
    print(f"Region: {'; '.join(status)}. {built}.")
    print(
        "Load average (1, 5, 15 min) before each part: "
        + "; ".join(f"{k} {v}" for k, v in load.items())
        + f". `bench/region.sh measure` took {wall // 60} min {wall % 60} s.\n"
    )
    print("| what | region | goal | |")
    print("| --- | ---: | --- | --- |")
    t = tiles(out)
    for z in ("14", "16"):
        ours, floor_http, floor = (
            t.get(("citygis", z)),
            t.get(("floor-http", z)),
            t.get(("floor", z)),
        )
        if ours and floor_http:
            ratio = ours / floor_http
            bare = f"; bare SQL {floor:,.1f} tiles/s, 2 clients" if floor else ""
            print(
                f"| tiles z{z}, uncached, c=16 | {ours:,.1f} req/s = **{ratio:.2f}×** floor-http "
                f"({floor_http:,.1f}{bare}) | ≥ 1.0× | {'holds' if ratio >= 1.0 else 'misses'} |"
            )
    for start, what in (("| `/api/search`", "search"), ("| `/api/nearby`", "nearby")):
        row = lookup_row(out, start)
        if row and len(row) >= 5 and row[1] != "not measured":
            p95 = float(row[2])
            extra = f", {row[6]}" if len(row) > 6 and row[6] else ""
            print(
                f"| {what} p95 through the API | **{p95:.1f} ms** (p50 {row[1]}; bare SQL p50 "
                f"{row[3]}, p95 {row[4]}{extra}) | ≤ 10 ms | {'holds' if p95 <= 10 else 'misses'} |"
            )
    for line in lines(out, "sweep.txt"):
        if m := re.search(
            r"creating ([\d,]+) claims .* among ([\d,]+) permits: median ([\d.]+) s"
            r" \(min ([\d.]+), max ([\d.]+)\); steady state median ([\d.]+) s",
            line,
        ):
            print(
                f"| overdue sweep: {m[1]} claims + jobs among {m[2]} permits | **{m[3]} s** "
                f"(min {m[4]}, max {m[5]}); nothing new {m[6]} s | ≤ 2 s (issue 6) | "
                f"{'holds' if float(m[3]) <= 2 else 'misses'} |"
            )
    d = dashboard(out)
    for label in (
        "GET /api/dashboard, 30 days (200)",
        "GET /api/dashboard, unchanged (304)",
        "GET /api/dashboard/districts, 30 days",
        "figures, 30 days",
        "figures, 366 days",
        "figures, 30 days, one district",
        "figures, 30 days, one organisation",
        "change marker (ETag)",
    ):
        if label in d:
            ms = d[label]
            goal = "≤ 100 ms" if label.startswith("GET") else ""
            verdict = ("holds" if ms <= 100 else "misses") if goal else ""
            print(f"| dashboard: {label}, median | **{ms:,.0f} ms** | {goal} | {verdict} |")
    for line in lines(out, "osm.txt"):
        f = line.split()
        if line.startswith("osm ") and len(f) >= 8:
            name, elements, objects, seconds = f[1], int(f[3]), int(f[5]), float(f[7])
            own = re.search(r"in ([\d.]+) s$", line)
            counted = f", {own[1]} s by its own count" if own else ""
            per_million = seconds / objects * 1e6 / 60
            print(
                f"| `import_osm` {name}: {elements:,} OSM elements → {objects:,} objects | "
                f"{objects / seconds:,.0f} objects/s = **{per_million:,.1f} min per million "
                f"objects** ({seconds:.1f} s wall{counted}) | | |"
            )
    report = out / "osm-report.json"
    if report.exists():
        by_layer = json.loads(report.read_text())["by_layer"]
        created = ", ".join(f"{k} {v['created']:,}" for k, v in by_layer.items())
        print(f"\nThe synthetic extract's import created: {created}.")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
