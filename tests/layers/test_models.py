"""The database guards the layers: valid geometries, building types, area, natural keys."""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from layers.models import Building, Playground, Yard
from tests.factories import bow_tie, building, line, point, rectangle

pytestmark = pytest.mark.django_db


def test_full_clean_rejects_bow_tie_polygon_with_clear_message() -> None:
    playground = Playground(geom=bow_tie())
    with pytest.raises(ValidationError) as raised:
        playground.full_clean()
    [message] = raised.value.message_dict["geom"]
    assert message.startswith("invalid geometry: Self-intersection")


def test_full_clean_rejects_projected_coordinates() -> None:
    playground = Playground(geom=point(-8_523_000, 4_760_000))
    with pytest.raises(ValidationError, match="not lon/lat"):
        playground.full_clean()


def test_database_rejects_bow_tie_set_by_queryset_update() -> None:
    playground = Playground.objects.create(geom=rectangle())
    with pytest.raises(IntegrityError, match="geom_valid"), transaction.atomic():
        Playground.objects.filter(pk=playground.pk).update(geom=bow_tie())
    playground.refresh_from_db()
    assert playground.geom.valid


def test_database_rejects_bow_tie_inserted_by_plain_sql() -> None:
    table = Playground._meta.db_table
    sql = (
        f"INSERT INTO {connection.ops.quote_name(table)} "
        "(source, source_id, name, surface, created_at, updated_at, geom) "
        "VALUES ('manual', 'bow-tie', '', '', now(), now(), ST_GeomFromText(%s, 4326))"
    )
    with pytest.raises(IntegrityError, match="geom_valid"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, [bow_tie().wkt])
    assert not Playground.objects.exists()


@pytest.mark.parametrize(
    "geom", [point(), MultiPolygon(rectangle(10, 10), srid=4326)], ids=["point", "multipolygon"]
)
def test_building_may_be_point_or_multipolygon(geom: GEOSGeometry) -> None:
    saved = building(geom=geom)
    saved.refresh_from_db()
    assert saved.geom.geom_type == geom.geom_type


def test_database_rejects_linestring_building() -> None:
    with pytest.raises(IntegrityError, match="building_geom_type"), transaction.atomic():
        Building.objects.create(geom=line())
    assert not Building.objects.exists()


def test_yard_area_is_geodesic_square_metres() -> None:
    yard = Yard.objects.create(geom=rectangle(100, 100))
    yard.refresh_from_db()
    assert yard.area_m2 == pytest.approx(10_000, rel=0.01)


def test_yard_area_follows_geometry_changed_by_queryset_update() -> None:
    yard = Yard.objects.create(geom=rectangle(100, 100))
    Yard.objects.filter(pk=yard.pk).update(geom=rectangle(200, 100))
    yard.refresh_from_db()
    assert yard.area_m2 == pytest.approx(20_000, rel=0.01)


def test_source_and_source_id_are_unique() -> None:
    building(source="osm", source_id="w1")
    with pytest.raises(IntegrityError, match="source_key"), transaction.atomic():
        building(source="osm", source_id="w1")
    building(source="manual", source_id="w1")
    assert Building.objects.filter(source_id="w1").count() == 2


def test_new_objects_get_distinct_source_ids() -> None:
    assert building().source_id != building().source_id
