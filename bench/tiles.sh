#!/usr/bin/env bash
# bench/tiles.sh — citygis's buildings tiles against the anchors of ../shared/bench, in one run.
#
#  1–2. bench/load-city.sh: starts the bench cluster (../shared/bench/pg-up.sh), builds its
#     synthetic city if missing, creates the database citygis_bench in that same cluster (same
#     PostgreSQL, same settings as the floor), migrates it, and copies the 300,000 buildings into
#     the project's own layers_building table (id, address → street + house number, flats);
#  3. serves citygis from it with the production server (gunicorn + uvicorn workers, 2 workers),
#     once with the tile cache off (uncached) and once with it on (warm);
#  4. runs ../shared/bench/compare.sh for the uncached server (floor-http, tipg and citygis
#     interleaved) and ../shared/bench/run-tiles.sh for the warm one beside floor-http.
#
# Environment: CONC (default 16), DURATION (10), REPEATS (2), WARMUP (5), ZOOMS ("14 16"),
#   FLOOR (0: skip the bare-SQL floor), BENCH_VENV (/tmp/bench-venv, created if missing).
# Loopback only; every run is bounded in time. Results: stdout and /tmp/citygis-bench-results.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/env.sh"
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
export BENCH_VENV=${BENCH_VENV:-/tmp/bench-venv}
export CONC=${CONC:-16} DURATION=${DURATION:-10} REPEATS=${REPEATS:-2} WARMUP=${WARMUP:-5}
export FLOOR=${FLOOR:-0}
# z12 is left out: buildings start at z13 in the registry, so every z12 tile is an empty 204.
export ZOOMS=${ZOOMS:-"14 16"}
PORT_UNCACHED=8093 PORT_WARM=8094

if [ ! -x "$BENCH_VENV/bin/uvicorn" ]; then
  python3 -m venv "$BENCH_VENV"
  "$BENCH_VENV/bin/pip" install -q tipg 'uvicorn[standard]' asyncpg 'psycopg[binary]' mercantile
fi
"$HERE/load-city.sh"
# Only citygis reads this database: the anchors keep DATABASE_URL's default (the bench database).
CITYGIS_DB=postgres://postgres@127.0.0.1:55432/citygis_bench
cd "$ROOT"

serve() {  # port, TILE_CACHE
  DATABASE_URL=$CITYGIS_DB TILE_CACHE=$2 timeout 3600 .venv/bin/gunicorn gis.asgi:application \
    --worker-class uvicorn_worker.UvicornWorker --workers 2 --bind "127.0.0.1:$1" \
    --log-level warning >"/tmp/citygis-bench-$1.log" 2>&1 &
  echo $! >"/tmp/citygis-bench-$1.pid"
  for _ in $(seq 60); do
    curl -sf -o /dev/null "http://127.0.0.1:$1/healthz" && return 0
    sleep 0.5
  done
  echo "tiles.sh: citygis did not start on $1, see /tmp/citygis-bench-$1.log" >&2
  exit 1
}
stop() { [ -s "/tmp/citygis-bench-$1.pid" ] && kill "$(cat "/tmp/citygis-bench-$1.pid")" 2>/dev/null || true; }
trap 'stop $PORT_UNCACHED; stop $PORT_WARM' EXIT

echo "## uncached: citygis with TILE_CACHE=false, 2 workers"
serve $PORT_UNCACHED false
"$SHARED/compare.sh" "http://127.0.0.1:$PORT_UNCACHED/tiles/buildings/{z}/{x}/{y}.pbf" citygis
stop $PORT_UNCACHED

echo "## warm cache: citygis with TILE_CACHE=true, 2 workers (the warm-up walk fills the cache)"
serve $PORT_WARM true
"$SHARED/serve.sh" start floor-http 8090 2 >/dev/null
trap 'stop $PORT_UNCACHED; stop $PORT_WARM; "$SHARED/serve.sh" stop 8090 >/dev/null' EXIT
OUT=$("$SHARED/run-tiles.sh" floor-http='http://127.0.0.1:8090/buildings/{z}/{x}/{y}' \
      citygis-warm="http://127.0.0.1:$PORT_WARM/tiles/buildings/{z}/{x}/{y}.pbf" | tee /dev/stderr)
printf '%s\n' "$OUT" | python3 -c '
import sys
rows = {}
for line in sys.stdin:
    f = line.split()
    if len(f) >= 8 and not line.startswith("#"):
        rows[(f[0], f[1], f[2])] = float(f[3])
for (name, z, c), v in sorted(rows.items(), key=lambda kv: (int(kv[0][1]), int(kv[0][2]))):
    if name == "citygis-warm":
        floor = rows[("floor-http", z, c)]
        print(f"citygis-warm z{z} c{c}: {v:.1f} req/s = {v / floor:.2f} x floor-http")
'
