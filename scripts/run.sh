#!/usr/bin/env bash
# Migrates, loads the demo city once, prints the demo users' tokens and serves citygis on
# HOST:PORT with gunicorn (uvicorn workers), with the procrastinate worker beside it (claims for
# overrun permits, their e-mails). Ctrl-C stops everything it started.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$ROOT"
PY="$VENV/bin/python"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
# The hosts citygis answers to: loopback, and the address it is told to bind (all of the
# machine's names and addresses for 0.0.0.0). A request naming any other host gets a 400.
if [ -z "${ALLOWED_HOSTS:-}" ]; then
    hosts="localhost,127.0.0.1,[::1]"
    case "$HOST" in
    127.0.0.1 | localhost | ::1) ;;
    0.0.0.0 | ::) hosts="$hosts,$(hostname),$(hostname -I 2>/dev/null | xargs | tr ' ' ',')" ;;
    *) hosts="$hosts,$HOST" ;;
    esac
    export ALLOWED_HOSTS="${hosts%,}"
fi

# /metrics adds up the counts of every server process (gis/metrics.py): each writes its own files
# here. Emptied first: a previous run's files would still count.
METRICS_DIR="${PROMETHEUS_MULTIPROC_DIR:-$ROOT/var/metrics}"
mkdir -p "$METRICS_DIR"
find "$METRICS_DIR" -maxdepth 1 -name '*.db' -delete

"$PY" manage.py migrate --no-input -v 0
"$PY" manage.py collectstatic --no-input -v 0
"$PY" manage.py load_demo
# The first overrun sweep now; then the worker's periodic one (CLAIMS_SWEEP_CRON) takes over.
"$PY" manage.py send_overdue_claims
# The first public tile archive, by the worker as soon as it starts; then on PMTILES_CRON.
"$PY" manage.py export_public_tiles --defer

pids=()
stop() {
    trap - INT TERM EXIT
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM EXIT

# manage.py worker: procrastinate's worker, started again by itself after a database restart.
"$PY" manage.py worker --concurrency "${WORKER_CONCURRENCY:-2}" &
pids+=($!)
echo
echo "citygis: serving http://$HOST:$PORT/ with a job worker; e-mails in ${EMAIL_FILE_PATH:-var/mail}  (Ctrl-C stops)"
# -v 0 --no-imports: else Django 5.2's shell prints its auto-imports first and this never matches.
if [ "$("$PY" manage.py shell -v 0 --no-imports -c 'from django.conf import settings; print(settings.DEBUG)')" = True ]; then
    echo "citygis: DEBUG is on (a demo on the project-local cluster): not for production, see docs/admin/deployment.md"
fi
echo "citygis: answers to the hosts $ALLOWED_HOSTS"
PROMETHEUS_MULTIPROC_DIR="$METRICS_DIR" "$VENV/bin/gunicorn" gis.asgi:application \
    --worker-class uvicorn_worker.UvicornWorker \
    --bind "$HOST:$PORT" --workers "${WEB_CONCURRENCY:-2}" \
    --graceful-timeout 5 --access-logfile - --log-level warning &
pids+=($!)
# Either one ending stops the other: a server whose worker died would silently stop sending claims.
status=0
wait -n "${pids[@]}" || status=$?
exit "$status"
