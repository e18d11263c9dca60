#!/usr/bin/env bash
# bench/sweep.sh — the overrun sweep (orders/permits) on 1,000,000 permits, 1 % of them overdue.
#
# Goal (issue 6): finding the overrun permits and creating their claims and send jobs (not
# sending) takes at most 2 s. The sweep is one statement (INSERT … SELECT … ON CONFLICT DO
# NOTHING RETURNING, the jobs deferred in bulk by procrastinate's SQL function); this measures it.
#
#  1. creates the database citygis_sweep in the project-local cluster (scripts/db.sh) — or uses
#     SWEEP_DATABASE_URL — and migrates it;
#  2. bench/sweep.py bulk-loads the permits with one INSERT … SELECT generate_series (once: kept
#     between runs), then times the sweep REPEATS times from no claims, and the steady state
#     (a sweep with nothing left to claim, what the worker runs every five minutes).
#
# Environment: PERMITS (1000000), OVERDUE_PCT (1), REPEATS (3), SWEEP_DATABASE_URL.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/env.sh"
ROOT=$(cd "$HERE/.." && pwd)
. "$ROOT/scripts/env.sh"
cd "$ROOT"

if [ -z "${SWEEP_DATABASE_URL:-}" ]; then
    scripts/db.sh start >/dev/null
    PSQL=("$PG_BIN/psql" -h "$RUN_DIR" -p "$PG_PORT" -U citygis -X -q -At -v ON_ERROR_STOP=1)
    if [ -z "$("${PSQL[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'citygis_sweep'")" ]; then
        "${PSQL[@]}" -d postgres -c "CREATE DATABASE citygis_sweep"
    fi
    PGOPTIONS="-c client_min_messages=warning" "${PSQL[@]}" -d citygis_sweep \
        -c "CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS pg_trgm"
    SWEEP_DATABASE_URL="postgres://citygis@$(printf %s "$RUN_DIR" | sed 's|/|%2F|g'):$PG_PORT/citygis_sweep"
fi
export DATABASE_URL=$SWEEP_DATABASE_URL
"$VENV/bin/python" manage.py migrate --no-input -v 0
exec "$VENV/bin/python" bench/sweep.py --permits "${PERMITS:-1000000}" \
    --overdue-pct "${OVERDUE_PCT:-1}" --repeats "${REPEATS:-3}"
