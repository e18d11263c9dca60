"""Writing tiles out and rasters in: the PMTiles export and the GeoTIFF import."""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import connection, transaction
from django.utils.translation import gettext as _
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer
from rasterio.errors import RasterioIOError
from rasterio.warp import transform_bounds

from gis.exceptions import ApplicationError
from gis.roles import PUBLIC
from gis.spatial import MAX_ZOOM, Bbox, TileAddress, tile_range
from layers.registry import LAYERS, LayerSpec, layers_for
from tiles.models import Raster
from tiles.selectors import (
    MAX_LAYERS_PER_TILE,
    layers_extent,
    tile_render,
    tileset_for,
    vector_layer,
)
from tiles.sql import BUFFER, EXTENT

# Called with (tiles done, tiles in all) as the export goes.
ExportProgress = Callable[[int, int], None]

ATTRIBUTION = "© OpenStreetMap contributors"
RASTER_DIR = "rasters"
# Colormapped single bands, or RGB: what the PNG tiles know how to show.
RASTER_BAND_COUNTS = (1, 3)


class ExportError(ApplicationError):
    code = "bad_export"


class NothingToExport(ExportError):
    """The layers have no tile to write: no rows, or none in the box."""


class RasterImportError(ApplicationError):
    code = "bad_raster"


# --- PMTiles export ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TilesExport:
    path: Path
    bbox: Bbox
    tiles: int
    empty: int
    bytes: int
    seconds: float

    def summary(self) -> str:
        return (
            f"export_tiles: {self.tiles:,} tiles ({self.empty:,} empty skipped), "
            f"{self.bytes:,} bytes in {self.seconds:.1f} s"
        )


def _export_layers(names: Sequence[str]) -> list[LayerSpec]:
    """The layers, in the order given; an archive is public, so restricted layers are refused."""
    if not names:
        raise ExportError(_("Name at least one layer."))
    specs = []
    for name in names:
        spec = LAYERS.get(name)
        if spec is None:
            raise ExportError(
                _("Unknown layer %(name)s; layers: %(join)s.")
                % {"name": repr(name), "join": ", ".join(LAYERS)}
            )
        if not spec.is_public:
            raise ExportError(
                _(
                    "Layer %(name)s is restricted to %(join)s; an exported archive is "
                    "public, so it may hold public layers only."
                )
                % {"name": repr(name), "join": ", ".join(sorted(spec.roles))}
            )
        specs.append(spec)
    return specs


def _export_metadata(
    specs: Sequence[LayerSpec], *, minzoom: int, maxzoom: int, bbox: Bbox
) -> dict[str, Any]:
    vector_layers = [
        {
            **vector_layer(spec, PUBLIC),
            "minzoom": max(spec.minzoom, minzoom),
            "maxzoom": min(spec.maxzoom, maxzoom),
        }
        for spec in specs
    ]
    names = ",".join(spec.name for spec in specs)
    return {
        "name": f"citygis {names}",
        "description": (
            f"{settings.DEMO_CITY_NAME}: {', '.join(str(s.title) for s in specs)}, "
            f"z{minzoom}–{maxzoom}, as the public sees them"
        ),
        "attribution": ATTRIBUTION,
        "type": "overlay",
        "version": "1",
        # When the data was read: what the public sees of it is as of then.
        "exported": datetime.now(UTC).isoformat(timespec="seconds"),
        "bounds": ",".join(f"{v:.7f}" for v in bbox),
        "vector_layers": vector_layers,
    }


