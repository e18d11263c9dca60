-- bench/make-region.sql — a deterministic region of a million buildings, written straight into
-- citygis's tables of a migrated database (bench/make-region runs it; see its header).
--
--   region.buildings      1,000,000 rotated rectangles: id, address, flats, geom — the bare-SQL
--                         floor's table (floor.py / floor_http.py read "buildings"), in id order
--   layers_building       the same rows (street + house number, flats, floors), id = the floor's id
--   layers_yard             100,000 yards (address)
--   layers_networksegment    20,000 network lines (water / heat / sewer)
--   layers_district              25 districts: a 5 × 5 grid of 40 km squares, 400 vertices each
--   appeals_appeal        2,000,000 appeals, 1,818 a day over 1,100 days up to 2026-12-07, each at a
--                         building or a yard, in the appeals app's categories; old ones mostly
--                         archived, the last ten days in every status; 2 % reopened once
--   appeals_appealhistory   the reopened ones' history rows
--
-- The region: the city of ../shared/bench/make-city.sql (the same 30 districts around lon 69.15,
-- lat 54.87, 40 % of the buildings) and 40 towns 25–95 km away (a core and two suburbs each,
-- 60 % in all), inside a 198 × 198 km box. Every "random" number is a hash of (row number, salt),
-- as in make-city.sql, so the rows are the same on every run and machine; only created_at and
-- updated_at hold the day of the build. Triggers are off (session_replication_role = replica, as
-- a bulk import): search keys are empty (manage.py refresh_search_keys fills them) and each
-- appeal's district is set here by the grid the districts are.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;
SET session_replication_role = replica;
SET work_mem = '256MB';

CREATE OR REPLACE FUNCTION pg_temp.r(i bigint, salt int) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT ((hashint8extended(i, salt) >> 11) & 9007199254740991)::float8 / 9007199254740992.0 $$;
CREATE OR REPLACE FUNCTION pg_temp.n(i bigint, salt int) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT sqrt(-2.0 * ln(1.0 - pg_temp.r(i, salt))) * cos(2.0 * pi() * pg_temp.r(i, salt + 1000)) $$;

-- metres per degree at the centre: a local equirectangular frame, plenty for a synthetic region
CREATE TEMP TABLE k AS SELECT 69.15::float8 AS lon0, 54.87::float8 AS lat0,
       111320.0 * cos(radians(54.87)) AS mx, 111320.0::float8 AS my, 99000.0::float8 AS half;

CREATE TEMP TABLE streets AS
SELECT row_number() OVER () - 1 AS sidx, s AS street FROM unnest(ARRAY[
 'улица Конституции Казахстана','улица Букетова','улица Жамбыла','улица Интернациональная','улица Пушкина',
 'улица Абая','улица Мира','улица Сутюшева','улица Парковая','улица Жумабаева','улица Ауэзова','улица Победы',
 'улица Хименко','улица Батыр Баяна','улица Таштинова','улица Ш. Уалиханова','улица Васильева','улица Казахстанской Правды',
 'улица Труда','улица Гоголя','улица Токсан би','улица Маяковского','улица Семашко','улица Строительная',
 'улица Жабаева','улица Кошукова','улица Ульянова','улица Рабочая','улица Ленинградская','улица Мусрепова',
 'улица Медицинская','улица Брусиловского','улица Чкалова','улица Садовая','улица Школьная','улица Заводская',
 'улица Береговая','улица Северная','улица Южная','улица Лесная','улица Полевая','улица Озёрная',
 'улица Новая','улица Молодёжная','улица Зелёная','улица Степная','улица Железнодорожная','улица Вокзальная',
 'улица Энергетиков','улица Нефтяников','улица Строителей','улица Комсомольская','улица Островского','улица Толстого',
 'улица Чехова','улица Лермонтова','улица Горького','улица Есенина','улица Крылова','улица Тургенева',
 'проспект Назарбаева','проспект Абылай хана','переулок Тихий','переулок Речной','переулок Светлый','переулок Дачный',
 'улица Айманова','улица Шокана','улица Евней Букетова','улица Университетская','улица Кузнечная','улица Мельничная',
 'улица Куйбышева','улица Киевская','улица Московская','улица Омская','улица Карагандинская','улица Алматинская',
 'улица Астанинская','улица Ишимская']) AS s;

