"""export_density: the GeoTIFF read back with rasterio, and served as raster tiles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
from django.core.management.base import CommandError
from django.test import Client
from pyproj import Transformer

from gis.spatial import lonlat_to_tile
from orders.planning.models import Incident
from tests.factories import CommandRun
from tests.orders.planning.conftest import days_ago

pytestmark = pytest.mark.django_db

RunCommand = Callable[..., CommandRun]


@pytest.fixture
def media(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def export(run_command: RunCommand, out: Path, *args: str) -> CommandRun:
    return run_command(
        "export_density", str(out), "--kind", "water", "--since", days_ago(365).isoformat(), *args
    )


def test_the_geotiff_counts_incidents_per_50_m_cell_in_utm(
    run_command: RunCommand, breaks: dict, media: Path, tmp_path: Path
) -> None:
    out = tmp_path / "water.tif"
    result = export(run_command, out)
    assert "export_density: 10 water incidents" in result.stdout
    assert "/tiles/raster/density-water/" in result.stdout

    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 32618
        assert (src.transform.a, src.transform.e) == (50.0, -50.0)
        assert src.dtypes == ("uint32",) and src.nodata == 0
        west, south, east, north = src.bounds
        assert all(v % 50 == 0 for v in (west, south, east, north))
        counts = src.read(1)
        # 9 located water records and the located break appeal (not the sewer one, not the
        # appeal without a point, not the record before the period).
        assert int(counts.sum()) == 10
        assert src.tags()["incidents"] == "10"
        # Every incident falls in a counted cell, inside the bounds with a cell of margin.
        to_utm = Transformer.from_crs(4326, 32618, always_xy=True)
        water = Incident.objects.filter(kind="water", occurred_on__gte=days_ago(365))
        for incident in water:
            x, y = to_utm.transform(incident.geom.x, incident.geom.y)
            assert west + 50 <= x < east - 50 and south + 50 <= y < north - 50
            row, col = src.index(x, y)
            assert counts[row, col] >= 1
        # Cluster A's five lie within 17 m of each other: at most 4 cells hold them.
        assert counts.max() >= 2
        assert np.count_nonzero(counts) <= 10


def test_the_raster_is_served_as_tiles_and_exporting_again_changes_nothing(
    run_command: RunCommand, breaks: dict, media: Path, tmp_path: Path
) -> None:
    out = tmp_path / "water.tif"
    assert "(created)" in export(run_command, out).stdout
    assert "(unchanged)" in export(run_command, out).stdout
    first = Incident.objects.filter(kind="water").order_by("occurred_on").last()
    x, y = lonlat_to_tile(first.geom.x, first.geom.y, 16)
    response = Client().get(f"/tiles/raster/density-water/16/{x}/{y}.png?colormap=ylorrd")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert Client().get("/tiles/raster/density-water/16/0/0.png").status_code == 204


def test_bad_density_input_is_a_usage_error(
    run_command: RunCommand, breaks: dict, media: Path, tmp_path: Path
) -> None:
    out = tmp_path / "x.tif"
    with pytest.raises(CommandError, match="invalid choice: 'lava'"):
        run_command("export_density", str(out), "--kind", "lava")
    with pytest.raises(CommandError, match="No located gas incident"):
        run_command("export_density", str(out), "--kind", "gas")
    with pytest.raises(CommandError, match="cell size"):
        export(run_command, out, "--cell-m", "0")
    with pytest.raises(CommandError, match="is after"):
        run_command(
            "export_density",
            str(out),
            "--kind",
            "water",
            "--since",
            "2025-01-02",
            "--until",
            "2025-01-01",
        )
    assert not out.exists()
