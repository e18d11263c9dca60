#!/usr/bin/env bash
# bench/tiles.sh — citygis's buildings tiles against the anchors of ../shared/bench, in one run.
#
#  1. starts the bench cluster (../shared/bench/pg-up.sh) and builds its synthetic city if missing;
#  2. creates the database citygis_bench in that same cluster (same PostgreSQL, same settings as
#     the floor), migrates it, and copies the 300,000 buildings into the project's own
#     layers_building table (id, address → street + house number, flats);
#  3. serves citygis from it with the production server (gunicorn + uvicorn workers, 2 workers),
#     once with the tile cache off (uncached) and once with it on (warm);
#  4. runs ../shared/bench/compare.sh for the uncached server (floor-http, tipg and citygis
#     interleaved) and ../shared/bench/run-tiles.sh for the warm one beside floor-http.
#
# Environment: CONC (default 16), DURATION (10), REPEATS (2), WARMUP (5), ZOOMS (all: 12 14 16),
#   FLOOR (0: skip the bare-SQL floor), BENCH_VENV (/tmp/bench-venv, created if missing).
# Loopback only; every run is bounded in time. Results: stdout and /tmp/citygis-bench-results.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
export BENCH_VENV=${BENCH_VENV:-/tmp/bench-venv}
export CONC=${CONC:-16} DURATION=${DURATION:-10} REPEATS=${REPEATS:-2} WARMUP=${WARMUP:-5}
export FLOOR=${FLOOR:-0}
PORT_UNCACHED=8093 PORT_WARM=8094
PSQL=(/usr/lib/postgresql/15/bin/psql -h /tmp/bench-pg -p 55432 -U postgres -X -q -At -v ON_ERROR_STOP=1)

if [ ! -x "$BENCH_VENV/bin/uvicorn" ]; then
  python3 -m venv "$BENCH_VENV"
  "$BENCH_VENV/bin/pip" install -q tipg 'uvicorn[standard]' asyncpg 'psycopg[binary]' mercantile
fi
"$SHARED/pg-up.sh"
if [ "$("${PSQL[@]}" -d bench -c "SELECT to_regclass('public.buildings') IS NOT NULL")" != t ]; then
  "${PSQL[@]}" -d bench -f "$SHARED/make-city.sql" >/dev/null
fi

# Only citygis reads this database: the anchors keep DATABASE_URL's default (the bench database).
CITYGIS_DB=postgres://postgres@127.0.0.1:55432/citygis_bench
if [ -z "$("${PSQL[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname='citygis_bench'")" ]; then
  "${PSQL[@]}" -d postgres -c "CREATE DATABASE citygis_bench"
fi
cd "$ROOT"
DATABASE_URL=$CITYGIS_DB .venv/bin/python manage.py migrate --no-input -v 0
have=$("${PSQL[@]}" -d citygis_bench -c "SELECT count(*) FROM layers_building WHERE source = 'bench'")
if [ "$have" != 300000 ]; then
  echo "tiles.sh: copying the synthetic city's 300,000 buildings into layers_building"
  "${PSQL[@]}" -d citygis_bench -c "TRUNCATE layers_building CASCADE"
  # The purge triggers are off for the bulk copy (session_replication_role): no server listens yet.
  "${PSQL[@]}" -d bench -c "\copy (SELECT id, 'bench', id::text, now(), now(), '', '',
        split_part(address, ', ', 1), split_part(address, ', ', 2), '', '', '', flats, NULL,
        NULL, NULL, ST_Multi(geom) FROM buildings b ORDER BY b.id) TO STDOUT" |
    PGOPTIONS='-c session_replication_role=replica' "${PSQL[@]}" -d citygis_bench -c "\copy
        layers_building (id, source, source_id, created_at, updated_at, name, kind, street,
        housenumber, city, postcode, search_key, flats, floors, height_m, year_built, geom)
        FROM STDIN"
  "${PSQL[@]}" -d citygis_bench -c "SELECT setval(pg_get_serial_sequence('layers_building', 'id'),
        (SELECT max(id) FROM layers_building)); ANALYZE layers_building"
fi

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