-- Settlement districts. 0..29: the city, as make-city.sql (weights × 0.40); 30..149: 40 towns of
-- three districts (a core and two suburbs), town t's weight ∝ 0.5 + r, 0.60 in all.
CREATE TEMP TABLE districts AS
WITH city AS (
  SELECT d,
         CASE WHEN d = 0 THEN 'core' WHEN d <= 8 THEN 'apartment' ELSE 'suburb' END AS dkind,
         CASE WHEN d = 0 THEN 0.0 WHEN d <= 8 THEN 2500 + 4500 * pg_temp.r(d, 11) ELSE 4500 + 8000 * pg_temp.r(d, 11) END AS dist,
         2 * pi() * pg_temp.r(d, 12) AS bearing,
         CASE WHEN d = 0 THEN 2200.0 WHEN d <= 8 THEN 700 + 500 * pg_temp.r(d, 13) ELSE 450 + 700 * pg_temp.r(d, 13) END AS sigma,
         0.40 * CASE WHEN d = 0 THEN 0.35 WHEN d <= 8 THEN 0.30 / 8 ELSE 0.35 / 21 END AS w,
         radians(90 * pg_temp.r(d, 14)) AS theta
  FROM generate_series(0, 29) AS d
), towns AS (
  SELECT t, (25000 + 70000 * pg_temp.r(t, 61)) * cos(2 * pi() * pg_temp.r(t, 62)) AS tx,
            (25000 + 70000 * pg_temp.r(t, 61)) * sin(2 * pi() * pg_temp.r(t, 62)) AS ty,
         0.5 + pg_temp.r(t, 63) AS tw
  FROM generate_series(1, 40) AS t
), town AS (
  SELECT 30 + (t - 1) * 3 + j AS d, CASE WHEN j = 0 THEN 'apartment' ELSE 'suburb' END AS dkind,
         tx + CASE WHEN j = 0 THEN 0 ELSE (1500 + 1500 * pg_temp.r(t * 3 + j, 64)) * cos(2 * pi() * pg_temp.r(t * 3 + j, 65)) END AS cx,
         ty + CASE WHEN j = 0 THEN 0 ELSE (1500 + 1500 * pg_temp.r(t * 3 + j, 64)) * sin(2 * pi() * pg_temp.r(t * 3 + j, 65)) END AS cy,
         CASE WHEN j = 0 THEN 900 ELSE 500 + 400 * pg_temp.r(t * 3 + j, 66) END AS sigma,
         0.60 * tw / sum(tw) OVER () * CASE WHEN j = 0 THEN 0.6 ELSE 0.2 END AS w,
         radians(90 * pg_temp.r(t, 67)) AS theta
  FROM towns, generate_series(0, 2) AS j
), d AS (
  SELECT d, dkind, dist * cos(bearing) AS cx, dist * sin(bearing) AS cy, sigma, w, theta FROM city
  UNION ALL SELECT d, dkind, cx, cy, sigma, w, theta FROM town
)
SELECT d, dkind, cx, cy, sigma, theta,
       sum(w) OVER (ORDER BY d) - w AS lo, sum(w) OVER (ORDER BY d) AS hi
FROM d;
CREATE INDEX ON districts (lo);
ANALYZE districts;

-- a point of the region: a district by weight, a Gaussian offset around its centre
CREATE OR REPLACE FUNCTION pg_temp.place(i bigint, salt int,
  OUT d int, OUT dkind text, OUT x float8, OUT y float8, OUT theta float8)
