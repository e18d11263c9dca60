"""Django views of tiles/: the map page and raster PNG tiles (vector tiles: tiles.asgi)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import parse_etags
from django.views.decorators.http import require_safe

from gis.exceptions import ApplicationError
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
        return JsonResponse(exc.body(), status=exc.status)
    etag = raster_tile_etag(raster=raster, tile=tile, colormap=colormap)
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={RASTER_MAX_AGE}",
        "Access-Control-Allow-Origin": "*",
    }
    if etag in parse_etags(request.headers.get("If-None-Match", "")):
        response = HttpResponseNotModified()
        for header, value in headers.items():
            response[header] = value
        return response
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
    }
    return render(request, "map.html", {"config": config, "city": settings.DEMO_CITY_NAME})
