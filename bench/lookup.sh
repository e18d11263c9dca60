#!/usr/bin/env bash
# bench/lookup.sh — the lookup API (address search, nearby) against the bare SQL of its own
# statements, on the synthetic city of ../shared/bench, in one run.
#
#  1. bench/load-city.sh: the bench cluster, its synthetic city, the database citygis_bench
#     migrated, with the 300,000 buildings and 20,000 yards copied in (no search keys yet);
#  2. manage.py refresh_search_keys fills the keys of the copied rows, then VACUUM ANALYZE
#     (statistics for the new columns; the GIN indexes' pending lists merged);
#  3. FLOOR=1: the naive floor, ../shared/bench/search_floor.py unchanged, on a copy of the
#     addresses in citygis_bench's own schema "floor" (the shared bench database stays as it is);
#  4. serves citygis with the production server (gunicorn + uvicorn workers, 2 workers), and
#     beside it bench/empty_asgi.py under the same command (the HTTP stack's floor);
#  5. bench/lookup.py: 200 damaged address queries through /api/search and as bare SQL, 200
#     points through /api/nearby and as bare SQL; p50/p95 and top-1 accuracy.
#
# Environment: PORT (8095; the empty app takes PORT+1), ROUNDS (3), QUERIES (200), FLOOR (1). Loopback only; every step is
# bounded in time. A few minutes the first time (refresh_search_keys: about 40 s), then about 1.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/env.sh"
. "$HERE/../scripts/env.sh"  # PG_BIN: the PostgreSQL this machine runs
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
PORT=${PORT:-8095} ROUNDS=${ROUNDS:-3} QUERIES=${QUERIES:-200} FLOOR=${FLOOR:-1}
PSQL=("$PG_BIN/psql" -h /tmp/bench-pg -p 55432 -U postgres -X -q -At -v ON_ERROR_STOP=1)
export DATABASE_URL=postgres://postgres@127.0.0.1:55432/citygis_bench

"$HERE/load-city.sh"
cd "$ROOT"
missing=$("${PSQL[@]}" -d citygis_bench -c "SELECT count(*) FROM layers_building
    WHERE street_key = '' AND street <> '' OR search_key = '' AND housenumber <> ''")
if [ "$missing" != 0 ]; then
  timeout 1800 .venv/bin/python manage.py refresh_search_keys
  "${PSQL[@]}" -d citygis_bench -c "VACUUM ANALYZE layers_building"
  "${PSQL[@]}" -d citygis_bench -c "VACUUM ANALYZE layers_yard"
  "${PSQL[@]}" -d citygis_bench -c "VACUUM ANALYZE layers_streetname"
fi

if [ "$FLOOR" = 1 ]; then
  if [ "$("${PSQL[@]}" -d citygis_bench -c "SELECT to_regclass('floor.buildings') IS NOT NULL")" != t ]; then
    echo "lookup.sh: preparing the naive floor's table (search_floor.py's header) in schema floor"
    "${PSQL[@]}" -d citygis_bench -c "CREATE SCHEMA IF NOT EXISTS floor;
      CREATE TABLE floor.buildings AS SELECT id, street || ', ' || housenumber AS address
        FROM public.layers_building WHERE source = 'bench' ORDER BY id;
      ALTER TABLE floor.buildings ADD skey text;
      UPDATE floor.buildings SET skey = regexp_replace(lower(replace(replace(address, 'ё', 'е'),
        'улица ', '')), '\s*корп\.\s*', 'к', 'g');
      CREATE INDEX ON floor.buildings USING gist (skey public.gist_trgm_ops);
      CREATE INDEX ON floor.buildings USING gin (skey public.gin_trgm_ops);"
    "${PSQL[@]}" -d citygis_bench -c "VACUUM ANALYZE floor.buildings"
  fi
  echo "## naive floor (../shared/bench/search_floor.py on citygis_bench's schema floor)"
  timeout 600 .venv/bin/python - "$SHARED/search_floor.py" <<'EOF'
import sys

path = sys.argv[1]
source = open(path, encoding="utf-8").read().replace(
    "postgresql://postgres@127.0.0.1:55432/bench",
    "postgresql://postgres@127.0.0.1:55432/citygis_bench?options=-csearch_path%3Dfloor%2Cpublic",
)
exec(compile(source, path, "exec"))
EOF
fi

PID_FILE=/tmp/citygis-bench-$PORT.pid EMPTY_PID_FILE=/tmp/citygis-bench-empty-$PORT.pid
stop() {
  for file in "$PID_FILE" "$EMPTY_PID_FILE"; do
    [ -s "$file" ] && kill "$(cat "$file")" 2>/dev/null || true
  done
}
trap stop EXIT
serve() { # port log app [gunicorn options]: the production server's command, as make run's
  local port=$1 log=$2
  shift 2
  timeout 3600 .venv/bin/gunicorn "$@" --worker-class uvicorn_worker.UvicornWorker --workers 2 \
    --bind "127.0.0.1:$port" --log-level warning >"$log" 2>&1 &
}
serve "$PORT" "/tmp/citygis-bench-$PORT.log" gis.asgi:application
echo $! >"$PID_FILE"
# The same server with an empty app (bench/empty_asgi.py): the HTTP stack's floor.
serve "$((PORT + 1))" /dev/null empty_asgi:app --chdir "$HERE"
echo $! >"$EMPTY_PID_FILE"
for _ in $(seq 60); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  sleep 0.5
done
curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" ||
  { echo "lookup.sh: citygis did not start, see /tmp/citygis-bench-$PORT.log" >&2; exit 1; }
curl -sf -o /dev/null "http://127.0.0.1:$((PORT + 1))/" ||
  { echo "lookup.sh: the empty app did not start" >&2; exit 1; }

timeout 1800 .venv/bin/python bench/lookup.py --url "http://127.0.0.1:$PORT" \
  --empty-url "http://127.0.0.1:$((PORT + 1))" \
  --queries "$QUERIES" --rounds "$ROUNDS" | tee /tmp/citygis-lookup-results.md