def _publish(part: str, target: Path) -> None:
    """Move a finished temporary file over ``target``, readable as a normal file would be.

    Temporary files are created private (0600); a web server or tile host may run as another
    user.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(part, 0o666 & ~umask)
    os.replace(part, target)


def _e7(value: float) -> int:
    return int(round(value * 10_000_000))


def tiles_export_pmtiles(
    *,
    path: Path,
    layers: Sequence[str],
    minzoom: int,
    maxzoom: int,
    bbox: Bbox | None = None,
    progress: ExportProgress | None = None,
) -> TilesExport:
    """Write the public tiles of the layers over the box (default: their data) to a PMTiles v3.

    Each tile is byte for byte what the tile server answers the public (``tile_render``),
    gzipped; empty tiles are left out, as PMTiles readers expect. The archive is written beside
    ``path`` and moved over it at the end, so a failed export leaves no half file.
    """
    started = time.monotonic()
    if minzoom < 0:
        raise ExportError(_("minzoom %(minzoom)s is below 0.") % {"minzoom": minzoom})
    if maxzoom > MAX_ZOOM:
        raise ExportError(
            _("maxzoom %(maxzoom)s is beyond %(max_zoom)s, the deepest zoom served.")
            % {"maxzoom": maxzoom, "max_zoom": MAX_ZOOM}
        )
    if minzoom > maxzoom:
        raise ExportError(
            _("minzoom %(minzoom)s is above maxzoom %(maxzoom)s.")
            % {"minzoom": minzoom, "maxzoom": maxzoom}
        )
    specs = _export_layers(layers)
    # Around the data, the tiles next to it are served too when a feature reaches into their
    # buffer (tiles.sql.BUFFER): grow the range by the buffer so the archive has them as well.
    # A bbox given is taken as is: the tiles over it.
    margin = 0.0
    if bbox is None:
        bbox = layers_extent(specs, PUBLIC)
        margin = BUFFER / EXTENT
        if bbox is None:
            raise NothingToExport(
                _("Layers %(join)s hold no rows: nothing to export (or give a bbox).")
                % {"join": ", ".join(layers)}
            )
    west, south, east, north = bbox
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise ExportError(_("The bbox must be west ≤ east, south ≤ north within lon/lat limits."))
    # A tile names at most MAX_LAYERS_PER_TILE layers; MVT layers concatenate, so more layers
    # are rendered in groups and their bytes joined into one tile.
    tilesets = [
        tileset_for(
            names=",".join(spec.name for spec in specs[i : i + MAX_LAYERS_PER_TILE]),
            viewer=PUBLIC,
        )
        for i in range(0, len(specs), MAX_LAYERS_PER_TILE)
    ]
    # Tile-id order (zoom, then Hilbert curve) makes the archive "clustered": readers fetch
    # neighbouring tiles in one range request.
    tiles = sorted(
        (
            TileAddress(z, x, y)
            for z in range(minzoom, maxzoom + 1)
            for x0, y0, x1, y1 in [tile_range(bbox, z, margin=margin)]
            for x in range(x0, x1 + 1)
            for y in range(y0, y1 + 1)
        ),
        key=lambda t: zxy_to_tileid(t.z, t.x, t.y),
    )

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = empty = 0
    zooms: list[int] = []
    with tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False
    ) as out:
        try:
            writer = Writer(out)
            for done, tile in enumerate(tiles, start=1):
                body = b"".join(tile_render(tileset=ts, tile=tile) for ts in tilesets)
                if body:
                    # mtime=0: identical tiles compress to identical bytes, which the writer
                    # stores once (sea, park interiors).
                    writer.write_tile(
                        zxy_to_tileid(tile.z, tile.x, tile.y), gzip.compress(body, mtime=0)
                    )
                    written += 1
                    zooms.append(tile.z)
                else:
                    empty += 1
                if progress is not None:
                    progress(done, len(tiles))
            if not written:
                raise NothingToExport(
                    _("Every one of the %(len)s tiles is empty: nothing to export.")
                    % {"len": format(len(tiles), ",")}
                )
            center_zoom = min(zooms)
            writer.finalize(
                {
                    "tile_type": TileType.MVT,
                    "tile_compression": Compression.GZIP,
                    "min_lon_e7": _e7(west),
                    "min_lat_e7": _e7(south),
                    "max_lon_e7": _e7(east),
                    "max_lat_e7": _e7(north),
                    "center_zoom": center_zoom,
                    "center_lon_e7": _e7((west + east) / 2),
                    "center_lat_e7": _e7((south + north) / 2),
                },
                _export_metadata(specs, minzoom=minzoom, maxzoom=maxzoom, bbox=bbox),
            )
            out.flush()
            os.fsync(out.fileno())
        except BaseException:
            os.unlink(out.name)
            raise
    _publish(out.name, path)
    return TilesExport(
        path=path,
        bbox=bbox,
        tiles=written,
        empty=empty,
        bytes=path.stat().st_size,
        seconds=time.monotonic() - started,
    )


# --- the public archive ------------------------------------------------------------------------

# Session advisory lock of the public archive's export ("pmtiles" in ASCII). A session lock, not a
# transaction's: an export is minutes of reads that need no transaction, and the lock goes with
# its connection when a worker dies, so a killed export never blocks the next one.
PUBLIC_EXPORT_LOCK = 0x706D74696C6573


@dataclass(frozen=True, slots=True)
class PublicTilesExport:
    path: Path
    layers: tuple[str, ...]
    export: TilesExport | None
    skipped: str = ""
    """Why nothing was written, when ``export`` is None."""

    def summary(self) -> str:
        if self.export is None:
            return f"export_public_tiles: skipped, {self.skipped}"
        counts = self.export.summary().removeprefix("export_tiles: ")
        return f"export_public_tiles: {counts}; {len(self.layers)} public layers to {self.path}"


def public_archive_layers() -> list[str]:
    """The layers of the public archive: ``PMTILES_LAYERS``, or every layer the public sees."""
    return list(settings.PMTILES_LAYERS) or [spec.name for spec in layers_for(PUBLIC)]


@contextmanager
def _public_export_lock() -> Iterator[bool]:
    """Whether this connection took the export's lock (False: another export holds it)."""
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [PUBLIC_EXPORT_LOCK])
        (taken,) = cursor.fetchone()
    try:
        yield taken
    finally:
        if taken:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [PUBLIC_EXPORT_LOCK])


