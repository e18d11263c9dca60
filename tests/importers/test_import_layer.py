"""import_layer: GeoJSON, GeoPackage, Shapefile and CSV files into one layer, all or nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from io import StringIO
from pathlib import Path
from typing import Any

import geopandas
import pytest
import shapely
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Model
from pyproj import Transformer

from layers.models import (
    Building,
    Camera,
    Manhole,
    NetworkSegment,
    Organisation,
    Playground,
    Yard,
)
from layers.registry import LAYERS, importable_layers
from tests.factories import CITY_LAT, CITY_LON, CommandRun, bow_tie, line, point, rectangle
from tests.importers.layer_rows import one_row

pytestmark = pytest.mark.django_db

RunCommand = Callable[..., CommandRun]

# A point of the demo city in Web Mercator, and where it lies in lon/lat.
MERCATOR_XY = (-8_523_850.0, 4_761_750.0)
TO_LONLAT = Transformer.from_crs(3857, 4326, always_xy=True)
MERCATOR_LONLAT = TO_LONLAT.transform(*MERCATOR_XY)
# Stored points must land this close (in degrees) to where pyproj puts them.
DEGREES = 1e-6


# --- files -----------------------------------------------------------------------------------


def feature(geom: GEOSGeometry | dict[str, Any], **properties: Any) -> dict[str, Any]:
    geometry = geom if isinstance(geom, dict) else json.loads(geom.geojson)
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def write_geojson(path: Path, *features: dict[str, Any], crs: int | None = None) -> Path:
    """Write a FeatureCollection; ``crs`` adds the (pre-RFC 7946) crs member naming an EPSG code."""
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": list(features)}
    if crs is not None:
        collection["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{crs}"}}
    path.write_text(json.dumps(collection))
    return path


def write_csv(path: Path, *rows: str) -> Path:
    path.write_text("\n".join(rows) + "\n")
    return path


def cameras_file(path: Path, *, second_name: str = "Harbor gate") -> Path:
    return write_geojson(
        path,
        feature(point(), id="c1", name="Linwood corner", kind="dome", owner="Harbor Police"),
        feature(
            point(CITY_LON + 0.001), id="c2", name=second_name, kind="fixed", owner="Harbor Police"
        ),
    )


def yards_file(path: Path, *, with_bow_tie: bool = True) -> Path:
    shapes = [
        rectangle(40, 30),
        bow_tie(CITY_LON + 0.002) if with_bow_tie else rectangle(20, 20, lon=CITY_LON + 0.002),
        rectangle(50, 20, lat=CITY_LAT + 0.002),
    ]
    return write_geojson(
        path, *(feature(shape, id=f"y{i}", name=f"Yard {i}") for i, shape in enumerate(shapes, 1))
    )


# --- running ---------------------------------------------------------------------------------


def run_failing(name: str, *args: str) -> tuple[CommandError, CommandRun]:
    """Run a command that must fail; the error and what it wrote before failing."""
    stdout, stderr = StringIO(), StringIO()
    with pytest.raises(CommandError) as raised:
        call_command(name, *args, stdout=stdout, stderr=stderr)
    return raised.value, CommandRun(stdout=stdout.getvalue(), stderr=stderr.getvalue())


def summary_counts(stdout: str) -> dict[str, int]:
    """Read the numbers of the summary line: read, created, updated, unchanged, rejected."""
    line = next(line for line in stdout.splitlines() if line.startswith("import_layer:"))
    return {
        key: int(value.replace(",", ""))
        for key, value in re.findall(r"(read|created|updated|unchanged|rejected) ([\d,]+)", line)
    }


def rejections(run: CommandRun) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith("rejected ")]


def ids_by_source_id(model: type[Model]) -> dict[str, int]:
    return dict(model.objects.values_list("source_id", "pk"))


def assert_at(geom: GEOSGeometry, lon: float, lat: float) -> None:
    assert geom.srid == 4326
    assert geom.x == pytest.approx(lon, abs=DEGREES)
    assert geom.y == pytest.approx(lat, abs=DEGREES)


# --- GeoJSON: rows, owners, idempotence ------------------------------------------------------


def test_geojson_cameras_are_created_with_their_owner_organisation(
    run_command: RunCommand, tmp_path: Path
) -> None:
    run = run_command("import_layer", "cameras", str(cameras_file(tmp_path / "cameras.geojson")))

    assert summary_counts(run.stdout) == {
        "read": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
    }
    owner = Organisation.objects.get(name="Harbor Police")
    assert owner.kind == Organisation.Kind.SERVICE
    assert "cameras.geojson" in owner.note
    cameras = {c.source_id: c for c in Camera.objects.all()}
    assert set(cameras) == {"c1", "c2"}
    assert {c.source for c in cameras.values()} == {"file:cameras"}
    assert (cameras["c1"].name, cameras["c1"].kind, cameras["c1"].owner) == (
        "Linwood corner",
        "dome",
        owner,
    )
    assert_at(cameras["c2"].geom, CITY_LON + 0.001, CITY_LAT)


def test_existing_organisation_is_reused_as_owner(run_command: RunCommand, tmp_path: Path) -> None:
    police = Organisation.objects.create(name="Harbor Police", kind=Organisation.Kind.POLICE)

    run_command("import_layer", "cameras", str(cameras_file(tmp_path / "cameras.geojson")))

    assert Organisation.objects.count() == 1
    assert set(Camera.objects.values_list("owner", flat=True)) == {police.pk}


def test_same_file_twice_changes_nothing(run_command: RunCommand, tmp_path: Path) -> None:
    path = cameras_file(tmp_path / "cameras.geojson")
    run_command("import_layer", "cameras", str(path))
    ids = ids_by_source_id(Camera)
    last_update = Camera.objects.latest("updated_at").updated_at

    second = run_command("import_layer", "cameras", str(path))

    assert "created 0, updated 0, unchanged 2, rejected 0" in second.stdout
    assert ids_by_source_id(Camera) == ids
    assert not Camera.objects.filter(updated_at__gt=last_update).exists()
    assert Organisation.objects.count() == 1


def test_changed_property_updates_that_row_in_place(
    run_command: RunCommand, tmp_path: Path
) -> None:
    path = tmp_path / "cameras.geojson"
    run_command("import_layer", "cameras", str(cameras_file(path)))
    ids = ids_by_source_id(Camera)

    second = run_command("import_layer", "cameras", str(cameras_file(path, second_name="Pier 5")))

    assert "created 0, updated 1, unchanged 1, rejected 0" in second.stdout
    assert ids_by_source_id(Camera) == ids
    assert Camera.objects.get(source_id="c2").name == "Pier 5"
    assert Camera.objects.get(source_id="c1").name == "Linwood corner"


def test_id_column_option_keys_rows(run_command: RunCommand, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "cameras.geojson",
        feature(point(), camera_no="CAM-7", name="a"),
        feature(point(CITY_LON + 0.001), camera_no="CAM-9", name="b"),
    )

    run = run_command("import_layer", "cameras", str(path), "--id-column", "camera_no")

    assert sorted(Camera.objects.values_list("source_id", flat=True)) == ["CAM-7", "CAM-9"]
    assert "rejected 0" in run.stdout
    again = run_command("import_layer", "cameras", str(path), "--id-column", "camera_no")
    assert "created 0, updated 0, unchanged 2" in again.stdout


def test_id_column_missing_from_the_file_is_a_command_error(
    run_command: RunCommand, tmp_path: Path
) -> None:
    path = cameras_file(tmp_path / "cameras.geojson")
    with pytest.raises(CommandError, match="cameras.geojson has no id column 'serial'"):
        run_command("import_layer", "cameras", str(path), "--id-column", "serial")
    assert not Camera.objects.exists()


def test_rows_without_id_column_are_keyed_by_row_number(
    run_command: RunCommand, tmp_path: Path
) -> None:
    path = write_geojson(
        tmp_path / "cameras.geojson",
        feature(point(), name="a"),
        feature(point(CITY_LON + 0.001), name="b"),
    )

    run = run_command("import_layer", "cameras", str(path))

    assert "note: no id column: rows are keyed by their row number" in run.stdout
    assert dict(Camera.objects.values_list("source_id", "name")) == {"row-1": "a", "row-2": "b"}


# --- broken and invalid input: all or nothing ------------------------------------------------


def test_truncated_geojson_is_a_command_error_and_writes_nothing(tmp_path: Path) -> None:
    whole = cameras_file(tmp_path / "whole.geojson").read_text()
    broken = tmp_path / "bad.geojson"
    broken.write_text(whole[: len(whole) // 2])

    error, _ = run_failing("import_layer", "cameras", str(broken))

    assert str(error).startswith("cannot read bad.geojson: ")
    assert not Camera.objects.exists()
    assert not Organisation.objects.exists()


def test_missing_file_is_a_command_error(tmp_path: Path) -> None:
    error, _ = run_failing("import_layer", "cameras", str(tmp_path / "nowhere.geojson"))
    assert "no such file" in str(error)


def test_invalid_polygon_aborts_the_whole_import(tmp_path: Path) -> None:
    report = tmp_path / "report.json"

    error, run = run_failing(
        "import_layer",
        "yards",
        str(yards_file(tmp_path / "yards.geojson")),
        "--report",
        str(report),
    )

    assert "1 rows rejected, nothing was written" in str(error)
    [rejected] = rejections(run)
    assert rejected.startswith("rejected yards row 2 (id y2): invalid geometry: Self-intersection")
    assert Yard.objects.count() == 0
    assert [r["row"] for r in json.loads(report.read_text())["rejected"]] == ["row 2 (id y2)"]


def test_skip_invalid_loads_the_valid_rows_and_names_the_rejected_one(
    run_command: RunCommand, tmp_path: Path
) -> None:
    path = yards_file(tmp_path / "yards.geojson")

    run = run_command("import_layer", "yards", str(path), "--skip-invalid")

    assert sorted(Yard.objects.values_list("source_id", flat=True)) == ["y1", "y3"]
    [rejected] = rejections(run)
    assert rejected.startswith("rejected yards row 2 (id y2): invalid geometry: Self-intersection")
    assert summary_counts(run.stdout) == {
        "read": 3,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
    }


def test_report_file_lists_the_rejected_row(run_command: RunCommand, tmp_path: Path) -> None:
    report = tmp_path / "report.json"

    run_command(
        "import_layer",
        "yards",
        str(yards_file(tmp_path / "yards.geojson")),
        "--skip-invalid",
        "--report",
        str(report),
    )

    written = json.loads(report.read_text())
    assert (written["read"], written["created"]) == (3, 2)
    [rejected] = written["rejected"]
    assert rejected["layer"] == "yards"
    assert rejected["row"] == "row 2 (id y2)"
    assert rejected["reason"].startswith("invalid geometry: Self-intersection")


# --- coordinate reference systems ------------------------------------------------------------


def test_geojson_naming_web_mercator_is_reprojected(
    run_command: RunCommand, tmp_path: Path
) -> None:
    mercator = {"type": "Point", "coordinates": list(MERCATOR_XY)}
    path = write_geojson(tmp_path / "cameras.geojson", feature(mercator, id="c1"), crs=3857)

    run_command("import_layer", "cameras", str(path))

    assert_at(Camera.objects.get().geom, *MERCATOR_LONLAT)


def test_geopackage_in_web_mercator_is_reprojected(run_command: RunCommand, tmp_path: Path) -> None:
    path = tmp_path / "cameras.gpkg"
    geopandas.GeoDataFrame(
        {"id": ["c1"], "name": ["Pier 5"]}, geometry=[shapely.Point(MERCATOR_XY)], crs=3857
    ).to_file(path, driver="GPKG", engine="pyogrio")

    run_command("import_layer", "cameras", str(path))

    camera = Camera.objects.get()
    assert (camera.source_id, camera.name) == ("c1", "Pier 5")
    assert_at(camera.geom, *MERCATOR_LONLAT)
    again = run_command("import_layer", "cameras", str(path))
    assert "created 0, updated 0, unchanged 1" in again.stdout


def test_layer_name_picks_a_layer_of_a_geopackage(run_command: RunCommand, tmp_path: Path) -> None:
    path = tmp_path / "city.gpkg"
    for layer, name in (("roads", "a road"), ("cameras", "Pier 5")):
        geopandas.GeoDataFrame(
            {"id": ["c1"], "name": [name]}, geometry=[shapely.Point(CITY_LON, CITY_LAT)], crs=4326
        ).to_file(path, layer=layer, driver="GPKG", engine="pyogrio")

    run_command("import_layer", "cameras", str(path), "--layer-name", "cameras")

    assert Camera.objects.get().name == "Pier 5"


def test_shapefile_with_prj_loads(run_command: RunCommand, tmp_path: Path) -> None:
    path = tmp_path / "yards.shp"
    outline = shapely.from_wkt(rectangle(40, 30).wkt)
    geopandas.GeoDataFrame(
        {"id": ["y1"], "surface": ["grass"]}, geometry=[outline], crs=4326
    ).to_crs(3857).to_file(path, engine="pyogrio")
    assert path.with_suffix(".prj").is_file()

    run_command("import_layer", "yards", str(path))

    yard = Yard.objects.get()
    assert (yard.source_id, yard.surface) == ("y1", "grass")
    # Shapefiles turn outer rings clockwise: compare the normalised outlines.
    expected = rectangle(40, 30).normalize(clone=True)
    assert yard.geom.normalize(clone=True).equals_exact(expected, DEGREES)


def no_crs_file(tmp_path: Path, fmt: str) -> Path:
    """A file naming no CRS (plain GeoJSON means lon/lat) holding Web Mercator coordinates."""
    x, y = MERCATOR_XY
    if fmt == "csv":
        return write_csv(tmp_path / "cameras.csv", "id,x,y", f"c1,{x},{y}")
    mercator = {"type": "Point", "coordinates": [x, y]}
    return write_geojson(tmp_path / "cameras.geojson", feature(mercator, id="c1"))


@pytest.mark.parametrize("fmt", ["csv", "geojson"])
def test_projected_coordinates_without_crs_are_rejected_as_wrong_srid(
    tmp_path: Path, fmt: str
) -> None:
    _, run = run_failing("import_layer", "cameras", str(no_crs_file(tmp_path, fmt)))

    [rejected] = rejections(run)
    assert rejected.startswith("rejected cameras row 1 (id c1): coordinates")
    assert "not lon/lat: wrong SRID? give the file's CRS with --srid" in rejected
    assert not Camera.objects.exists()


@pytest.mark.parametrize("fmt", ["csv", "geojson"])
def test_srid_option_gives_the_crs_of_a_file_without_one(
    run_command: RunCommand, tmp_path: Path, fmt: str
) -> None:
    run_command("import_layer", "cameras", str(no_crs_file(tmp_path, fmt)), "--srid", "3857")

    assert_at(Camera.objects.get().geom, *MERCATOR_LONLAT)


def test_heights_are_dropped(run_command: RunCommand, tmp_path: Path) -> None:
    with_height = {"type": "Point", "coordinates": [CITY_LON, CITY_LAT, 12.5]}
    path = write_geojson(tmp_path / "cameras.geojson", feature(with_height, id="c1"))

    run_command("import_layer", "cameras", str(path))
    again = run_command("import_layer", "cameras", str(path))

    geom = Camera.objects.get().geom
    assert not geom.hasz
    assert_at(geom, CITY_LON, CITY_LAT)
    assert "created 0, updated 0, unchanged 1" in again.stdout


# --- CSV -------------------------------------------------------------------------------------


def test_csv_with_lon_lat_columns(run_command: RunCommand, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "cameras.csv",
        "id,name,lon,lat",
        f"c1,Linwood corner,{CITY_LON},{CITY_LAT}",
        f"c2,Harbor gate,{CITY_LON + 0.001},{CITY_LAT + 0.002}",
    )

    run_command("import_layer", "cameras", str(path))

    cameras = {c.source_id: c for c in Camera.objects.all()}
    assert cameras["c1"].name == "Linwood corner"
    assert_at(cameras["c2"].geom, CITY_LON + 0.001, CITY_LAT + 0.002)


def test_csv_with_wkt_column(run_command: RunCommand, tmp_path: Path) -> None:
    pipe = line(size=0.002)
    path = write_csv(
        tmp_path / "networks.csv", "id,kind,diameter_mm,wkt", f'n1,water,300,"{pipe.wkt}"'
    )

    run_command("import_layer", "networks", str(path))

    segment = NetworkSegment.objects.get()
    assert (segment.source_id, segment.kind, segment.diameter_mm) == ("n1", "water", 300)
    assert segment.geom.equals_exact(pipe, DEGREES)


def test_csv_value_outside_the_choices_is_rejected_naming_the_field(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "manholes.csv",
        "id,kind,lon,lat",
        f"m1,sewer,{CITY_LON},{CITY_LAT}",
        f"m2,bogus,{CITY_LON + 0.001},{CITY_LAT}",
    )

    _, run = run_failing("import_layer", "manholes", str(path))

    [rejected] = rejections(run)
    assert rejected.startswith("rejected manholes row 2 (id m2): field 'kind': ")
    assert "'bogus' is not a valid choice" in rejected
    assert not Manhole.objects.exists()


@pytest.mark.parametrize(
    "rows",
    [
        ("id,name,wkt", 'n1,Main,"{wkt}"'),
        ("id,kind,name,wkt", 'n1,,Main,"{wkt}"'),
    ],
    ids=["no kind column", "empty kind"],
)
def test_missing_required_field_is_rejected(tmp_path: Path, rows: tuple[str, str]) -> None:
    path = write_csv(tmp_path / "networks.csv", *(r.format(wkt=line().wkt) for r in rows))

    _, run = run_failing("import_layer", "networks", str(path))

    [rejected] = rejections(run)
    assert rejected.startswith("rejected networks row 1 (id n1): missing required field")
    assert "kind" in rejected
    assert not NetworkSegment.objects.exists()


def test_csv_without_geometry_columns_is_a_command_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "cameras.csv", "id,name", "c1,Pier 5")

    error, _ = run_failing("import_layer", "cameras", str(path))

    assert str(error).startswith("cameras.csv has no geometry")


# --- empty cells -----------------------------------------------------------------------------


def test_empty_date_cell_loads_as_null(run_command: RunCommand, tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "yards.geojson",
        feature(rectangle(40, 30), id="y1", last_repaired_on="2021-05-14"),
        feature(rectangle(40, 30, lat=CITY_LAT + 0.002), id="y2", last_repaired_on=None),
    )

    run_command("import_layer", "yards", str(path))
    again = run_command("import_layer", "yards", str(path))

    assert dict(Yard.objects.values_list("source_id", "last_repaired_on")) == {
        "y1": date(2021, 5, 14),
        "y2": None,
    }
    assert "created 0, updated 0, unchanged 2" in again.stdout


def test_numeric_ids_with_a_gap_keep_their_integer_keys(
    run_command: RunCommand, tmp_path: Path
) -> None:
    path = write_geojson(
        tmp_path / "networks.geojson",
        feature(line(), id=7, kind="water", diameter_mm=300),
        feature(line(CITY_LON + 0.001), id=None, kind="gas", diameter_mm=None),
        feature(line(CITY_LON + 0.002), id=9, kind="sewer", diameter_mm=None),
    )

    run_command("import_layer", "networks", str(path))

    assert dict(NetworkSegment.objects.values_list("source_id", "diameter_mm")) == {
        "7": 300,
        "row-2": None,
        "9": None,
    }


# --- geometry types --------------------------------------------------------------------------


def test_point_into_a_line_layer_is_wrong_geometry_type(tmp_path: Path) -> None:
    path = write_geojson(tmp_path / "networks.geojson", feature(point(), id="n1", kind="water"))

    _, run = run_failing("import_layer", "networks", str(path))

    [rejected] = rejections(run)
    assert rejected.startswith("rejected networks row 1 (id n1): wrong geometry type: Point where")
    assert rejected.lower().endswith("linestring is expected")
    assert not NetworkSegment.objects.exists()


def test_line_into_playgrounds_loads(run_command: RunCommand, tmp_path: Path) -> None:
    path = write_geojson(tmp_path / "playgrounds.geojson", feature(line(), id="p1"))

    run_command("import_layer", "playgrounds", str(path))

    assert Playground.objects.get().geom.geom_type == "LineString"


def test_one_part_multipolygon_into_yards_is_unwrapped(
    run_command: RunCommand, tmp_path: Path
) -> None:
    outline = rectangle(40, 30)
    path = write_geojson(
        tmp_path / "yards.geojson", feature(MultiPolygon(outline, srid=4326), id="y1")
    )

    run_command("import_layer", "yards", str(path))

    geom = Yard.objects.get().geom
    assert geom.geom_type == "Polygon"
    assert geom.equals_exact(outline, DEGREES)


def test_multipolygon_of_two_parts_into_yards_is_rejected_saying_so(tmp_path: Path) -> None:
    parts = MultiPolygon(rectangle(40, 30), rectangle(20, 20, lon=CITY_LON + 0.01), srid=4326)
    path = write_geojson(tmp_path / "yards.geojson", feature(parts, id="y1"))

    _, run = run_failing("import_layer", "yards", str(path))

    assert (
        "rejected yards row 1 (id y1): wrong geometry type: a MultiPolygon of 2 parts where "
        "one Polygon is expected (split it into one row per part)" in run.stderr
    )
    assert not Yard.objects.exists()


def test_polygon_into_buildings_is_stored_as_multipolygon(
    run_command: RunCommand, tmp_path: Path
) -> None:
    outline = rectangle(10, 10)
    path = write_geojson(tmp_path / "buildings.geojson", feature(outline, id="b1", kind="house"))

    run_command("import_layer", "buildings", str(path))

    geom = Building.objects.get().geom
    assert geom.geom_type == "MultiPolygon"
    assert geom.equals_exact(MultiPolygon(outline, srid=4326), DEGREES)


# --- options ---------------------------------------------------------------------------------


def test_map_reads_a_field_from_another_column(run_command: RunCommand, tmp_path: Path) -> None:
    path = write_geojson(tmp_path / "cameras.geojson", feature(point(), id="c1", title="Pier 5"))

    run_command("import_layer", "cameras", str(path), "--map", "name=title")

    assert Camera.objects.get().name == "Pier 5"


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("colour=title", r"--map names unknown field\(s\) colour of layer cameras; its fields: "),
        ("name=caption", r"cameras.geojson has no column\(s\) caption"),
        ("foo", r"--map takes field=column, got 'foo'"),
        ("name=", r"--map takes field=column, got 'name='"),
    ],
)
def test_bad_map_is_a_command_error(tmp_path: Path, mapping: str, message: str) -> None:
    path = write_geojson(tmp_path / "cameras.geojson", feature(point(), id="c1", title="Pier 5"))

    error, _ = run_failing("import_layer", "cameras", str(path), "--map", mapping)

    assert re.search(message, str(error))
    assert not Camera.objects.exists()


def test_unknown_map_field_error_lists_the_layer_fields(tmp_path: Path) -> None:
    path = write_geojson(tmp_path / "cameras.geojson", feature(point(), id="c1"))

    error, _ = run_failing("import_layer", "cameras", str(path), "--map", "colour=id")

    fields = str(error).split("its fields: ")[1].split(", ")
    assert {"kind", "name", "owner"} <= set(fields)


def test_unknown_layer_is_a_usage_error_naming_the_layers(tmp_path: Path) -> None:
    path = write_geojson(tmp_path / "trees.geojson", feature(point(), id="t1"))

    error, _ = run_failing("import_layer", "trees", str(path))

    assert "not a layer import_layer writes: 'trees'" in str(error)
    assert "yards" in str(error)


@pytest.mark.parametrize("layer", ["works", "repeated_problems"])
def test_computed_layers_are_not_importable(tmp_path: Path, layer: str) -> None:
    path = write_geojson(tmp_path / "rows.geojson", feature(point(), id="w1"))

    error, _ = run_failing("import_layer", layer, str(path))

    assert f"not a layer import_layer writes: '{layer}'" in str(error)


@pytest.mark.parametrize(
    ("layer", "way"),
    [
        ("permits", "POST /api/permits"),
        ("network_repairs", "POST /api/networks/repairs"),
        ("appeals", "manage.py import_appeals"),
        ("yard_plan", "POST /api/yards/plans"),
    ],
)
def test_layers_with_a_workflow_are_refused_with_the_way_their_rows_come_in(
    tmp_path: Path, layer: str, way: str
) -> None:
    path = write_geojson(tmp_path / "rows.geojson", feature(point(), id="p1", number="П-1"))

    error, _ = run_failing("import_layer", layer, str(path))

    assert f"import_layer does not write {layer}: its rows come in by {way}" in str(error)


@pytest.mark.parametrize("layer", importable_layers())
def test_every_layer_import_layer_accepts_imports_a_row(
    run_command: RunCommand, tmp_path: Path, layer: str
) -> None:
    spec = LAYERS[layer]
    path = write_geojson(tmp_path / f"{layer}.geojson", one_row(spec))

    run = run_command("import_layer", layer, str(path))

    assert summary_counts(run.stdout)["created"] == 1, run.stdout
    assert spec.model.objects.filter(source=f"file:{layer}", source_id="row-1").count() == 1


# --- what the database keeps -----------------------------------------------------------------


def test_yard_area_is_computed_by_the_database(run_command: RunCommand, tmp_path: Path) -> None:
    path = write_geojson(tmp_path / "yards.geojson", feature(rectangle(100, 50), id="y1"))

    run_command("import_layer", "yards", str(path))

    assert Yard.objects.get().area_m2 == pytest.approx(5_000, rel=1e-3)
