"""The database keeps ``appeals_appeal.district_id`` right: the triggers, in one place.

An appeal's district is the district whose polygon covers its point (boundary included). Where
districts overlap, the one that counts is the same as ``layers.selectors.DISTRICT_ORDER``:
surveyed before derived, then the coarsest ``admin_level`` (a district before its sub-districts;
none last), then the lowest id. No point, or outside every district: NULL.

- ``appeals_district_rank(source, admin_level, id)``: that rule, the only copy of it in SQL;
  ``appeals_district_for(geom)`` (one point) and ``appeals_district_recompute`` (many) use it.
- ``appeals_appeal_district`` (BEFORE INSERT OR UPDATE OF geom, district_id, per row): sets
  ``NEW.district_id``. Listing ``district_id`` too means a stale value written back by a full
  ``save()`` of an object loaded before a district changed is put right, not kept.
- ``layers_district_appeals_*`` (AFTER INSERT / UPDATE / DELETE on the districts, per statement,
  with transition tables): recompute the appeals whose point lies in an old or new geometry of
  the changed districts, and those still pointing at a deleted one (Django's SET_NULL has
  usually cleared them already; a raw DELETE has not, and the FK is checked at commit). One
  statement per bulk change, so a derive_layers rebuild or an import of thousands of districts
  costs one pass over the appeals it touches, not one per district.

Used by migration 0004; a later change of the rule is a new migration running these again.
"""

from __future__ import annotations

FUNCTIONS = """
-- The one rule (layers.selectors.DISTRICT_ORDER): the lowest rank wins. Surveyed before derived,
-- then the coarsest level (none last), then the lowest id.
CREATE OR REPLACE FUNCTION appeals_district_rank(source text, admin_level integer, id bigint)
RETURNS bigint[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY[(source = 'derived')::int, coalesce(admin_level, 32767), id]::bigint[]
$$;

-- The district covering one point: a GiST probe of the districts (ST_Covers is index-aware).
CREATE OR REPLACE FUNCTION appeals_district_for(point geometry) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT d.id FROM layers_district d
    WHERE point IS NOT NULL AND ST_Covers(d.geom, point)
    ORDER BY appeals_district_rank(d.source, d.admin_level, d.id)
    LIMIT 1
$$;

-- Rows written by appeals_district_recompute (a trigger below this one, hence the depth) keep
-- the value it computed; every other write of the point or the district is recomputed.
CREATE OR REPLACE FUNCTION appeals_appeal_district() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND pg_trigger_depth() > 1 AND NEW.geom IS NOT DISTINCT FROM OLD.geom THEN
        RETURN NEW;
    END IF;
    NEW.district_id := appeals_district_for(NEW.geom);
    RETURN NEW;
END
$$;

-- The appeals a statement on the districts may have moved, placed again in one pass: those in
-- any old or new geometry of the changed rows, and those pointing at a changed (deleted) row.
-- Set-based like the old dashboard join: each district (outer; OFFSET 0 keeps the planner from
-- turning the join round) tests the appeals in a row, so PostGIS prepares its polygon once, and
-- ST_Force2D copies it out of TOAST once. Placing 200,000 appeals in 12 new districts of 400
-- vertices took 27 s with a probe per point (each decompressing its polygon), 11 s so, most of it
-- writing the rows. Only changed rows are written.
CREATE OR REPLACE FUNCTION appeals_district_recompute(ids bigint[], areas geometry[])
RETURNS void LANGUAGE sql AS $$
    WITH affected_ids AS (
        SELECT s.id FROM unnest(areas) AS c(geom)
        JOIN appeals_appeal s ON s.geom && c.geom AND ST_Covers(c.geom, s.geom)
        UNION
        SELECT s.id FROM appeals_appeal s WHERE s.district_id = ANY(ids)
    ),
    affected AS MATERIALIZED (
        SELECT s.id, s.geom, s.district_id FROM appeals_appeal s JOIN affected_ids USING (id)
    ),
    districts AS MATERIALIZED (
        SELECT d.id, appeals_district_rank(d.source, d.admin_level, d.id) AS rank,
               ST_Force2D(d.geom) AS geom
        FROM layers_district d
        WHERE d.geom && (SELECT ST_Extent(geom) FROM affected)::geometry
    ),
    placed AS (
        SELECT DISTINCT ON (p.id) p.id, d.id AS district_id
        FROM districts d
        CROSS JOIN LATERAL (
            SELECT a.id FROM affected a
            WHERE a.geom && d.geom AND ST_Covers(d.geom, a.geom)
            OFFSET 0
        ) p
        ORDER BY p.id, d.rank
    )
    UPDATE appeals_appeal t SET district_id = p.district_id
    FROM affected a LEFT JOIN placed p ON p.id = a.id
    WHERE t.id = a.id AND t.district_id IS DISTINCT FROM p.district_id
$$;

-- Transition tables exist only for their own event, hence a branch each.
CREATE OR REPLACE FUNCTION layers_district_appeals() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
    areas geometry[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(id), array_agg(geom) INTO ids, areas FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(id), array_agg(geom) INTO ids, areas FROM old_rows;
    ELSE
        -- Only a new geometry, source or level can move an appeal (a rename cannot).
        SELECT array_agg(o.id), array_agg(o.geom) || array_agg(n.geom) INTO ids, areas
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE n.geom IS DISTINCT FROM o.geom OR n.source IS DISTINCT FROM o.source
           OR n.admin_level IS DISTINCT FROM o.admin_level;
    END IF;
    IF ids IS NOT NULL THEN
        PERFORM appeals_district_recompute(ids, areas);
    END IF;
    RETURN NULL;
END
$$;
"""

# The existing rows: every appeal in some district, placed as if all districts were just made.
BACKFILL = """
SELECT appeals_district_recompute(array_agg(id), array_agg(geom)) FROM layers_district
HAVING count(*) > 0;
"""

TRIGGERS = """
CREATE TRIGGER appeals_appeal_district
    BEFORE INSERT OR UPDATE OF geom, district_id ON appeals_appeal
    FOR EACH ROW EXECUTE FUNCTION appeals_appeal_district();

-- Transition tables allow neither several events nor a column list: one trigger per event.
CREATE TRIGGER layers_district_appeals_insert
    AFTER INSERT ON layers_district REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION layers_district_appeals();
CREATE TRIGGER layers_district_appeals_update
    AFTER UPDATE ON layers_district REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION layers_district_appeals();
CREATE TRIGGER layers_district_appeals_delete
    AFTER DELETE ON layers_district REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION layers_district_appeals();
"""

DROP = """
DROP TRIGGER IF EXISTS layers_district_appeals_delete ON layers_district;
DROP TRIGGER IF EXISTS layers_district_appeals_update ON layers_district;
DROP TRIGGER IF EXISTS layers_district_appeals_insert ON layers_district;
DROP TRIGGER IF EXISTS appeals_appeal_district ON appeals_appeal;
DROP FUNCTION IF EXISTS layers_district_appeals();
DROP FUNCTION IF EXISTS appeals_district_recompute(bigint[], geometry[]);
DROP FUNCTION IF EXISTS appeals_appeal_district();
DROP FUNCTION IF EXISTS appeals_district_for(geometry);
DROP FUNCTION IF EXISTS appeals_district_rank(text, integer, bigint);
"""