LANGUAGE sql STABLE AS $$
  SELECT t.d, t.dkind, t.cx + t.sigma * pg_temp.n(i, salt + 1), t.cy + t.sigma * pg_temp.n(i, salt + 2), t.theta
  FROM districts t WHERE t.lo <= pg_temp.r(i, salt) ORDER BY t.lo DESC LIMIT 1 $$;

CREATE TEMP TABLE unit AS SELECT 'POLYGON((-0.5 -0.5,0.5 -0.5,0.5 0.5,-0.5 0.5,-0.5 -0.5))'::geometry AS sq;

---------------------------------------------------------------- buildings
DROP SCHEMA IF EXISTS region CASCADE;
CREATE SCHEMA region;
CREATE TABLE region.buildings (
  id      integer PRIMARY KEY,
  street  text    NOT NULL,
  housenumber text NOT NULL,
  address text    NOT NULL,
  flats   integer NOT NULL,
  floors  integer NOT NULL,
  kind    text    NOT NULL,
  geom    geometry(Polygon, 4326) NOT NULL
);

INSERT INTO region.buildings (id, street, housenumber, address, flats, floors, kind, geom)
WITH cand AS (
  SELECT i, p.*,
         pg_temp.r(i, 21) AS ut, pg_temp.r(i, 22) AS ul, pg_temp.r(i, 23) AS uw, pg_temp.r(i, 24) AS uf
  FROM generate_series(1, 1010000) AS i, LATERAL pg_temp.place(i, 1) AS p
), inside AS (
  SELECT cand.* FROM cand, k WHERE abs(x) < k.half AND abs(y) < k.half ORDER BY i LIMIT 1000000
), typed AS (
  SELECT *, CASE
      WHEN dkind = 'core'      THEN CASE WHEN ut < 0.55 THEN 'apartments' WHEN ut < 0.80 THEN 'house' ELSE 'other' END
      WHEN dkind = 'apartment' THEN CASE WHEN ut < 0.45 THEN 'apartments' WHEN ut < 0.80 THEN 'house' ELSE 'other' END
      ELSE                          CASE WHEN ut < 0.05 THEN 'apartments' WHEN ut < 0.90 THEN 'house' ELSE 'other' END
    END AS kind
  FROM inside
), sized AS (
  SELECT *,
    CASE kind WHEN 'apartments' THEN 40 + 80 * ul WHEN 'house' THEN 8 + 8 * ul ELSE 15 + 45 * ul END AS len,
    CASE kind WHEN 'apartments' THEN 12 + 4 * uw  WHEN 'house' THEN 7 + 5 * uw ELSE 12 + 28 * uw END AS wid,
    CASE kind WHEN 'apartments' THEN (ARRAY[5,5,5,9,9,12,16])[1 + floor(uf * 7)::int]
              WHEN 'house' THEN CASE WHEN uf < 0.3 THEN 2 ELSE 1 END
              ELSE 1 + floor(uf * 4)::int END AS floors,
    theta + CASE WHEN pg_temp.r(i, 25) < 0.8 THEN 0 ELSE pi() / 2 END + radians(3) * pg_temp.n(i, 26) AS rot,
    (1 + floor(pg_temp.r(i, 27) * 180)::int)::text
      || CASE WHEN pg_temp.r(i, 28) < 0.08 THEN ' корп. ' || (1 + floor(pg_temp.r(i, 29) * 4)::int) ELSE '' END AS housenumber
  FROM typed
)
SELECT row_number() OVER (ORDER BY i)::int AS id, s.street, housenumber, s.street || ', ' || housenumber,
       CASE kind WHEN 'apartments' THEN floors * greatest(1, round(len / 20))::int * 4 WHEN 'house' THEN 1 ELSE 0 END AS flats,
       floors, kind,
       ST_SetSRID(ST_Affine(u.sq,
           len * cos(rot) / k.mx, -wid * sin(rot) / k.mx,
           len * sin(rot) / k.my,  wid * cos(rot) / k.my,
           k.lon0 + x / k.mx, k.lat0 + y / k.my), 4326) AS geom
