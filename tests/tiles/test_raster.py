"""import_raster and /tiles/raster/…png on the real Helsinki (Lapinlahti) elevation model."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
from django.conf import settings
from django.core.management.base import CommandError
from django.test import Client
from PIL import Image
from rasterio.transform import from_bounds

from gis.spatial import lonlat_to_tile, tile_range
from tests.factories import CITY_LAT, CITY_LON, CommandRun
from tiles.models import Raster

pytestmark = pytest.mark.django_db

RunCommand = Callable[..., CommandRun]
# The DEM's corners (SOURCE.md): lon 24.910366 … 24.914518, lat 60.166369 … 60.169541.
DEM_BOUNDS = (24.910366, 60.166369, 24.914518, 60.169541)


@pytest.fixture
def media(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def dem_file() -> Path:
    path = settings.SHARED_DATA_DIR / "geotiff-helsinki-dem" / "helsinki_lapinlahti_dem_2021.tif"
    if not path.is_file():
        pytest.skip(f"DEM missing: {path}")
    return path


@pytest.fixture
def dem(media: Path, dem_file: Path, run_command: RunCommand) -> CommandRun:
    return run_command("import_raster", "dem", str(dem_file))


def current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def tile_url(z: int, x: int, y: int, name: str = "dem") -> str:
    return f"/tiles/raster/{name}/{z}/{x}/{y}.png"


def alpha(body: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(body))
    assert (image.format, image.mode, image.size) == ("PNG", "RGBA", (256, 256))
    return np.asarray(image)[..., 3]


def test_import_copies_the_file_and_records_its_stats(
    dem: CommandRun, media: Path, dem_file: Path
) -> None:
    raster = Raster.objects.get(name="dem")
    assert raster.file == media / "rasters" / "dem.tif"
    assert raster.file.read_bytes() == dem_file.read_bytes()
    assert raster.file.stat().st_mode & 0o777 == 0o666 & ~current_umask()
    assert raster.crs == "EPSG:4326"
    assert raster.bounds == pytest.approx(DEM_BOUNDS, abs=1e-5)
    assert (raster.width, raster.height) == (274, 210)
    assert raster.band_min[0] == pytest.approx(0, abs=1e-3)
    assert raster.band_max[0] == pytest.approx(10.99, abs=0.01)
    assert raster.nodata is None
    assert re.fullmatch(
        r"import_raster: dem created, 274×210 px, 1 band \(.+\), EPSG:4326, "
        r"230,706 bytes in [\d.]+ s\n",
        dem.stdout,
    )


def test_reimport_of_the_same_file_changes_nothing(
    dem: CommandRun, dem_file: Path, run_command: RunCommand
) -> None:
    before = Raster.objects.get(name="dem")
    again = run_command("import_raster", "dem", str(dem_file))
    assert "import_raster: dem unchanged" in again.stdout
    after = Raster.objects.get()
    assert (after.pk, after.updated_at, after.checksum) == (
        before.pk,
        before.updated_at,
        before.checksum,
    )


def test_reimport_of_a_changed_file_updates_row_and_copy(
    dem: CommandRun, media: Path, tmp_path: Path, run_command: RunCommand
) -> None:
    changed = tmp_path / "changed.tif"
    write_geotiff(changed, np.full((10, 10), 7.0, dtype="float32"), crs="EPSG:4326")
    run = run_command("import_raster", "dem", str(changed))
    assert "import_raster: dem updated" in run.stdout
    raster = Raster.objects.get()
    assert (raster.band_min, raster.band_max) == ([7.0], [7.0])
    assert raster.file.read_bytes() == changed.read_bytes()
    assert sorted(p.name for p in (media / "rasters").iterdir()) == ["dem.tif"]


def test_tile_over_the_dem_is_an_opaque_coloured_png(dem: CommandRun, client: Client) -> None:
    x, y = lonlat_to_tile(24.9124, 60.1680, 17)  # the middle of the DEM
    response = client.get(tile_url(17, x, y))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "public, max-age=3600"
    assert response["ETag"]
    assert (alpha(response.content) == 255).all()
    rgb = np.asarray(Image.open(io.BytesIO(response.content)))[..., :3]
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 10  # a colour ramp, not one flat colour


def test_tile_at_the_edge_is_transparent_outside_the_data(dem: CommandRun, client: Client) -> None:
    x0, y0, _, _ = tile_range(DEM_BOUNDS, 17)  # the north-west corner tile
    response = client.get(tile_url(17, x0, y0))
    assert response.status_code == 200
    mask = alpha(response.content)
    assert (mask == 255).any() and (mask == 0).any()
    assert set(np.unique(mask)) <= {0, 255}


def test_colormap_can_be_chosen_among_rio_tilers(dem: CommandRun, client: Client) -> None:
    x, y = lonlat_to_tile(24.9124, 60.1680, 17)
    terrain = client.get(tile_url(17, x, y))
    viridis = client.get(tile_url(17, x, y) + "?colormap=viridis")
    assert viridis.status_code == 200
    assert viridis.content != terrain.content
    assert viridis["ETag"] != terrain["ETag"]

    unknown = client.get(tile_url(17, x, y) + "?colormap=nope")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "bad_tile_request"
    assert "viridis" in unknown.json()["error"]["colormaps"]


def test_tile_with_a_matching_etag_is_not_modified(dem: CommandRun, client: Client) -> None:
    x, y = lonlat_to_tile(24.9124, 60.1680, 17)
    etag = client.get(tile_url(17, x, y))["ETag"]
    response = client.get(tile_url(17, x, y), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response["ETag"] == etag


def test_tile_far_from_the_raster_is_no_content(dem: CommandRun, client: Client) -> None:
    x, y = lonlat_to_tile(CITY_LON, CITY_LAT, 17)  # Baltimore
    response = client.get(tile_url(17, x, y))
    assert response.status_code == 204
    assert response.content == b""


@pytest.mark.parametrize(
    ("url", "code"),
    [
        (tile_url(17, 0, 0, name="nope"), "not_found"),
        (tile_url(30, 0, 0), "not_found"),
        (tile_url(23, 0, 0), "not_found"),
        (tile_url(3, 8, 0), "not_found"),
    ],
)
def test_unknown_raster_or_tile_off_the_grid_is_a_json_404(
    dem: CommandRun, client: Client, url: str, code: str
) -> None:
    response = client.get(url)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    "url",
    [
        "/tiles/raster/dem/a/0/0.png",
        "/tiles/raster/dem/17/-1/0.png",
        "/tiles/raster/dem/17/0/0.jpg",
        "/tiles/raster/x%22%3BDROP%20TABLE/17/0/0.png",
    ],
)
def test_malformed_raster_paths_are_404(dem: CommandRun, client: Client, url: str) -> None:
    assert client.get(url).status_code == 404


def write_geotiff(path: Path, data: np.ndarray, *, crs: str | None) -> None:
    height, width = data.shape
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype=data.dtype,
        crs=crs,
        transform=from_bounds(*DEM_BOUNDS, width, height),
    ) as dst:
        dst.write(data, 1)


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_import_refuses_what_it_cannot_serve(
    media: Path, tmp_path: Path, run_command: RunCommand, dem_file: Path
) -> None:
    text = tmp_path / "notes.tif"
    text.write_text("not a raster")
    with pytest.raises(CommandError, match="Cannot read notes.tif as a raster"):
        run_command("import_raster", "notes", str(text))

    png = tmp_path / "image.png"
    Image.new("L", (4, 4)).save(png)
    with pytest.raises(CommandError, match="not a GeoTIFF"):
        run_command("import_raster", "image", str(png))

    no_crs = tmp_path / "no_crs.tif"
    write_geotiff(no_crs, np.ones((4, 4), dtype="float32"), crs=None)
    with pytest.raises(CommandError, match="has no CRS"):
        run_command("import_raster", "nocrs", str(no_crs))

    with pytest.raises(CommandError, match="No such file"):
        run_command("import_raster", "gone", str(tmp_path / "gone.tif"))

    with pytest.raises(CommandError, match="must be a slug"):
        run_command("import_raster", "../evil", str(dem_file))

    assert not Raster.objects.exists()
    assert not (media / "rasters").exists() or not any((media / "rasters").iterdir())


def test_import_of_an_all_nodata_band_is_refused(
    media: Path, tmp_path: Path, run_command: RunCommand
) -> None:
    empty = tmp_path / "empty.tif"
    with rasterio.open(
        empty,
        "w",
        driver="GTiff",
        width=4,
        height=4,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        nodata=-9999,
        transform=from_bounds(*DEM_BOUNDS, 4, 4),
    ) as dst:
        dst.write(np.full((4, 4), -9999, dtype="float32"), 1)
    with pytest.raises(CommandError, match="no valid pixel"):
        run_command("import_raster", "empty", str(empty))
