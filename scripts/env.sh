# Shared paths for the set-up scripts; sourced, never run.
# The cluster's socket lives under /tmp: a unix socket path must stay under 107 bytes, and a
# checkout can sit deep in a tree. The hash keeps two checkouts on one machine apart; gis/settings.py
# computes the same name.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="/tmp/citygis-$(printf %s "$ROOT" | sha1sum | cut -c1-10)"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_PORT="${CITYGIS_PG_PORT:-54329}"
PG_DATA="$ROOT/var/pg/data"
VENV="$ROOT/.venv"
as_postgres() {
    # PostgreSQL refuses to run as root; a root shell runs the cluster as the postgres user.
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
