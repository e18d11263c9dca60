#!/usr/bin/env bash
# bench/load-city.sh — the synthetic city of ../shared/bench in citygis's own database, for the
# benchmarks (bench/tiles.sh, bench/lookup.sh). Idempotent: each step is skipped when done.
#
#  1. starts the bench cluster (../shared/bench/pg-up.sh) and builds its synthetic city in the
#     database bench if missing (make-city.sql, about a minute);
#  2. creates the database citygis_bench in that same cluster (same PostgreSQL, same settings as
#     the floor) and migrates it;
#  3. copies the 300,000 buildings into layers_building (id, address → street + house number,
#     flats) and the 20,000 yards into layers_yard (id, address), unless they are there already,
#     and puts both tables in spatial order with `manage.py cluster_layers`, as the importers do
#     after a bulk load (the copy keeps the synthetic city's id order, which is random in space).
#
# The copy bypasses the ORM and every trigger (session_replication_role = replica: no tile server
# listens yet), so the search keys stay empty: bench/lookup.sh fills them with
# `manage.py refresh_search_keys`, as an operator would after loading rows by plain SQL.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/env.sh"
. "$HERE/../scripts/env.sh"  # PG_BIN: the PostgreSQL this machine runs
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
PSQL=("$PG_BIN/psql" -h /tmp/bench-pg -p 55432 -U postgres -X -q -At -v ON_ERROR_STOP=1)
CITYGIS_DB=postgres://postgres@127.0.0.1:55432/citygis_bench

"$SHARED/pg-up.sh"
if [ "$("${PSQL[@]}" -d bench -c "SELECT to_regclass('public.buildings') IS NOT NULL")" != t ]; then
  "${PSQL[@]}" -d bench -f "$SHARED/make-city.sql" >/dev/null
fi

if [ -z "$("${PSQL[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname='citygis_bench'")" ]; then
  "${PSQL[@]}" -d postgres -c "CREATE DATABASE citygis_bench"
fi
cd "$ROOT"
DATABASE_URL=$CITYGIS_DB .venv/bin/python manage.py migrate --no-input -v 0

have=$("${PSQL[@]}" -d citygis_bench -c "SELECT count(*) FROM layers_building WHERE source = 'bench'")
if [ "$have" != 300000 ]; then
  echo "load-city.sh: copying the synthetic city's 300,000 buildings into layers_building"
  "${PSQL[@]}" -d citygis_bench -c "TRUNCATE layers_building CASCADE"
  "${PSQL[@]}" -d bench -c "\copy (SELECT id, 'bench', id::text, now(), now(), '', '',
        split_part(address, ', ', 1), split_part(address, ', ', 2), '', '', '', '', '', '',
        flats, NULL, NULL, NULL, ST_Multi(geom) FROM buildings b ORDER BY b.id) TO STDOUT" |
    PGOPTIONS='-c session_replication_role=replica' "${PSQL[@]}" -d citygis_bench -c "\copy
        layers_building (id, source, source_id, created_at, updated_at, name, kind, street,
        housenumber, city, postcode, search_key, street_key, house_key, name_key, flats, floors,
        height_m, year_built, geom)
        FROM STDIN"
  "${PSQL[@]}" -d citygis_bench -c "SELECT setval(pg_get_serial_sequence('layers_building', 'id'),
        (SELECT max(id) FROM layers_building)); ANALYZE layers_building"
  DATABASE_URL=$CITYGIS_DB .venv/bin/python manage.py cluster_layers --layer buildings
fi

have=$("${PSQL[@]}" -d citygis_bench -c "SELECT count(*) FROM layers_yard WHERE source = 'bench'")
if [ "$have" != 20000 ]; then
  echo "load-city.sh: copying the synthetic city's 20,000 yards into layers_yard"
  "${PSQL[@]}" -d citygis_bench -c "TRUNCATE layers_yard CASCADE"
  "${PSQL[@]}" -d bench -c "\copy (SELECT id, 'bench', id::text, now(), now(), '', address,
        '', '', '', '', 'unknown', 'unknown', NULL, geom FROM yards y ORDER BY y.id) TO STDOUT" |
    PGOPTIONS='-c session_replication_role=replica' "${PSQL[@]}" -d citygis_bench -c "\copy
        layers_yard (id, source, source_id, created_at, updated_at, name, address, search_key,
        street_key, house_key, name_key, surface, condition, last_repaired_on, geom)
        FROM STDIN"
  "${PSQL[@]}" -d citygis_bench -c "SELECT setval(pg_get_serial_sequence('layers_yard', 'id'),
        (SELECT max(id) FROM layers_yard)); ANALYZE layers_yard"
  DATABASE_URL=$CITYGIS_DB .venv/bin/python manage.py cluster_layers --layer yards
fi
