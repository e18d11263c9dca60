#!/usr/bin/env bash
# bench/appeals.sh — appeals under load: COUNT appeals created through the API by CONC concurrent
# clients, then the list filters and the department report under load, against the production
# server (gunicorn + uvicorn workers, as scripts/run.sh serves) on its own database.
#
#  1. creates the database citygis_appeals in the project-local cluster (scripts/db.sh), fresh
#     unless FRESH=0, migrates it and loads the demo city (load_demo: the OSM extract, the derived
#     layers, the categories and the 311 sample as appeals);
#  2. serves it on 127.0.0.1:$PORT with $WORKERS workers;
#  3. runs bench/appeals_driver.py: creation stops at COUNT appeals or after CREATE_SECONDS,
#     whichever comes first (the issue's 200,000 takes longer than a few minutes on 2 cores:
#     the table says how many were made), then READ_SECONDS of reads.
#
# Environment: COUNT (200000), CONC (4), CREATE_SECONDS (300), READ_SECONDS (60), WORKERS (2),
#   PORT (8096), FRESH (1). Loopback only; every step is bounded in time.
# Results: stdout, and /tmp/citygis-appeals-bench.json.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/env.sh"
. "$HERE/../scripts/env.sh"
cd "$ROOT"
COUNT=${COUNT:-200000} CONC=${CONC:-4} CREATE_SECONDS=${CREATE_SECONDS:-300}
READ_SECONDS=${READ_SECONDS:-60} WORKERS=${WORKERS:-2} PORT=${PORT:-8096} FRESH=${FRESH:-1}
DB=citygis_appeals
PSQL=("$PG_BIN/psql" -h "$RUN_DIR" -p "$PG_PORT" -U postgres -X -q -At -v ON_ERROR_STOP=1)
export DATABASE_URL="postgres://citygis@$(printf %s "$RUN_DIR" | sed 's|/|%2F|g'):$PG_PORT/$DB"

env -u DATABASE_URL scripts/db.sh start >/dev/null
if [ "$FRESH" = 1 ]; then
  "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
fi
if [ -z "$("${PSQL[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname='$DB'")" ]; then
  "${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB OWNER citygis"
  "${PSQL[@]}" -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS pg_trgm"
fi
timeout 300 "$VENV/bin/python" manage.py migrate --no-input -v 0
echo "appeals.sh: loading the demo city into $DB"
timeout 600 "$VENV/bin/python" manage.py load_demo | grep -E '^(demo city|note: demo city)' || true
TOKEN=$(timeout 60 "$VENV/bin/python" manage.py create_user --role operator --username bench)
ADDRESSES=/tmp/citygis-appeals-bench-addresses.txt
timeout 60 "$VENV/bin/python" manage.py shell -v 0 --no-imports -c "
from layers.models import Building
rows = Building.objects.exclude(street='').exclude(housenumber='').order_by('pk')[:500]
print('\n'.join(f'{b.housenumber} {b.street}' for b in rows))" >"$ADDRESSES"
echo "appeals.sh: $(timeout 60 "$VENV/bin/python" manage.py shell -v 0 --no-imports -c "
from orders.appeals.models import Appeal; print(f'{Appeal.objects.count():,}')") appeals before the run"

LOG=/tmp/citygis-appeals-bench-server.log
timeout $((CREATE_SECONDS + READ_SECONDS + 300)) "$VENV/bin/gunicorn" gis.asgi:application \
  --worker-class uvicorn_worker.UvicornWorker --bind "127.0.0.1:$PORT" --workers "$WORKERS" \
  --log-level warning >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 60); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  sleep 0.5
done
curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" || { echo "appeals.sh: no server, see $LOG" >&2; exit 1; }

echo "## appeals: $WORKERS workers, $CONC clients, up to $COUNT creates or ${CREATE_SECONDS}s, then ${READ_SECONDS}s of reads"
timeout $((CREATE_SECONDS + READ_SECONDS + 120)) "$VENV/bin/python" bench/appeals_driver.py \
  --base "http://127.0.0.1:$PORT" --token "$TOKEN" --count "$COUNT" --concurrency "$CONC" \
  --create-seconds "$CREATE_SECONDS" --read-seconds "$READ_SECONDS" --addresses "$ADDRESSES" \
  --json /tmp/citygis-appeals-bench.json
echo "appeals.sh: $(timeout 60 "$VENV/bin/python" manage.py shell -v 0 --no-imports -c "
from orders.appeals.models import Appeal; print(f'{Appeal.objects.count():,}')") appeals after the run"
