"""Tables in spatial order: manage.py cluster_layers, and the importers after a bulk load."""

from __future__ import annotations

import json
import math
import random

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.core.management import CommandError
from django.db import connection

from importers.services import layer_import
from layers.models import Building
from tests.factories import at, rectangle

# A 30 × 30 grid of houses 40 m apart, written in a shuffled order: the heap order says nothing
# about where a house is, as after an import of a file in id order.
GRID = 30
SPACING_M = 40.0


def shuffled_grid() -> list[tuple[int, int]]:
    cells = [(i, j) for i in range(GRID) for j in range(GRID)]
    random.Random(7).shuffle(cells)
    return cells


def house(i: int, j: int) -> MultiPolygon:
    corner = at(i * SPACING_M, j * SPACING_M)
    return MultiPolygon(rectangle(10, 10, corner.x, corner.y), srid=4326)


def heap_walk_m() -> float:
    """Metres walked visiting the buildings in the order their rows lie on disk."""
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH b AS (SELECT ctid, ST_Centroid(geom) AS g FROM layers_building), "
            "w AS (SELECT g, lag(g) OVER (ORDER BY ctid) AS prev FROM b) "
            "SELECT sum(ST_Distance(g::geography, prev::geography)) FROM w"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_cluster_layers_puts_a_shuffled_table_in_spatial_order(run_command):
    Building.objects.bulk_create(
        Building(source="test", source_id=f"{i}-{j}", geom=house(i, j)) for i, j in shuffled_grid()
    )
    before = heap_walk_m()
    out = run_command("cluster_layers", "--layer", "buildings").stdout
    after = heap_walk_m()

    # Shuffled, each step crosses about half the 1.2 km grid; along the curve almost every step
    # goes to a neighbour 40 m away.
    assert before > 300 * GRID * GRID
    assert after < 2 * SPACING_M * GRID * GRID
    assert "cluster_layers: 1 layers, 900 rows in spatial order" in out
    assert Building.objects.count() == GRID * GRID


@pytest.mark.django_db(transaction=True)
def test_cluster_layers_orders_a_table_of_large_polygons(run_command):
    # A 400-vertex outline is about 6.5 KB: more than a B-tree entry can hold.
    ring = [
        (at(200 * math.cos(a), 200 * math.sin(a)).x, at(200 * math.cos(a), 200 * math.sin(a)).y)
        for a in (2 * math.pi * k / 400 for k in range(400))
    ]
    big = MultiPolygon(Polygon([*ring, ring[0]], srid=4326), srid=4326)
    Building.objects.create(source="test", source_id="big", geom=big)
    Building.objects.create(source="test", source_id="small", geom=house(1, 1))

    out = run_command("cluster_layers", "--layer", "buildings").stdout

    assert "2 rows in spatial order" in out
    assert Building.objects.get(source_id="big").geom.num_coords == 401


@pytest.mark.django_db(transaction=True)
def test_a_bulk_file_import_leaves_its_layer_in_spatial_order(tmp_path):
    features = [
        {
            "type": "Feature",
            "properties": {"id": f"{i}-{j}", "street": "Main St", "housenumber": str(n)},
            "geometry": json.loads(house(i, j).geojson),
        }
        for n, (i, j) in enumerate(shuffled_grid(), 1)
    ]
    path = tmp_path / "houses.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))

    report = layer_import(layer="buildings", path=path)

    assert report.created == GRID * GRID
    assert any("900 rows put in spatial order" in note for note in report.notes)
    assert heap_walk_m() < 2 * SPACING_M * GRID * GRID


@pytest.mark.django_db
def test_an_import_inside_a_larger_transaction_keeps_its_load_order(tmp_path):
    # pytest-django wraps this test in a transaction: CLUSTER would hold its lock until the end.
    path = tmp_path / "one.geojson"
    shape = json.loads(house(0, 0).geojson)
    path.write_text(json.dumps({"type": "Feature", "properties": {"id": "a"}, "geometry": shape}))

    report = layer_import(layer="buildings", path=path)

    assert report.created == 1
    assert not any("spatial order" in note for note in report.notes)


@pytest.mark.django_db
@pytest.mark.parametrize("layer", ["no_such_layer", "works"])
def test_cluster_layers_names_the_stored_layers_when_given_another(run_command, layer):
    with pytest.raises(CommandError, match="not a stored layer.*buildings"):
        run_command("cluster_layers", "--layer", layer)
