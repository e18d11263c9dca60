"""A map on another origin loads our tiles, TileJSON, catalog and OGC features in Chromium.

The page comes from a second server of its own (http://localhost:PORT, another origin on
loopback: Chromium lets only loopback pages reach loopback), so every request to the live
server at 127.0.0.1 is cross-origin, as a city's other sites would make them. What only staff
pages use (the REST API) stays closed to other origins.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.gis.geos import MultiPolygon
from playwright.sync_api import Browser
from pytest_django import DjangoDbBlocker

from gis.roles import Role
from gis.services import user_create_or_update
from gis.spatial import lonlat_to_tile
from tests.factories import CITY_LAT, CITY_LON, building, rectangle
from tests.live_server import committed_data, live_server

pytestmark = pytest.mark.browser

OTHER_ORIGIN = "http://localhost:9"  # for the header checks: any origin but ours
Z = 16


class OtherSite(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b"<!doctype html><p>another site's map</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def other_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), OtherSite)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def city(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[dict]:
    with committed_data(django_db_blocker):
        building(
            source="t",
            source_id="1",
            street="Harbor Street",
            housenumber="7",
            geom=MultiPolygon(rectangle(30, 30), srid=4326),
        )
        _, token = user_create_or_update(username="cors-operator", role=Role.OPERATOR)
        yield {"operator": token}


@pytest.fixture(scope="module")
def base_url(city: dict) -> Iterator[str]:
    with live_server() as url:
        yield url


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "open_"),
    [
        ("/tiles/", True),
        ("/tiles/buildings.json", True),
        ("/ogc/collections", True),
        ("/ogc/collections/buildings/items", True),
        ("/ogc/collections/nope", True),  # a refusal is readable too
        ("/api/appeals", False),
        ("/api/search?q=Harbor", False),
        ("/admin/", False),
    ],
)
def test_cross_origin_headers_are_where_maps_read_and_nowhere_else(client, path, open_):
    """Also asks for ``db``: without a test that does, pytest-django makes no test database."""
    response = client.get(path, HTTP_ORIGIN=OTHER_ORIGIN)
    assert (response.get("Access-Control-Allow-Origin") == "*") is open_
    assert "Access-Control-Allow-Credentials" not in response


SCRIPT = """
async ([base, token, tile]) => {
  const answer = async (path, init) => {
    try {
      const r = await fetch(base + path, init);
      const type = r.headers.get("content-type") || "";
      const size = (await r.arrayBuffer()).byteLength;
      return {status: r.status, type, size};
    } catch (e) {
      return {blocked: String(e)};
    }
  };
  const auth = {headers: {Authorization: "Token " + token}};
  return {
    tilejson: await answer("/tiles/buildings.json"),
    catalog: await answer("/tiles/"),
    tile: await answer(tile),
    ogc: await answer("/ogc/collections/buildings/items?limit=5"),
    staff_ogc: await answer("/ogc/collections/networks/items?limit=5", auth),
    staff_tile: await answer("/tiles/networks.json", auth),
    rest: await answer("/api/appeals", auth),
  };
}
"""


def test_a_map_on_another_origin_reads_tiles_tilejson_and_ogc(browser: Browser, base_url, city):
    x, y = lonlat_to_tile(CITY_LON + 0.0002, CITY_LAT + 0.0002, Z)
    page = browser.new_page()
    with other_site() as origin:
        page.goto(f"{origin}/map.html")
        tile = f"/tiles/buildings/{Z}/{x}/{y}.mvt"
        got = page.evaluate(SCRIPT, [base_url, city["operator"], tile])
    page.close()
    assert got["tilejson"]["status"] == 200 and got["catalog"]["status"] == 200
    assert got["tile"]["status"] == 200 and got["tile"]["size"] > 0
    assert got["ogc"]["status"] == 200 and "geo+json" in got["ogc"]["type"]
    # A token sent by the other site's script: the preflight lets it through, the role decides.
    assert got["staff_ogc"]["status"] == 200 and got["staff_tile"]["status"] == 200
    # The REST API answers our own pages only: the browser withholds it from another origin.
    assert "blocked" in got["rest"]
