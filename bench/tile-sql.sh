#!/usr/bin/env bash
# bench/tile-sql.sh — where a z16 tile's database time goes: the tile statement alone, no HTTP,
# under pgbench (prepared, 2 clients), over the 200 z16 tiles of ../shared/bench/tiles.txt:
#
#   floor       the floor's statement on its own table (bench.buildings: id, address, flats)
#   citygis     our public buildings tile statement (tiles/sql.py) on layers_building
#   floor-ours  the floor's statement on a narrow copy of layers_building (id, address, flats, source and
#               the tile's properties; same rows, same order)
#   citygis-narrow  our statement on that narrow copy
#
# citygis against citygis-narrow is the cost of our wide row; citygis-narrow against floor-ours
# the cost of our statement (more properties, the MVT feature id); floor-ours against floor the
# cost of our row order and geometry type. Run after bench/load-city.sh (bench/tiles.sh
# runs it). Environment: SECONDS_EACH (6), ROUNDS (2). Loopback only; bounded in time.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/env.sh"
. "$HERE/../scripts/env.sh"  # PG_BIN: the PostgreSQL this machine runs
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
SECONDS_EACH=${SECONDS_EACH:-6} ROUNDS=${ROUNDS:-2}
BIN=$PG_BIN
PSQL=("$BIN/psql" -h 127.0.0.1 -p 55432 -U postgres -X -q -At -v ON_ERROR_STOP=1)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; for db in bench citygis_bench; do "${PSQL[@]}" -d $db -c "DROP TABLE IF EXISTS bench_z16_tiles" || true; done; "${PSQL[@]}" -d citygis_bench -c "DROP TABLE IF EXISTS bench_narrow_buildings" || true' EXIT

grep '^16/' "$SHARED/tiles.txt" | awk -F'[/ ]' '{print $2","$3}' >"$WORK/tiles.csv"
for db in bench citygis_bench; do
  "${PSQL[@]}" -d $db -c "SET client_min_messages = warning; DROP TABLE IF EXISTS bench_z16_tiles;
    CREATE TABLE bench_z16_tiles (n serial PRIMARY KEY, x int, y int)"
  "${PSQL[@]}" -d $db -c "\copy bench_z16_tiles (x, y) FROM '$WORK/tiles.csv' CSV"
done
"${PSQL[@]}" -d citygis_bench -c "SET client_min_messages = warning;
  DROP TABLE IF EXISTS bench_narrow_buildings;
  CREATE TABLE bench_narrow_buildings AS
    SELECT id, street || ', ' || housenumber AS address, street, housenumber, kind, flats, floors,
      height_m, render_height_m, source, geom FROM layers_building ORDER BY ctid;
  CREATE INDEX ON bench_narrow_buildings USING gist (geom); ANALYZE bench_narrow_buildings"

pick='\set n random(1, 200)
SELECT x AS x, y AS y FROM bench_z16_tiles WHERE n = :n \gset'
floor_sql() {  # table
  echo "SELECT ST_AsMVT(q,'buildings',4096,'geom') FROM (SELECT id, address, flats,
    ST_AsMVTGeom(ST_Transform(geom,3857), ST_TileEnvelope(16,:x,:y), 4096, 64, true) AS geom
    FROM $1 WHERE geom && ST_Transform(ST_TileEnvelope(16,:x,:y, margin => 64.0/4096), 4326)) q;"
}
printf '%s\n%s\n' "$pick" "$(floor_sql buildings)" >"$WORK/floor.sql"
printf '%s\n%s\n' "$pick" "$(floor_sql bench_narrow_buildings)" >"$WORK/floor-ours.sql"
ours=$(cd "$ROOT" && DATABASE_URL=postgres://postgres@127.0.0.1:55432/citygis_bench \
  .venv/bin/python manage.py shell -v 0 --no-imports -c "
from gis.roles import PUBLIC
from gis.spatial import TileAddress
from tiles.selectors import tileset_for
statement, _ = tileset_for(names='buildings', viewer=PUBLIC).statement(TileAddress(16, 0, 0))
print(statement.replace('%(z)s', '16').replace('%(x)s', ':x').replace('%(y)s', ':y'))")
printf '%s\n%s;\n' "$pick" "$ours" >"$WORK/citygis.sql"
printf '%s\n%s;\n' "$pick" "${ours//\"layers_building\"/bench_narrow_buildings}" >"$WORK/citygis-narrow.sql"

echo "# z16 tile statements under pgbench -M prepared -c 2 -j 2 -T $SECONDS_EACH, $ROUNDS rounds, tps"
for round in $(seq "$ROUNDS"); do
  for name in floor floor-ours citygis citygis-narrow; do
    db=citygis_bench; [ $name = floor ] && db=bench
    tps=$(timeout $((SECONDS_EACH + 30)) "$BIN/pgbench" -h 127.0.0.1 -p 55432 -U postgres -n \
      -M prepared -c 2 -j 2 -T "$SECONDS_EACH" -f "$WORK/$name.sql" $db 2>/dev/null |
      awk '/^tps/ {print $3}')
    printf '%-15s round %s  %8.1f tps\n' "$name" "$round" "$tps"
  done
done
