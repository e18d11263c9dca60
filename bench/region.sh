#!/usr/bin/env bash
# bench/region.sh [measure] — citygis on a region-size city, in one run, as a markdown table.
#
# Without an argument it first builds the region if missing (bench/make-region: 1,000,000
# buildings, 100,000 yards, 20,000 network lines, 2,000,000 appeals, 1,000,000 permits in the
# database citygis_region of the bench cluster); `measure` reuses the built region and only
# measures (it stops if there is none). Then, each step bounded in time, loopback only:
#
#  tiles      citygis with TILE_CACHE=false (gunicorn + 2 uvicorn workers, as bench/tiles.sh)
#             beside floor-http (../shared/bench/floor_http.py, 2 workers, on the region's own
#             copy of the buildings: schema region), interleaved by ../shared/bench/run-tiles.sh
#             over bench/region-tiles.txt (z14, z16; CONC=16 DURATION=10 REPEATS=2), with the
#             bare-SQL floor (floor.py, 2 clients, no HTTP) before;
#  lookup     bench/lookup.py against the same server: 200 damaged address queries and 200
#             nearby points, API and bare SQL interleaved (ROUNDS=3);
#  sweep      bench/sweep.py: the overrun sweep among the region's 1,000,000 permits (REPEATS=3);
#  dashboard  bench/dashboard.py --appeals 0 on the region's 2,000,000 appeals (RUNS=5);
#  osm        manage.py import_osm into a fresh database citygis_osm of the same cluster: the
#             Baltimore extract of ../shared/data, then a synthetic one of OSM_BUILDINGS (100,000)
#             houses and their streets (bench/region_osm.py), objects a second and seconds per
#             million objects.
#
# Raw output in /tmp/citygis-region-results/<UTC time>/; the table at the end (and table.md).
# About 9 minutes on 2 cores (measure); building the region the first time about 15 more.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/env.sh"
. "$HERE/../scripts/env.sh"  # PG_BIN: the PostgreSQL this machine runs
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
DATA=${SHARED_DATA:-$ROOT/../shared/data}
export BENCH_VENV=${BENCH_VENV:-/tmp/bench-venv}
CONC=${CONC:-16} DURATION=${DURATION:-10} REPEATS=${REPEATS:-2} ROUNDS=${ROUNDS:-3} RUNS=${RUNS:-5}
OSM_BUILDINGS=${OSM_BUILDINGS:-100000}
PORT=8097 FLOOR_PORT=8098
PSQL=("$PG_BIN/psql" -h /tmp/bench-pg -p 55432 -U postgres -X -q -At -v ON_ERROR_STOP=1)
REGION_URL=postgres://postgres@127.0.0.1:55432/citygis_region
OUT=/tmp/citygis-region-results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
cd "$ROOT"
began=$(date +%s)
load() { cut -d' ' -f1-3 /proc/loadavg; }

if [ ! -x "$BENCH_VENV/bin/uvicorn" ]; then
  python3 -m venv "$BENCH_VENV"
  "$BENCH_VENV/bin/pip" install -q tipg 'uvicorn[standard]' asyncpg 'psycopg[binary]' mercantile
fi
"$SHARED/pg-up.sh" >/dev/null
case ${1:-} in
  measure)
    [ "$("${PSQL[@]}" -d citygis_region -c "SELECT to_regclass('region.built') IS NOT NULL" 2>/dev/null)" = t ] ||
      { echo "region.sh: no built region; run bench/make-region (or bench/region.sh) first" >&2; exit 1; } ;;
  "") "$HERE/make-region" ;;
  *) echo "usage: bench/region.sh [measure]" >&2; exit 2 ;;
esac
"$HERE/make-region" status | tee "$OUT/status.txt"

stop() {
  [ -s "/tmp/citygis-bench-$PORT.pid" ] && kill "$(cat "/tmp/citygis-bench-$PORT.pid")" 2>/dev/null || true
  "$SHARED/serve.sh" stop $FLOOR_PORT >/dev/null || true
}
trap stop EXIT

echo "## tiles (load $(load))"
echo "tiles $(load)" >"$OUT/load.txt"
DATABASE_URL=$REGION_URL TILE_CACHE=false timeout 3600 .venv/bin/gunicorn gis.asgi:application \
  --worker-class uvicorn_worker.UvicornWorker --workers 2 --bind "127.0.0.1:$PORT" \
  --log-level warning >"$OUT/citygis.log" 2>&1 &
