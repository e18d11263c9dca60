#!/usr/bin/env bash
# Starts the project-local PostGIS cluster under var/pg (socket only, no TCP), creating it on first
# use. Does nothing when DATABASE_URL is set: then the operator's own database is used.
# Usage: scripts/db.sh start|stop|status
set -euo pipefail
. "$(dirname "$0")/env.sh"
cmd="${1:-start}"

if [ -n "${DATABASE_URL:-}" ]; then
    echo "db: DATABASE_URL is set, using it"
    exit 0
fi

case "$cmd" in
start)
    if [ ! -x "$PG_BIN/postgres" ]; then
        echo "db: PostgreSQL $PG_MAJOR is not installed (no $PG_BIN/postgres)." >&2
        if [ -f "$PG_DATA/PG_VERSION" ]; then
            echo "db: the cluster in $PG_DATA was made by PostgreSQL $PG_MAJOR: install it (make setup as root), or drop the cluster with make clean-db" >&2
        fi
        exit 1
    fi
    mkdir -p "$ROOT/var/pg" "$RUN_DIR"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$ROOT/var/pg" "$RUN_DIR"
        if ! runuser -u postgres -- test -x "$ROOT/var/pg"; then
            echo "db: the postgres user cannot reach $ROOT/var/pg; move the checkout or set DATABASE_URL" >&2
            exit 1
        fi
    fi
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
        echo "db: creating the cluster in $PG_DATA"
        as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
        cat >> "$PG_DATA/postgresql.conf" <<CONF
listen_addresses = ''
port = $PG_PORT
unix_socket_directories = '$RUN_DIR'
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 256MB
max_connections = 200
fsync = on
synchronous_commit = off
jit = off
CONF
    fi
    if ! as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
        as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$ROOT/var/pg/server.log" -w -t 60 start >/dev/null
    fi
    psql_() { PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -h "$RUN_DIR" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
    if [ -z "$(psql_ -d postgres -c "select 1 from pg_roles where rolname='citygis'")" ]; then
        psql_ -d postgres -c "create role citygis login superuser"
    fi
    if [ -z "$(psql_ -d postgres -c "select 1 from pg_database where datname='citygis'")" ]; then
        psql_ -d postgres -c "create database citygis owner citygis"
    fi
    psql_ -d citygis -c "create extension if not exists postgis; create extension if not exists pg_trgm"
    echo "db: PostGIS is up (socket $RUN_DIR, port $PG_PORT)"
    ;;
stop)
    if [ -f "$PG_DATA/PG_VERSION" ]; then
        as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast stop >/dev/null 2>&1 || true
    fi
    ;;
status)
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" status
    ;;
*)
    echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
