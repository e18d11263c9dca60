"""Django views of tiles/: the map page, raster PNG tiles and the public PMTiles archive.

Vector tiles are served by tiles.asgi.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import http_date, parse_etags
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from gis.exceptions import ApplicationError, NotFound
from tiles.rasters import raster_colormap, raster_get, raster_tile_etag, raster_tile_render
from tiles.selectors import tile_address

# Rasters change only by re-import, which changes every tile's ETag: an hour, then revalidate.
RASTER_MAX_AGE = 3600


@require_safe
def raster_tile(request: HttpRequest, name: str, z: int, x: int, y: int) -> HttpResponse:
    """GET /tiles/raster/NAME/Z/X/Y.png[?colormap=NAME]: 200 PNG, 204 outside the raster."""
    try:
        tile = tile_address(z, x, y)
        raster = raster_get(name=name)
        colormap = raster_colormap(raster=raster, name=request.GET.get("colormap"))
    except ApplicationError as exc:
        return exc.response()
    etag = raster_tile_etag(raster=raster, tile=tile, colormap=colormap)
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={RASTER_MAX_AGE}",
        "Access-Control-Allow-Origin": "*",
    }
    if etag in parse_etags(request.headers.get("If-None-Match", "")):
        return HttpResponseNotModified(headers=headers)
    png = raster_tile_render(raster=raster, tile=tile, colormap=colormap)
    if png is None:
        return HttpResponse(status=204, headers=headers)
    return HttpResponse(png, content_type="image/png", headers=headers)


@require_safe
def map_page(request: HttpRequest) -> HttpResponse:
    """GET /: the full-window MapLibre map; its style is built in the browser from /tiles/."""
    lon, lat, zoom = settings.MAP_CENTER
    config = {
        "center": [lon, lat],
        "zoom": zoom,
        "city": settings.DEMO_CITY_NAME,
        "catalogUrl": reverse("tiles-catalog"),
        "addressNumberFirst": settings.ADDRESS_NUMBER_FIRST,
        "pmtiles": public_archive_config(),
    }
    return render(request, "map.html", {"config": config, "city": settings.DEMO_CITY_NAME})


# --- the public PMTiles archive --------------------------------------------------------------

PMTILES_CONTENT_TYPE = "application/vnd.pmtiles"
# One range, as PMTiles readers ask: "bytes=0-16383", "bytes=100-", "bytes=-500".
BYTE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024


def public_archive_config() -> dict[str, str | None] | None:
    """Where the map reads the public layers' archive, and when it was written; None: nowhere.

    ``PMTILES_URL`` (a copy on a CDN or in a bucket) when set, else our own route while the file
    is there. The time is the local file's, when this server has one.
    """
    try:
        written = Path(settings.PMTILES_PATH).stat().st_mtime
    except OSError:
        written = None
    if settings.PMTILES_URL:
        url = settings.PMTILES_URL
    elif written is not None:
        url = reverse("tiles-pmtiles")
    else:
        return None
    exported = (
        None
        if written is None
        else datetime.fromtimestamp(written, UTC).isoformat(timespec="seconds")
    )
    return {"url": url, "exported": exported}


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The first and last byte a Range header asks for (clamped to the file); None: ignore it.

    Raises ValueError when the range is well-formed but starts past the end (416). Several
    ranges, other units or nonsense are ignored, as RFC 9110 allows: the whole file is sent.
    """
    found = BYTE_RANGE.match(header.strip())
    if not found or found[1] == found[2] == "":
        return None
    first, last = found[1], found[2]
    if first == "":  # the last N bytes
        if int(last) == 0 or size == 0:
            raise ValueError(header)
        return max(size - int(last), 0), size - 1
    if last and int(last) < int(first):
        return None
    if int(first) >= size:
        raise ValueError(header)
    return int(first), min(int(last), size - 1) if last else size - 1


def _chunks(f: BinaryIO, first: int, length: int) -> Iterator[bytes]:
    """``length`` bytes of the open file from ``first``; the file is closed at the end."""
    with f:
        f.seek(first)
        while length > 0:
            data = f.read(min(CHUNK, length))
            if not data:
                return
            length -= len(data)
            yield data


@require_safe
def public_archive(request: HttpRequest) -> HttpResponseBase:
    """GET /tiles/public.pmtiles: the public archive (``PMTILES_PATH``), with byte ranges.

    Only that one file: no part of the URL names a path. It is opened once and everything (the
    ETag, the length, the bytes) comes from the open file, so an export replacing it mid-request
    (tiles.services._publish renames a new file over it) never mixes two archives in one answer.
    """
    try:
        f = Path(settings.PMTILES_PATH).open("rb")
    except OSError:
        return NotFound(_("No public tile archive has been exported yet: use /tiles/.")).response()
    stat = os.fstat(f.fileno())
    size = stat.st_size
    # Strong: the same mtime and length are the same file, as exports replace it whole.
    etag = f'"{stat.st_mtime_ns:x}-{size:x}"'
    headers = {
        "ETag": etag,
        "Last-Modified": http_date(stat.st_mtime),
        "Accept-Ranges": "bytes",
        "Cache-Control": f"public, max-age={settings.PMTILES_MAX_AGE}",
    }
    if etag in parse_etags(request.headers.get("If-None-Match", "")):
        f.close()
        return HttpResponseNotModified(headers=headers)
    wanted = request.headers.get("Range", "")
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range not in (etag, headers["Last-Modified"]):
        wanted = ""  # the archive changed since the reader's copy: all of the new one
    try:
        span = byte_range(wanted, size) if wanted else None
    except ValueError:
        f.close()
        return HttpResponse(status=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    first, last = span or (0, size - 1)
    status = 206 if span else 200
    if span:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    headers["Content-Length"] = str(last - first + 1)
    if request.method == "HEAD":
        f.close()
        return HttpResponse(status=status, headers=headers, content_type=PMTILES_CONTENT_TYPE)
    return StreamingHttpResponse(
        _chunks(f, first, last - first + 1),
        status=status,
        headers=headers,
        content_type=PMTILES_CONTENT_TYPE,
    )