FROM sized
CROSS JOIN k CROSS JOIN unit u
JOIN streets s ON s.sidx = ((d * 7 + floor((x * cos(theta) + y * sin(theta)) / 350)::int) % 80 + 80) % 80;
CREATE INDEX buildings_geom_id ON region.buildings USING gist (geom);

TRUNCATE layers_building CASCADE;
INSERT INTO layers_building (id, source, source_id, created_at, updated_at, name, kind, street,
    housenumber, city, postcode, search_key, street_key, house_key, name_key, flats, floors,
    height_m, year_built, geom)
SELECT id, 'region', id::text, now(), now(), '', '', street, housenumber, '', '', '', '', '', '',
       flats, NULL, NULL, NULL, ST_Multi(geom)
FROM region.buildings ORDER BY 1;
SELECT setval(pg_get_serial_sequence('layers_building', 'id'), 1000000);

---------------------------------------------------------------- yards
TRUNCATE layers_yard CASCADE;
INSERT INTO layers_yard (id, source, source_id, created_at, updated_at, name, address, search_key,
    street_key, house_key, name_key, surface, condition, last_repaired_on, geom)
WITH c AS (
  SELECT i, p.*, pg_temp.r(i, 31) AS ut FROM generate_series(1, 300000) AS i, LATERAL pg_temp.place(i, 100) AS p
), inside AS (
  SELECT c.* FROM c, k WHERE abs(x) < k.half AND abs(y) < k.half AND (dkind <> 'suburb' OR ut < 0.15)
  ORDER BY i LIMIT 100000
), rows AS (
  SELECT row_number() OVER (ORDER BY i)::int AS id,
         s.street || ', ' || (1 + floor(pg_temp.r(i, 32) * 180)::int) AS address,
         ST_SetSRID(ST_Affine(u.sq,
             (20 + 60 * pg_temp.r(i, 33)) * cos(theta) / k.mx, -(15 + 45 * pg_temp.r(i, 34)) * sin(theta) / k.mx,
             (20 + 60 * pg_temp.r(i, 33)) * sin(theta) / k.my,  (15 + 45 * pg_temp.r(i, 34)) * cos(theta) / k.my,
             k.lon0 + x / k.mx, k.lat0 + y / k.my), 4326) AS geom
  FROM inside CROSS JOIN k CROSS JOIN unit u
  JOIN streets s ON s.sidx = ((d * 7 + floor((x * cos(theta) + y * sin(theta)) / 350)::int) % 80 + 80) % 80
)
SELECT id, 'region', id::text, now(), now(), '', address, '', '', '', '', 'unknown', 'unknown', NULL, geom
FROM rows ORDER BY 1;
SELECT setval(pg_get_serial_sequence('layers_yard', 'id'), 100000);

---------------------------------------------------------------- network lines
-- each: 3..10 legs along the district's street grid, 80..300 m each, alternating axes
TRUNCATE layers_networksegment CASCADE;
INSERT INTO layers_networksegment (id, source, source_id, created_at, updated_at, kind, name,
    location, owner_id, diameter_mm, voltage_v, laid_on, name_key, geom)
