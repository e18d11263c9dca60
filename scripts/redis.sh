#!/usr/bin/env bash
# Starts a project-local Redis on a unix socket for the tests, unless REDIS_URL is set.
# Prints the URL to use.
set -euo pipefail
. "$(dirname "$0")/env.sh"
if [ -n "${REDIS_URL:-}" ]; then echo "$REDIS_URL"; exit 0; fi
mkdir -p "$RUN_DIR" "$ROOT/var/redis"
sock="$RUN_DIR/redis.sock"
if ! redis-cli -s "$sock" ping >/dev/null 2>&1; then
    redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --daemonize yes \
        --dir "$ROOT/var/redis" --save '' --appendonly no \
        --logfile "$ROOT/var/redis/redis.log" --pidfile "$ROOT/var/redis/redis.pid" >/dev/null
    for _ in $(seq 50); do redis-cli -s "$sock" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
echo "unix://$sock"
