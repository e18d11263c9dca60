# Shared paths for the set-up scripts; sourced, never run.
# The cluster's socket lives under /tmp: a unix socket path must stay under 107 bytes, and a
# checkout can sit deep in a tree. The hash keeps two checkouts on one machine apart; gis/settings.py
# computes the same name.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="/tmp/citygis-$(printf %s "$ROOT" | sha1sum | cut -c1-10)"
PG_PORT="${CITYGIS_PG_PORT:-54329}"
PG_DATA="${PG_DATA:-$ROOT/var/pg/data}"
PG_MAJORS=(17 16 15)  # the PostgreSQL majors citygis runs on, newest first
PG_LIB="${PG_LIB:-/usr/lib/postgresql}"
PG_SHARE="${PG_SHARE:-/usr/share/postgresql}"

pg_major() {
    # The PostgreSQL major to run: the one the cluster under var/pg was made with (its data is
    # readable by no other); else the newest of 17, 16, 15 installed with PostGIS; else the newest
    # whose PostGIS package apt offers (setup.sh installs it: 15 on Debian 12, 17 on Debian 13).
    if [ -f "$PG_DATA/PG_VERSION" ]; then cat "$PG_DATA/PG_VERSION"; return; fi
    local v
    for v in "${PG_MAJORS[@]}"; do
        if [ -x "$PG_LIB/$v/bin/postgres" ] && [ -f "$PG_SHARE/$v/extension/postgis.control" ]; then
            echo "$v"; return
        fi
    done
    for v in "${PG_MAJORS[@]}"; do
        if apt-cache show "postgresql-$v-postgis-3" >/dev/null 2>&1; then echo "$v"; return; fi
    done
    echo "${PG_MAJORS[-1]}"
}
PG_MAJOR_GIVEN="${PG_MAJOR:-}"
PG_MAJOR="${PG_MAJOR:-$(pg_major)}"
PG_BIN="${PG_BIN:-$PG_LIB/$PG_MAJOR/bin}"
VENV="$ROOT/.venv"
as_postgres() {
    # PostgreSQL refuses to run as root; a root shell runs the cluster as the postgres user.
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