def tiles_export_public(*, progress: ExportProgress | None = None) -> PublicTilesExport:
    """Write the public layers to ``PMTILES_PATH``, the archive the map reads for the public.

    Over ``CITY_BBOX`` when set (else the layers' data), zooms ``PMTILES_MINZOOM`` to
    ``PMTILES_MAXZOOM``. One export at a time: while another one (a worker's, a command's) runs,
    this one is skipped. When the layers have nothing to show, an archive left from before is
    removed, so that the map reads the live tiles instead of data that is gone.
    """
    path = Path(settings.PMTILES_PATH)
    layers = tuple(public_archive_layers())
    with _public_export_lock() as taken:
        if not taken:
            return PublicTilesExport(
                path=path, layers=layers, export=None, skipped="another export is running"
            )
        try:
            export = tiles_export_pmtiles(
                path=path,
                layers=layers,
                minzoom=settings.PMTILES_MINZOOM,
                maxzoom=settings.PMTILES_MAXZOOM,
                bbox=settings.CITY_BBOX,
                progress=progress,
            )
        except NothingToExport as exc:
            removed = path.is_file()
            path.unlink(missing_ok=True)
            reason = exc.message + (f" {path} removed." if removed else "")
            return PublicTilesExport(path=path, layers=layers, export=None, skipped=reason)
    return PublicTilesExport(path=path, layers=layers, export=export)