WITH starts AS (
  SELECT i, p.* FROM generate_series(1, 20000) AS i, LATERAL pg_temp.place(i, 200) AS p
), segs AS (
  SELECT st.i, g.kseg, st.x, st.y,
         CASE WHEN g.kseg = 0 THEN 0 ELSE
           (CASE WHEN pg_temp.r(st.i * 16 + g.kseg, 41) < 0.5 THEN -1 ELSE 1 END) * (80 + 220 * pg_temp.r(st.i * 16 + g.kseg, 42))
         END AS len,
         st.theta + (g.kseg % 2) * pi() / 2 AS dir
  FROM starts st, LATERAL generate_series(0, 3 + floor(pg_temp.r(st.i, 43) * 8)::int) AS g(kseg)
), verts AS (
  SELECT i, kseg, x + sum(len * cos(dir)) OVER w AS vx, y + sum(len * sin(dir)) OVER w AS vy
  FROM segs WINDOW w AS (PARTITION BY i ORDER BY kseg)
)
SELECT v.i::int, 'region', v.i::text, now(), now(),
       (ARRAY['water','heat','sewer'])[1 + floor(pg_temp.r(v.i, 44) * 3)::int], '', 'underground', NULL,
       (ARRAY[100,150,200,300,400,600])[1 + floor(pg_temp.r(v.i, 45) * 6)::int], NULL, NULL, '',
       ST_SetSRID(ST_MakeLine(ARRAY_AGG(ST_MakePoint(k.lon0 + greatest(-k.half, least(k.half, vx)) / k.mx,
                                                     k.lat0 + greatest(-k.half, least(k.half, vy)) / k.my)
                                        ORDER BY kseg)), 4326)
FROM verts v CROSS JOIN k
GROUP BY v.i;
SELECT setval(pg_get_serial_sequence('layers_networksegment', 'id'), 20000);

---------------------------------------------------------------- districts: 5 × 5 squares of 40 km
DELETE FROM layers_district WHERE source = 'region';
INSERT INTO layers_district (source, source_id, name, admin_level, name_key, geom, created_at, updated_at)
SELECT 'region', gx || '-' || gy, 'Район ' || (gy * 5 + gx + 1), 6, '',
       ST_Multi(ST_Segmentize(ST_MakeEnvelope(
           k.lon0 + (-100000 + gx * 40000) / k.mx, k.lat0 + (-100000 + gy * 40000) / k.my,
           k.lon0 + (-60000 + gx * 40000) / k.mx, k.lat0 + (-60000 + gy * 40000) / k.my, 4326),
         40000 / k.my / 100)),
       now(), now()
FROM generate_series(0, 4) AS gx, generate_series(0, 4) AS gy, k
ORDER BY gy, gx;