echo $! >"/tmp/citygis-bench-$PORT.pid"
# The floor reads "buildings": the region's copy of them, in schema region (asyncpg passes the
# URL's other parameters to the server as settings).
DATABASE_URL="postgresql://postgres@127.0.0.1:55432/citygis_region?search_path=region,public" \
  "$SHARED/serve.sh" start floor-http $FLOOR_PORT 2 >/dev/null
for _ in $(seq 60); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.5; done
curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" ||
  { echo "region.sh: citygis did not start, see $OUT/citygis.log" >&2; exit 1; }

timeout 600 "$BENCH_VENV/bin/python" "$SHARED/floor.py" --tiles "$HERE/region-tiles.txt" \
  --dsn "host=/tmp/bench-pg port=55432 user=postgres dbname=citygis_region options=-csearch_path=region,public" \
  --zooms 14,16 --clients 2 --duration "$DURATION" --repeats "$REPEATS" | grep -v '^#   rep' | tee "$OUT/floor.txt"
CONC=$CONC DURATION=$DURATION REPEATS=$REPEATS WARMUP=5 ZOOMS="14 16" TILES="$HERE/region-tiles.txt" \
  timeout 1200 "$SHARED/run-tiles.sh" floor-http="http://127.0.0.1:$FLOOR_PORT/buildings/{z}/{x}/{y}" \
  citygis="http://127.0.0.1:$PORT/tiles/buildings/{z}/{x}/{y}.pbf" | tee "$OUT/tiles.txt"
"$SHARED/serve.sh" stop $FLOOR_PORT >/dev/null

echo "## lookup (load $(load))"
echo "lookup $(load)" >>"$OUT/load.txt"
DATABASE_URL=$REGION_URL timeout 1200 .venv/bin/python bench/lookup.py --url "http://127.0.0.1:$PORT" \
  --rounds "$ROUNDS" | tee "$OUT/lookup.md"
stop

echo "## sweep (load $(load))"
echo "sweep $(load)" >>"$OUT/load.txt"
DATABASE_URL=$REGION_URL timeout 1200 .venv/bin/python bench/sweep.py --permits 1000000 \
  --overdue-pct 1 --origin 69.05,54.77 --repeats 3 | tee "$OUT/sweep.txt"

echo "## dashboard (load $(load))"
echo "dashboard $(load)" >>"$OUT/load.txt"
DATABASE_URL=$REGION_URL timeout 1200 .venv/bin/python bench/dashboard.py --appeals 0 \
  --runs "$RUNS" | tee "$OUT/dashboard.txt"

echo "## osm import (load $(load))"
echo "osm $(load)" >>"$OUT/load.txt"
OSM_URL=postgres://postgres@127.0.0.1:55432/citygis_osm
SYNTHETIC=$OUT/region-$OSM_BUILDINGS.osm.pbf
.venv/bin/python bench/region_osm.py "$SYNTHETIC" --buildings "$OSM_BUILDINGS" | tee "$OUT/osm.txt"
for file in "$DATA/osm-baltimore/baltimore-2015.osm.pbf" "$SYNTHETIC"; do
  "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS citygis_osm" -c "CREATE DATABASE citygis_osm"
  DATABASE_URL=$OSM_URL .venv/bin/python manage.py migrate --no-input -v 0
  elements=$(.venv/bin/python -c "
import sys
import osmium
class Count(osmium.SimpleHandler):
    n = 0
    def node(self, o): self.n += 1
    def way(self, o): self.n += 1
    def relation(self, o): self.n += 1
count = Count()
count.apply_file(sys.argv[1])
print(count.n)" "$file")
  started=$(date +%s.%N)
  DATABASE_URL=$OSM_URL timeout 1800 .venv/bin/python manage.py import_osm "$file" \
    --report "$OUT/osm-report.json" >"$OUT/osm-import.log" 2>&1
  seconds=$(echo "$(date +%s.%N) - $started" | bc)
  read -r objects < <(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["read"])' "$OUT/osm-report.json")
  echo "osm $(basename "$file") elements $elements objects $objects seconds $seconds $(grep '^import_osm:' "$OUT/osm-import.log")" |
    tee -a "$OUT/osm.txt"
done
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS citygis_osm"
echo "end $(load)" >>"$OUT/load.txt"

wall=$(( $(date +%s) - began ))
python3 "$HERE/region_table.py" "$OUT" "$wall" | tee "$OUT/table.md"
