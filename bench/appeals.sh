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
#     the table says how many were made), then READ_SECONDS of reads (SKIP_CREATE=1 skips it);
#  4. mixed load with a restart (bench/mixed_driver.py): MIXED_CONC clients for MIXED_SECONDS
#     create appeals, move them on, issue and start overdue permits, read tiles and search,
#     while two job workers run the claims sweep every minute; at OUTAGE_AT seconds PostgreSQL
#     (the project-local cluster: every database in it) is stopped for OUTAGE_SECONDS and
#     started again. Then bench/mixed_check.py holds the database to what the clients were told:
#     nothing lost, nothing twice, every overdue permit claimed once per recipient.
#
# Environment: COUNT (200000), CONC (4), CREATE_SECONDS (300), READ_SECONDS (60), WORKERS (2),
#   PORT (8096), FRESH (1), SKIP_CREATE (0), MIXED_SECONDS (120, 0 skips it), MIXED_CONC (50),
#   OUTAGE_AT (50), OUTAGE_SECONDS (10, 0: no restart). Loopback only; every step is bounded.
# Results: stdout, /tmp/citygis-appeals-bench.json and /tmp/citygis-mixed-bench.json.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/env.sh"
. "$HERE/../scripts/env.sh"
cd "$ROOT"
COUNT=${COUNT:-200000} CONC=${CONC:-4} CREATE_SECONDS=${CREATE_SECONDS:-300}
READ_SECONDS=${READ_SECONDS:-60} WORKERS=${WORKERS:-2} PORT=${PORT:-8096} FRESH=${FRESH:-1}
SKIP_CREATE=${SKIP_CREATE:-0} MIXED_SECONDS=${MIXED_SECONDS:-120} MIXED_CONC=${MIXED_CONC:-50}
OUTAGE_AT=${OUTAGE_AT:-50} OUTAGE_SECONDS=${OUTAGE_SECONDS:-10}
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
timeout $((CREATE_SECONDS + READ_SECONDS + MIXED_SECONDS + 600)) "$VENV/bin/gunicorn" gis.asgi:application \
  --worker-class uvicorn_worker.UvicornWorker --bind "127.0.0.1:$PORT" --workers "$WORKERS" \
  --log-level warning >"$LOG" 2>&1 &
SERVER=$!
WORKER_PIDS=()
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 60); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  sleep 0.5
done
curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" || { echo "appeals.sh: no server, see $LOG" >&2; exit 1; }

if [ "$SKIP_CREATE" != 1 ]; then
echo "## appeals: $WORKERS workers, $CONC clients, up to $COUNT creates or ${CREATE_SECONDS}s, then ${READ_SECONDS}s of reads"
timeout $((CREATE_SECONDS + READ_SECONDS + 120)) "$VENV/bin/python" bench/appeals_driver.py \
  --base "http://127.0.0.1:$PORT" --token "$TOKEN" --count "$COUNT" --concurrency "$CONC" \
  --create-seconds "$CREATE_SECONDS" --read-seconds "$READ_SECONDS" --addresses "$ADDRESSES" \
  --json /tmp/citygis-appeals-bench.json
echo "appeals.sh: $(timeout 60 "$VENV/bin/python" manage.py shell -v 0 --no-imports -c "
from orders.appeals.models import Appeal; print(f'{Appeal.objects.count():,}')") appeals after the run"
fi

if [ "$MIXED_SECONDS" != 0 ]; then
  CONTRACTOR=$(timeout 60 "$VENV/bin/python" manage.py shell -v 0 --no-imports -c "
from layers.models import Organisation
print(Organisation.objects.filter(kind='contractor').order_by('pk').values_list('pk', flat=True)[0])")
  # Two workers, the sweep every minute: both race for it, each claim must still be made once.
  for w in 1 2; do
    CLAIMS_SWEEP_CRON='* * * * *' timeout $((MIXED_SECONDS + 400)) "$VENV/bin/python" manage.py \
      worker --concurrency 2 >"/tmp/citygis-mixed-worker-$w.log" 2>&1 &
    WORKER_PIDS+=($!)
  done
  trap 'kill $SERVER "${WORKER_PIDS[@]}" 2>/dev/null || true' EXIT
  timeout $((MIXED_SECONDS + 120)) "$VENV/bin/python" bench/mixed_driver.py \
    --base "http://127.0.0.1:$PORT" --token "$TOKEN" --contractor "$CONTRACTOR" \
    --addresses "$ADDRESSES" --concurrency "$MIXED_CONC" --seconds "$MIXED_SECONDS" \
    --outage-at "$OUTAGE_AT" --outage-seconds "$OUTAGE_SECONDS" \
    --db-script "$ROOT/scripts/db.sh" --json /tmp/citygis-mixed-bench.json
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && echo "appeals.sh: /healthz ok after the run"
  timeout 300 "$VENV/bin/python" bench/mixed_check.py --json /tmp/citygis-mixed-bench.json --wait 180
fi
