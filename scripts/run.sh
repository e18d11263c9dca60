#!/usr/bin/env bash
# Migrates, loads the demo city once, prints the demo users' tokens and serves citygis on
# HOST:PORT with gunicorn (uvicorn workers). Ctrl-C stops everything it started.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$ROOT"
PY="$VENV/bin/python"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"

"$PY" manage.py migrate --no-input -v 0
"$PY" manage.py collectstatic --no-input -v 0
"$PY" manage.py load_demo
echo
echo "citygis: serving http://$HOST:$PORT/  (Ctrl-C stops)"
exec "$VENV/bin/gunicorn" gis.asgi:application \
    --worker-class uvicorn_worker.UvicornWorker \
    --bind "$HOST:$PORT" --workers "${WEB_CONCURRENCY:-2}" \
    --graceful-timeout 5 --access-logfile - --log-level warning
