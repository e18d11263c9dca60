#!/usr/bin/env bash
# A streaming replica (hot standby) of the project-local cluster, for DATABASE_REPLICA_URL: made
# once with pg_basebackup -R from the running primary (scripts/db.sh start), under var/pg-replica,
# on its own port beside the primary's socket. Its replication slot keeps the WAL it has not yet
# received, at most 1 GB (max_slot_wal_keep_size): `drop` removes the slot and the copy.
# Does nothing when DATABASE_URL is set: replicate that database with its own tools.
# Usage: scripts/replica.sh start|stop|status|drop|url
#   REPLICA_DATA (default var/pg-replica/data), CITYGIS_REPLICA_PORT (default the primary's + 1)
set -euo pipefail
. "$(dirname "$0")/env.sh"
cmd="${1:-start}"
REPLICA_DATA="${REPLICA_DATA:-$ROOT/var/pg-replica/data}"
REPLICA_HOME="$(dirname "$REPLICA_DATA")"
REPLICA_PORT="${CITYGIS_REPLICA_PORT:-$((PG_PORT + 1))}"
# One slot per copy: the test suite's replica has its own (tests/replica.py).
SLOT="citygis_$(printf %s "$REPLICA_DATA" | sha1sum | cut -c1-10)"

if [ -n "${DATABASE_URL:-}" ]; then
    echo "replica: DATABASE_URL is set; replicate that database with its own tools"
    exit 0
fi

psql_() { PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -h "$RUN_DIR" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }

case "$cmd" in
start)
    if ! as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
        echo "replica: the primary is not running (scripts/db.sh start)" >&2
        exit 1
    fi
    mkdir -p "$REPLICA_HOME"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$REPLICA_HOME"; fi
    if [ ! -f "$REPLICA_DATA/PG_VERSION" ]; then
        echo "replica: copying the primary into $REPLICA_DATA (pg_basebackup)"
        psql_ -p "$PG_PORT" -d postgres -c "alter system set max_slot_wal_keep_size = '1GB'" \
            -c "select pg_reload_conf()" >/dev/null
        if [ -n "$(psql_ -p "$PG_PORT" -d postgres -c "select 1 from pg_replication_slots where slot_name = '$SLOT'")" ]; then
            psql_ -p "$PG_PORT" -d postgres -c "select pg_drop_replication_slot('$SLOT')" >/dev/null
        fi
        as_postgres "$PG_BIN/pg_basebackup" -h "$RUN_DIR" -p "$PG_PORT" -U postgres \
            -D "$REPLICA_DATA" -R -X stream -C -S "$SLOT" --checkpoint=fast
        # The copy has the primary's settings; a standby of its own port that answers reads.
        cat >> "$REPLICA_DATA/postgresql.auto.conf" <<CONF
port = $REPLICA_PORT
hot_standby = on
hot_standby_feedback = on
CONF
    fi
    if ! as_postgres "$PG_BIN/pg_ctl" -D "$REPLICA_DATA" status >/dev/null 2>&1; then
        as_postgres "$PG_BIN/pg_ctl" -D "$REPLICA_DATA" -l "$REPLICA_HOME/server.log" -w -t 60 start >/dev/null
    fi
    echo "replica: hot standby is up (socket $RUN_DIR, port $REPLICA_PORT): DATABASE_REPLICA_URL=$("$0" url)"
    ;;
stop)
    if [ -f "$REPLICA_DATA/PG_VERSION" ]; then
        as_postgres "$PG_BIN/pg_ctl" -D "$REPLICA_DATA" -m fast stop >/dev/null 2>&1 || true
    fi
    ;;
status)
    as_postgres "$PG_BIN/pg_ctl" -D "$REPLICA_DATA" status
    ;;
drop)
    "$0" stop
    rm -rf "$REPLICA_DATA"
    if as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
        psql_ -p "$PG_PORT" -d postgres \
            -c "select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = '$SLOT'" >/dev/null
    fi
    ;;
url)
    # A socket directory as the host, percent-encoded (dj-database-url reads it so).
    echo "postgres://citygis@${RUN_DIR//\//%2F}:$REPLICA_PORT/citygis"
    ;;
*)
    echo "usage: $0 start|stop|status|drop|url" >&2; exit 2 ;;
esac