# --- raster import ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RasterImport:
    raster: Raster
    outcome: str
    """created, updated or unchanged."""
    bytes: int
    seconds: float

    def summary(self) -> str:
        r = self.raster
        bands = len(r.band_min)
        crs = r.crs if r.crs.startswith("EPSG:") else "a CRS with no EPSG code"
        ranges = "; ".join(
            f"{lo:.6g}…{hi:.6g}" for lo, hi in zip(r.band_min, r.band_max, strict=True)
        )
        return (
            f"import_raster: {r.name} {self.outcome}, {r.width}×{r.height} px, "
            f"{bands} band{'s' if bands > 1 else ''} ({ranges}), {crs}, "
            f"{self.bytes:,} bytes in {self.seconds:.1f} s"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(2**20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _band_stats(src: rasterio.DatasetReader) -> tuple[list[float], list[float]]:
    """Min and max of each band over its valid pixels (nodata, masks and NaN left out).

    Read block by block, so a large orthophoto never needs to fit in memory.
    """
    lows, highs = [], []
    for band in range(1, src.count + 1):
        low, high = math.inf, -math.inf
        for _index, window in src.block_windows(band):
            data = src.read(band, window=window, masked=True)
            values = data.compressed()
            values = values[np.isfinite(values)]
            if values.size:
                low, high = min(low, float(values.min())), max(high, float(values.max()))
        if low > high:
            raise RasterImportError(f"Band {band} has no valid pixel (all nodata).")
        lows.append(low)
        highs.append(high)
    return lows, highs


def _raster_facts(path: Path) -> dict[str, Any]:
    """What the Raster row records about a file, after checking it is a GeoTIFF we can serve."""
    try:
        src = rasterio.open(path)
    except RasterioIOError as exc:
        raise RasterImportError(f"Cannot read {path.name} as a raster: {exc}") from None
    with src:
        if src.driver != "GTiff":
            raise RasterImportError(f"{path.name} is {src.driver}, not a GeoTIFF.")
        if src.crs is None:
            raise RasterImportError(
                f"{path.name} has no CRS: georeference it first (gdal_edit.py -a_srs EPSG:n)."
            )
        if src.count not in RASTER_BAND_COUNTS:
            raise RasterImportError(
                f"{path.name} has {src.count} bands; tiles show 1 band (colormapped) or 3 (RGB)."
            )
        epsg = src.crs.to_epsg()
        west, south, east, north = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
        band_min, band_max = _band_stats(src)
        return {
            "crs": f"EPSG:{epsg}" if epsg else src.crs.to_wkt(),
            "width": src.width,
            "height": src.height,
            "west": west,
            "south": south,
            "east": east,
            "north": north,
            "band_min": band_min,
            "band_max": band_max,
            "nodata": src.nodata,
        }


def raster_import(*, name: str, path: Path) -> RasterImport:
    """Copy a GeoTIFF to MEDIA_ROOT/rasters/NAME.tif and record it; the same file twice is a no-op.

    The copy is written beside its destination and moved over it, so a tile being read during a
    re-import sees the old file or the new one, never half of one.
    """
    started = time.monotonic()
    try:
        validate_slug(name)
    except ValidationError:
        raise RasterImportError(
            f"Raster name {name!r} must be a slug (letters, digits, - and _)."
        ) from None
    path = Path(path)
    if not path.is_file():
        raise RasterImportError(f"No such file: {path}.")
    facts = _raster_facts(path)
    checksum = _sha256(path)
    size = path.stat().st_size
    relative = f"{RASTER_DIR}/{name}.tif"
    target = Path(settings.MEDIA_ROOT) / relative

    with transaction.atomic():
        raster = Raster.objects.select_for_update().filter(name=name).first()
        if (
            raster is not None
            and raster.checksum == checksum
            and raster.path == relative
            and target.is_file()
        ):
            return RasterImport(
                raster=raster,
                outcome="unchanged",
                bytes=size,
                seconds=time.monotonic() - started,
            )
        outcome = "created" if raster is None else "updated"
        raster = raster or Raster(name=name)
        for field, value in {**facts, "path": relative, "checksum": checksum}.items():
            setattr(raster, field, value)
        raster.full_clean()
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=target.parent, prefix=f".{name}.", suffix=".part", delete=False
        ) as out:
            try:
                with path.open("rb") as source:
                    shutil.copyfileobj(source, out)
            except BaseException:
                os.unlink(out.name)
                raise
        try:
            raster.save()
        except BaseException:
            os.unlink(out.name)
            raise
        # Last, so a failed save leaves the old file with its row; the transaction commits next.
        _publish(out.name, target)
    return RasterImport(
        raster=raster, outcome=outcome, bytes=size, seconds=time.monotonic() - started
    )