---------------------------------------------------------------- appeals
-- Appeal i (i = 1 the newest) is received (i - 1) / 1818.18 days before 2026-12-07 00:00 UTC, in
-- category i's hash; it stands at the centroid of a yard when the category links to yards, else
-- of a building (linked when the category's layer is buildings). Older than ten days: 94 %
-- archived, 2 % rejected, 1 % duplicate, 1.5 % still in work, 1.5 % assigned (what a city
-- leaves open); the last ten days: new, assigned, in work, done, archived alike.
TRUNCATE appeals_appeal CASCADE;
CREATE TEMP TABLE cat AS
SELECT (row_number() OVER (ORDER BY code) - 1)::int AS n, id, organisation_id, sla_hours, priority, layer
FROM appeals_category;
ALTER TABLE cat ADD PRIMARY KEY (n);
CREATE TEMP TABLE dist AS
SELECT id, split_part(source_id, '-', 1)::int AS gx, split_part(source_id, '-', 2)::int AS gy
FROM layers_district WHERE source = 'region';
ALTER TABLE dist ADD PRIMARY KEY (gx, gy);
ANALYZE cat, dist;

-- Lookups by primary key (LATERAL, nested loops) keep the rows in i order without a sort.
INSERT INTO appeals_appeal (
    number, channel, category_id, organisation_id, text, address, geom, located_by, district_id,
    linked_layer, linked_id, link_distance_m, link_method, link_candidates, needs_attention,
    priority, status, sla_due, reopen_count, resident_name, resident_phone, resident_email,
    confirm_token_hash, received_at, done_at, closed_at, source, source_id, created_at, updated_at)
SELECT 'R-' || i, (ARRAY['phone', 'phone', 'phone', 'web', 'messenger', 'social'])[1 + floor(pg_temp.r(i, 76) * 6)::int],
       c.id, c.organisation_id, '', o.address, o.geom, 'point',
       (SELECT dist.id FROM dist WHERE dist.gx = floor((ST_X(o.geom) - k.lon0) * k.mx / 40000 + 2.5)::int
                                   AND dist.gy = floor((ST_Y(o.geom) - k.lat0) * k.my / 40000 + 2.5)::int),
       CASE WHEN c.layer IN ('buildings', 'yards') THEN c.layer ELSE '' END,
       CASE WHEN c.layer = 'buildings' THEN a.building WHEN c.layer = 'yards' THEN a.yard END,
       CASE WHEN c.layer IN ('buildings', 'yards') THEN 0 END,
       CASE WHEN c.layer IN ('buildings', 'yards') THEN 'auto' ELSE 'none' END, '[]'::jsonb, false,
       c.priority, st.status, a.received + make_interval(secs => c.sla_hours * 3600),
       CASE WHEN pg_temp.r(i, 77) < 0.02 AND st.status IN ('done', 'archived') THEN 1 ELSE 0 END,
       '', '', '', '', a.received,
       CASE WHEN st.status IN ('done', 'archived') THEN a.received + a.fix END,
       CASE WHEN st.status IN ('done', 'archived', 'rejected', 'duplicate') THEN a.received + a.fix END,
       'region', '', now(), now()
FROM generate_series(1, 2000000) AS i
CROSS JOIN k
CROSS JOIN LATERAL (
  SELECT '2026-12-07 00:00:00+00'::timestamptz - make_interval(secs => (i - 1)::float8 * 86400 / 1818.18) AS received,
         make_interval(secs => (1 + 99 * pg_temp.r(i, 71)) * 3600) AS fix,
         pg_temp.r(i, 72) AS roll,
         floor(pg_temp.r(i, 73) * (SELECT count(*) FROM cat))::int AS cn,
         1 + floor(pg_temp.r(i, 74) * 1000000)::int AS building,
         1 + floor(pg_temp.r(i, 75) * 100000)::int AS yard
) a
CROSS JOIN LATERAL (SELECT * FROM cat WHERE cat.n = a.cn) c
CROSS JOIN LATERAL (
  SELECT y.address, ST_Centroid(y.geom) AS geom FROM layers_yard y WHERE c.layer = 'yards' AND y.id = a.yard
  UNION ALL
  SELECT b.address, ST_Centroid(b.geom) FROM region.buildings b WHERE c.layer <> 'yards' AND b.id = a.building
) o
CROSS JOIN LATERAL (
  SELECT CASE WHEN a.received < '2026-11-27 00:00:00+00' THEN
             CASE WHEN a.roll < 0.94 THEN 'archived' WHEN a.roll < 0.96 THEN 'rejected'
                  WHEN a.roll < 0.97 THEN 'duplicate' WHEN a.roll < 0.985 THEN 'in_work' ELSE 'assigned' END
         ELSE (ARRAY['new', 'assigned', 'in_work', 'done', 'archived'])[1 + floor(a.roll * 5)::int]
         END AS status
) st;
SELECT setval('appeals_appeal_number_seq', 2000000);

INSERT INTO appeals_appealhistory (appeal_id, at, by_label, action, from_status, to_status, comment, data)
SELECT id, done_at - interval '1 hour', 'region', 'status', 'done', 'reopened', '', '{}'::jsonb
FROM appeals_appeal WHERE source = 'region' AND reopen_count > 0;

-- the counts this file promises, or stop
DO $$ BEGIN
  IF (SELECT count(*) FROM layers_building) <> 1000000 OR (SELECT count(*) FROM layers_yard) <> 100000
     OR (SELECT count(*) FROM layers_networksegment) <> 20000 OR (SELECT count(*) FROM appeals_appeal) <> 2000000
  THEN RAISE EXCEPTION 'make-region.sql: the region is short of rows';
  END IF;
END $$;
