"""export_tiles: a PMTiles archive holding, tile for tile, what the server serves the public."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from pathlib import Path

import mapbox_vector_tile
import pytest
from django.contrib.gis.geos import MultiPolygon
from django.core.management.base import CommandError
from pmtiles.reader import MmapSource, Reader, all_tiles
from pmtiles.tile import Compression, TileType

from gis.roles import PUBLIC
from gis.spatial import TileAddress, lonlat_to_tile, tile_range
from layers.models import Street
from layers.registry import LAYERS
from tests.factories import CITY_LAT, CITY_LON, CommandRun, building, line, rectangle
from tiles.selectors import tile_render, tileset_for

pytestmark = pytest.mark.django_db

RunCommand = Callable[..., CommandRun]
SUMMARY = re.compile(
    r"^export_tiles: ([\d,]+) tiles \(([\d,]+) empty skipped\), ([\d,]+) bytes in [\d.]+ s$",
    re.M,
)


@pytest.fixture
def city() -> None:
    """A few buildings and streets a few hundred metres apart, so they span several z16 tiles."""
    for i in range(4):
        lon, lat = CITY_LON + i * 0.004, CITY_LAT + i * 0.002
        building(
            geom=MultiPolygon(rectangle(20, 15, lon=lon, lat=lat), srid=4326),
            street="Eastern Avenue",
            housenumber=str(100 + 2 * i),
            kind="house",
            floors=2,
        )
        Street.objects.create(name="Eastern Avenue", kind="primary", geom=line(lon, lat, 0.003))
    building(geom=rectangle(5, 5).centroid, kind="kiosk")  # a building mapped as a point


def archive_tiles(path: Path) -> tuple[dict, dict, dict[tuple[int, int, int], bytes]]:
    """Header, metadata and every tile of an archive, read back with the pmtiles reader."""
    with path.open("rb") as f:
        source = MmapSource(f)
        reader = Reader(source)
        tiles = {zxy: bytes(data) for zxy, data in all_tiles(source)}
        return reader.header(), reader.metadata(), tiles


def test_export_is_tile_for_tile_what_the_server_serves(
    city: None, run_command: RunCommand, tmp_path: Path
) -> None:
    out = tmp_path / "city.pmtiles"
    run = run_command(
        "export_tiles",
        str(out),
        "--layers",
        "buildings,streets",
        "--minzoom",
        "14",
        "--maxzoom",
        "16",
    )

    header, metadata, tiles = archive_tiles(out)
    tileset = tileset_for(names="buildings,streets", viewer=PUBLIC)
    for (z, x, y), data in tiles.items():
        assert gzip.decompress(data) == tile_render(tileset=tileset, tile=TileAddress(z, x, y))
    # …and no tile the server has data for is missing, even one the data only reaches with the
    # tile buffer: look one tile beyond the data all round.
    extent = (CITY_LON, CITY_LAT, CITY_LON + 0.015, CITY_LAT + 0.009)
    expected = {
        (z, x, y)
        for z in range(14, 17)
        for x0, y0, x1, y1 in [tile_range(extent, z)]
        for x in range(x0 - 1, x1 + 2)
        for y in range(y0 - 1, y1 + 2)
        if tile_render(tileset=tileset, tile=TileAddress(z, x, y))
    }
    assert set(tiles) == expected
    assert {z for z, _, _ in tiles} == {14, 15, 16}

    assert header["tile_type"] == TileType.MVT
    assert header["tile_compression"] == Compression.GZIP
    assert (header["min_zoom"], header["max_zoom"]) == (14, 16)
    assert header["min_lon_e7"] / 1e7 == pytest.approx(CITY_LON, abs=1e-6)
    assert header["min_lat_e7"] / 1e7 == pytest.approx(CITY_LAT, abs=1e-6)
    assert header["min_lon_e7"] < header["center_lon_e7"] < header["max_lon_e7"]
    assert header["min_lat_e7"] < header["center_lat_e7"] < header["max_lat_e7"]

    assert metadata["attribution"] == "© OpenStreetMap contributors"
    assert metadata["name"] and metadata["description"]
    layers = {layer["id"]: layer for layer in metadata["vector_layers"]}
    assert list(layers) == ["buildings", "streets"]
    assert set(layers["buildings"]["fields"]) == {
        "source",
        *LAYERS["buildings"].tile_properties,
    }
    assert layers["buildings"]["fields"]["floors"] == "Number"
    assert layers["buildings"]["fields"]["housenumber"] == "String"
    assert (layers["buildings"]["minzoom"], layers["buildings"]["maxzoom"]) == (14, 16)

    counts = SUMMARY.search(run.stdout)
    assert counts, run.stdout
    assert int(counts[1].replace(",", "")) == len(tiles)
    assert int(counts[3].replace(",", "")) == out.stat().st_size


def test_exported_tile_decodes_to_the_layers_with_allow_listed_properties(
    city: None, run_command: RunCommand, tmp_path: Path
) -> None:
    out = tmp_path / "city.pmtiles"
    run_command(
        "export_tiles",
        str(out),
        "--layers",
        "buildings,streets",
        "--minzoom",
        "14",
        "--maxzoom",
        "14",
    )
    _, _, tiles = archive_tiles(out)
    x, y = lonlat_to_tile(CITY_LON + 0.0001, CITY_LAT + 0.0001, 14)
    decoded = mapbox_vector_tile.decode(gzip.decompress(tiles[(14, x, y)]))
    assert set(decoded) == {"buildings", "streets"}
    houses = decoded["buildings"]["features"]
    assert {f["properties"].get("housenumber") for f in houses} >= {"100"}
    assert {f["properties"].get("kind") for f in houses} >= {"house", "kiosk"}
    allowed = {"source", *LAYERS["buildings"].properties}
    assert all(set(f["properties"]) <= allowed for f in houses)
    # Across the archive, every house is there.
    numbers = set()
    for data in tiles.values():
        layer = mapbox_vector_tile.decode(gzip.decompress(data)).get("buildings")
        numbers |= (
            {f["properties"].get("housenumber") for f in layer["features"]} if layer else set()
        )
    assert numbers >= {"100", "102", "104", "106"}


def test_export_bbox_limits_the_tiles(city: None, run_command: RunCommand, tmp_path: Path) -> None:
    out = tmp_path / "one.pmtiles"
    # Around the first building only: the others lie 300 m and more to the north-east.
    bbox = f"--bbox={CITY_LON - 0.0005},{CITY_LAT - 0.0005},{CITY_LON + 0.0005},{CITY_LAT + 0.0005}"
    run_command(
        "export_tiles",
        str(out),
        "--layers",
        "buildings",
        "--minzoom",
        "16",
        "--maxzoom",
        "16",
        bbox,
    )
    _, _, tiles = archive_tiles(out)
    assert 1 <= len(tiles) <= 4
    decoded = mapbox_vector_tile.decode(gzip.decompress(next(iter(tiles.values()))))
    assert {f["properties"].get("housenumber") for f in decoded["buildings"]["features"]} >= {"100"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--layers", "nope", "--minzoom", "14", "--maxzoom", "16"], "Unknown layer 'nope'"),
        (
            ["--layers", 'x";DROP TABLE layers_building', "--minzoom", "1", "--maxzoom", "2"],
            "Unknown layer",
        ),
        (
            ["--layers", "buildings", "--minzoom", "16", "--maxzoom", "14"],
            "minzoom 16 is above maxzoom 14",
        ),
        (
            ["--layers", "buildings", "--minzoom", "14", "--maxzoom", "23"],
            "maxzoom 23 is beyond 22",
        ),
        (["--layers", "buildings,networks", "--minzoom", "14", "--maxzoom", "16"], "restricted"),
        (["--layers", "cameras", "--minzoom", "14", "--maxzoom", "16"], "public layers only"),
        (
            ["--layers", "buildings", "--minzoom", "14", "--maxzoom", "16", "--bbox", "1,2,3"],
            "--bbox takes west,south,east,north",
        ),
        (["--layers", ",", "--minzoom", "14", "--maxzoom", "16"], "at least one layer"),
    ],
)
def test_export_refuses_bad_input_and_writes_nothing(
    city: None, run_command: RunCommand, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "bad.pmtiles"
    with pytest.raises(CommandError, match=re.escape(message)):
        run_command("export_tiles", str(out), *args)
    assert list(tmp_path.iterdir()) == []


def test_export_of_layers_without_rows_is_an_error(run_command: RunCommand, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="hold no rows"):
        run_command(
            "export_tiles",
            str(tmp_path / "x.pmtiles"),
            "--layers",
            "yards",
            "--minzoom",
            "14",
            "--maxzoom",
            "14",
        )
    assert list(tmp_path.iterdir()) == []
