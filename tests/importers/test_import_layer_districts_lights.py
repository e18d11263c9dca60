"""import_layer into the districts and street lights layers: GeoJSON files, Cyrillic names."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.gis.geos import GEOSGeometry, Point

from gis.roles import Role
from layers.models import District, Organisation, StreetLight
from layers.search import addresses_search
from tests.factories import CITY_LAT, CITY_LON, CommandRun, rectangle, viewer

pytestmark = pytest.mark.django_db

RunCommand = Callable[..., CommandRun]
ALMALY = "Алмалинский район"


def write_geojson(path: Path, *features: dict[str, Any]) -> Path:
    # UTF-8 as it is, not \u escapes: what a GIS exports.
    collection = {"type": "FeatureCollection", "features": list(features)}
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    return path


def feature(geom: GEOSGeometry, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": json.loads(geom.geojson)}


def districts_file(tmp_path: Path, **extra: Any) -> Path:
    return write_geojson(
        tmp_path / "districts.geojson",
        feature(rectangle(2000, 2000), id="almaly", name=ALMALY, admin_level=9, **extra),
        feature(
            rectangle(2000, 2000, lon=CITY_LON + 0.03), id="bostandyk", name="Бостандыкский район"
        ),
    )


def test_districts_load_from_geojson_with_cyrillic_names(
    run_command: RunCommand, tmp_path: Path
) -> None:
    run = run_command("import_layer", "districts", str(districts_file(tmp_path)))

    assert "created 2" in run.stdout and "rejected 0" in run.stdout
    almaly = District.objects.get(source="file:districts", source_id="almaly")
    assert (almaly.name, almaly.admin_level) == (ALMALY, 9)
    # A Polygon in the file is stored as the layer's MultiPolygon.
    assert almaly.geom.geom_type == "MultiPolygon"
    assert almaly.geom.contains(Point(CITY_LON + 0.001, CITY_LAT + 0.001, srid=4326))
    assert District.objects.get(source_id="bostandyk").admin_level is None


def test_same_districts_file_twice_changes_nothing(run_command: RunCommand, tmp_path: Path) -> None:
    path = districts_file(tmp_path)
    run_command("import_layer", "districts", str(path))
    second = run_command("import_layer", "districts", str(path))
    assert "created 0, updated 0, unchanged 2" in second.stdout


def test_imported_district_is_found_by_its_name(run_command: RunCommand, tmp_path: Path) -> None:
    run_command("import_layer", "districts", str(districts_file(tmp_path)))
    result = addresses_search(q="алмалинский", viewer=viewer(Role.PUBLIC), layers=["districts"])
    assert [(h.layer, h.address) for h in result.hits][:1] == [("districts", ALMALY)]


def test_district_without_a_name_is_rejected_naming_the_field(
    run_command: RunCommand, tmp_path: Path
) -> None:
    path = write_geojson(tmp_path / "d.geojson", feature(rectangle(), id="x", name=""))
    run = run_command("import_layer", "districts", str(path), "--skip-invalid")
    assert "name" in run.stderr
    assert not District.objects.exists()


def test_street_lights_load_with_their_owner(run_command: RunCommand, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "lights.geojson",
        feature(Point(CITY_LON, CITY_LAT), id="L1", ref="Опора 17", kind="LED", owner="Горсвет"),
        feature(Point(CITY_LON + 0.0005, CITY_LAT), id="L2", ref="18"),
    )

    run = run_command("import_layer", "street_lights", str(path))

    assert "created 2" in run.stdout
    lights = {light.source_id: light for light in StreetLight.objects.select_related("owner")}
    assert (lights["L1"].ref, lights["L1"].kind, lights["L1"].owner.name) == (
        "Опора 17",
        "LED",
        "Горсвет",
    )
    assert lights["L2"].owner is None
    assert Organisation.objects.filter(name="Горсвет").count() == 1


def test_a_line_into_street_lights_is_rejected_as_the_wrong_type(
    run_command: RunCommand, tmp_path: Path
) -> None:
    path = write_geojson(tmp_path / "l.geojson", feature(rectangle().boundary, id="bad"))
    run = run_command("import_layer", "street_lights", str(path), "--skip-invalid")
    assert "wrong geometry type" in run.stderr
    assert not StreetLight.objects.exists()
