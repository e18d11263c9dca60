"""The map at / in headless Chromium, served by the real ASGI app on the demo city."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection
from playwright.sync_api import Browser, Page, Request, Response

from layers.registry import LAYERS
from tests.live_server import (
    IGNORE_STATIC_STREAMING,
    collect_errors,
    new_page,
    screenshot,
    wait_map_idle,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    IGNORE_STATIC_STREAMING,
]

RESTRICTED = {name for name, spec in LAYERS.items() if not spec.is_public}
LON, LAT, _ = settings.MAP_CENTER


# --- the server ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_runs_on_the_test_database() -> None:
    assert connection.settings_dict["NAME"].startswith("test_")


@pytest.fixture(scope="module")
def base_url(demo_url: str) -> str:
    return demo_url


# --- the browser -----------------------------------------------------------------------------


@dataclass
class MapPage:
    """A page on our server and what it saw: console errors, failed and refused requests."""

    page: Page
    base_url: str
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    def ours(self, url: str) -> bool:
        return url.startswith(self.base_url)

    def on_request(self, request: Request) -> None:
        self.urls.append(request.url)

    def on_failed(self, request: Request) -> None:
        if self.ours(request.url):
            self.failed.append(f"{request.url}: {request.failure}")

    def on_response(self, response: Response) -> None:
        if self.ours(response.url) and response.status >= 400:
            self.refused.append(f"{response.status} {response.url}")

    def open(self, fragment: str = "") -> None:
        self.page.goto(f"{self.base_url}/{fragment}")
        self.wait_idle()

    def wait_idle(self) -> None:
        """Until the map has its style and tiles and stands still, and one frame is drawn."""
        wait_map_idle(self.page, "citygisMap")

    def jump(self, lon: float, lat: float, zoom: float) -> None:
        self.page.evaluate(
            "([lon, lat, zoom]) => window.citygisMap.jumpTo({center: [lon, lat], zoom})",
            [lon, lat, zoom],
        )
        self.wait_idle()

    def style_layers(self, name: str) -> list[str]:
        """The style layer ids that draw one catalog layer."""
        return self.page.evaluate(
            "(name) => window.citygisMap.getStyle().layers"
            ".filter((l) => l.metadata && l.metadata['citygis:layer'] === name)"
            ".map((l) => l.id)",
            name,
        )

    def rendered(self, name: str) -> list[dict]:
        """Properties of the features of a catalog layer drawn in the current view."""
        return self.page.evaluate(
            "(ids) => window.citygisMap.queryRenderedFeatures({layers: ids})"
            ".map((f) => f.properties)",
            self.style_layers(name),
        )

    def show_only(self, *names: str) -> None:
        """Untick every other layer: later layers (appeals, the yard plan) draw over these."""
        for box in self.page.locator("#layer-list input[data-layer]").all():
            if box.get_attribute("data-layer") in names:
                box.check()
            else:
                box.uncheck()
        self.wait_idle()

    def rendered_soon(self, name: str, timeout_s: float = 20.0) -> list[dict]:
        """Like rendered(), waiting for a slow tile on a loaded machine."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = self.rendered(name)
            if found or time.monotonic() > deadline:
                return found
            self.page.wait_for_timeout(250)
            self.wait_idle()

    def find_clickable(self, name: str, needs: tuple[str, ...] = ()) -> dict | None:
        """A point where a click hits a feature of this layer first (with these properties)."""
        return self.page.evaluate(
            """([name, needs]) => {
                const m = window.citygisMap;
                const ids = m.getStyle().layers
                    .filter((l) => l.metadata && l.metadata['citygis:layer']).map((l) => l.id);
                const {width, height} = m.getCanvas().getBoundingClientRect();
                const panel = document.getElementById('panel').getBoundingClientRect();
                for (let y = 60; y < height - 60; y += 9) {
                    for (let x = panel.right + 20; x < width - 80; x += 9) {
                        const [f] = m.queryRenderedFeatures([[x - 3, y - 3], [x + 3, y + 3]],
                                                            {layers: ids});
                        if (f && f.layer.metadata['citygis:layer'] === name
                                && needs.every((p) => f.properties[p])) {
                            return {x, y, properties: f.properties};
                        }
                    }
                }
                return null;
            }""",
            [name, list(needs)],
        )

    def restricted_requests(self) -> list[str]:
        """Our /tiles/ requests (TileJSON or tiles) that name a restricted layer."""
        found = []
        for url in self.urls:
            path = urlsplit(url).path
            if self.ours(url) and path.startswith("/tiles/"):
                names = path.removeprefix("/tiles/").split("/")[0].removesuffix(".json")
                if RESTRICTED & set(names.split(",")):
                    found.append(url)
        return found

    def log_in(self, token: str) -> None:
        self.page.click("#login summary")  # the token field sits under "…or an API token"
        self.page.fill("#token", token)
        self.page.click("#login button[type=submit]")


@pytest.fixture
def map_page(browser: Browser, base_url: str) -> Iterator[MapPage]:
    page = new_page(browser)
    seen = MapPage(page=page, base_url=base_url)
    collect_errors(page, seen.errors)
    page.on("request", seen.on_request)
    page.on("requestfailed", seen.on_failed)
    page.on("response", seen.on_response)
    yield seen
    page.context.close()


# --- the tests -------------------------------------------------------------------------------


def test_map_page_draws_the_public_city_from_our_own_tiles(map_page: MapPage) -> None:
    map_page.open(f"#16/{LAT}/{LON}")
    page = map_page.page

    assert map_page.errors == []
    assert map_page.failed == []
    assert map_page.refused == []
    # Nothing outside was asked for: no CDN, base map, glyphs or sprites.
    outside = [
        u for u in map_page.urls if not map_page.ours(u) and u.split(":")[0] in {"http", "https"}
    ]
    assert outside == []

    buildings = map_page.rendered("buildings")
    assert len(buildings) >= 10
    assert any(b.get("street") and b.get("housenumber") for b in buildings)
    assert map_page.rendered("streets")
    assert map_page.rendered("land")

    attribution = page.inner_text(".maplibregl-ctrl-attrib")
    assert "OpenStreetMap contributors" in attribution

    titles = page.locator("#layer-list label").all_inner_texts()
    assert [t.strip() for t in titles] == [spec.title for spec in LAYERS.values() if spec.is_public]
    assert page.locator("#layer-list input[data-layer=networks]").count() == 0
    assert map_page.restricted_requests() == []

    screenshot(page, "map.png")


def test_hash_follows_the_map_and_centre_comes_from_settings(map_page: MapPage) -> None:
    map_page.open()
    centre = map_page.page.evaluate(
        "() => { const c = window.citygisMap.getCenter();"
        " return [c.lng, c.lat, window.citygisMap.getZoom()]; }"
    )
    assert centre == pytest.approx([LON, LAT, settings.MAP_CENTER[2]], abs=1e-4)
    screenshot(map_page.page, "map-overview.png")
    map_page.jump(LON, LAT, 16)
    assert map_page.page.evaluate("() => location.hash").startswith("#16/")


def test_clicking_a_building_shows_its_card_with_the_address(map_page: MapPage) -> None:
    map_page.open(f"#17/{LAT}/{LON}")
    map_page.show_only("buildings", "streets", "land")
    map_page.rendered_soon("buildings")
    hit = map_page.find_clickable("buildings", needs=("street", "housenumber"))
    assert hit is not None, "no addressed building to click at the demo centre"

    map_page.page.mouse.click(hit["x"], hit["y"])
    card = map_page.page.locator(".maplibregl-popup-content .card")
    card.wait_for()
    text = card.text_content()
    assert "Buildings" in text
    assert hit["properties"]["street"] in text
    assert str(hit["properties"]["housenumber"]) in text
    assert "derived, not surveyed" not in text
    assert map_page.errors == []


def test_a_derived_yard_is_marked_derived_not_surveyed(map_page: MapPage, demo_city: dict) -> None:
    lon, lat = demo_city["yard"]
    map_page.open(f"#17/{lat}/{lon}")
    map_page.show_only("yards", "streets", "land")
    map_page.rendered_soon("yards")
    hit = map_page.find_clickable("yards")
    assert hit is not None, "no yard to click"

    map_page.page.mouse.click(hit["x"], hit["y"])
    card = map_page.page.locator(".maplibregl-popup-content .card")
    card.wait_for()
    assert "Yards" in card.text_content()
    assert card.locator(".derived").inner_text() == "derived, not surveyed"


def test_layer_toggle_hides_and_shows_a_layer(map_page: MapPage) -> None:
    map_page.open(f"#16/{LAT}/{LON}")
    assert map_page.rendered("buildings")

    map_page.page.uncheck("#layer-list input[data-layer=buildings]")
    map_page.wait_idle()
    assert map_page.rendered("buildings") == []

    map_page.page.check("#layer-list input[data-layer=buildings]")
    map_page.wait_idle()
    assert map_page.rendered("buildings")


def test_operator_token_adds_the_restricted_layers_and_log_out_removes_them(
    map_page: MapPage, demo_city: dict
) -> None:
    lon, lat = demo_city["network"]
    map_page.open(f"#16/{lat}/{lon}")
    page = map_page.page
    assert map_page.restricted_requests() == []

    map_page.log_in(demo_city["operator"])
    page.locator("#layer-list input[data-layer=networks]").wait_for()
    map_page.wait_idle()
    for name in RESTRICTED:
        assert page.locator(f"#layer-list input[data-layer={name}]").count() == 1
    assert page.locator("#login-error").is_hidden()
    # The restricted TileJSON and tiles answered (a request without the token gets 401).
    assert map_page.restricted_requests()
    assert map_page.refused == []
    networks = map_page.rendered_soon("networks")
    assert networks and all(n["kind"] for n in networks)
    screenshot(page, "map-operator.png")

    # The page holds no credential: the session cookie is HttpOnly, nothing is stored.
    assert "sessionid" not in page.evaluate("() => document.cookie")
    assert page.evaluate("() => localStorage.length + sessionStorage.length") == 0
    assert "Logged in as map-operator (operator)." in page.inner_text("#logged-in")
    # The session is kept: a reload still shows the operators' layers.
    page.reload()
    map_page.wait_idle()
    assert page.locator("#layer-list input[data-layer=networks]").count() == 1

    page.click("#logout")
    page.locator("#layer-list input[data-layer=networks]").wait_for(state="detached")
    asked = len(map_page.restricted_requests())
    map_page.jump(LON, LAT, 16)
    assert len(map_page.restricted_requests()) == asked
    assert map_page.style_layers("networks") == []
    assert page.evaluate("() => localStorage.getItem('citygis.token')") is None
    assert map_page.errors == []
    assert map_page.failed == []


def test_a_wrong_token_shows_a_clear_message(map_page: MapPage) -> None:
    map_page.open()
    map_page.log_in("0" * 40)
    error = map_page.page.locator("#login-error")
    error.wait_for()
    assert "not accepted" in error.inner_text()
    assert map_page.page.locator("#layer-list input[data-layer=networks]").count() == 0
    assert map_page.refused == [f"401 {map_page.base_url}/api/session"]
    assert map_page.restricted_requests() == []


def test_a_session_that_ended_shows_the_public_layers_and_the_login(map_page: MapPage) -> None:
    map_page.page.context.add_cookies(
        [{"name": "sessionid", "value": "ended" + "0" * 27, "url": map_page.base_url}]
    )
    map_page.open()
    assert map_page.page.locator("#layer-list input[data-layer=buildings]").count() == 1
    assert map_page.page.locator("#login").is_visible()
    assert map_page.restricted_requests() == []
    assert map_page.errors == []


def test_style_draws_appeals_only_when_the_catalog_lists_them(map_page: MapPage) -> None:
    map_page.open()
    layers = map_page.page.evaluate(
        """async () => {
            const {buildStyle, styleLayerIds} = await import('/static/citygis/style.js');
            const listed = (await (await fetch('/tiles/')).json()).layers;
            const catalog = {layers: listed.filter((l) => l.id !== 'appeals')};
            const appeal = {id: 'appeals', title: 'Appeals', geometry_type: 'Point',
                            public: false, minzoom: 10, maxzoom: 22};
            const without = buildStyle(catalog, {tilesUrl: '/tiles/'});
            const withAppeals = buildStyle({layers: [...catalog.layers, appeal]},
                                           {tilesUrl: '/tiles/'});
            const point = withAppeals.layers.find((l) => l.id === 'appeals-point');
            return {
                without: styleLayerIds(without, 'appeals'),
                with: styleLayerIds(withAppeals, 'appeals'),
                top: withAppeals.layers.at(-1).id,
                source: withAppeals.sources[point.source].url,
                colour: point.paint['circle-color'],
            };
        }"""
    )
    assert layers["without"] == []
    assert layers["with"] == ["appeals-fill", "appeals-point"]
    assert layers["top"] == "appeals-point"
    assert layers["source"] == "/tiles/appeals.json"
    colour = str(layers["colour"])
    assert "#d62828" in colour and "#2e9e44" in colour  # red in work, green done
    # Once the registry has an appeals layer, the live map draws it with the same hook.
    assert bool(map_page.style_layers("appeals")) == ("appeals" in LAYERS)
    assert map_page.errors == []


def test_3d_toggle_extrudes_buildings_by_their_height_and_back(
    map_page: MapPage, demo_city: dict
) -> None:
    lon, lat = demo_city["tall"]
    map_page.open(f"#17/{lat}/{lon}")
    page = map_page.page
    extrusions = (
        "() => window.citygisMap.getStyle().layers.filter((l) => l.type === 'fill-extrusion')"
        ".map((l) => [l.id, l.layout.visibility, l.metadata['citygis:layer']])"
    )
    assert page.evaluate(extrusions) == []
    assert "buildings-fill" in map_page.style_layers("buildings")

    page.check("#three-d")
    map_page.wait_idle()

    assert page.evaluate(extrusions) == [["buildings-3d", "visible", "buildings"]]
    assert "buildings-fill" not in map_page.style_layers("buildings")
    assert page.evaluate("() => window.citygisMap.getPitch()") == pytest.approx(50)
    extruded = page.evaluate(
        "() => window.citygisMap.queryRenderedFeatures({layers: ['buildings-3d']})"
        ".map((f) => f.properties)"
    )
    heights = [f["render_height_m"] for f in extruded if "render_height_m" in f]
    assert heights and all(h > 0 for h in heights)
    screenshot(page, "map-3d.png")

    # The layer toggle hides the extrusions too, and brings them back.
    page.uncheck("#layer-list input[data-layer=buildings]")
    map_page.wait_idle()
    assert map_page.rendered("buildings") == []
    page.check("#layer-list input[data-layer=buildings]")
    map_page.wait_idle()

    # Logging in rebuilds the style: it stays in 3D.
    map_page.log_in(demo_city["operator"])
    page.locator("#layer-list input[data-layer=networks]").wait_for()
    map_page.wait_idle()
    assert page.evaluate(extrusions) == [["buildings-3d", "visible", "buildings"]]

    page.uncheck("#three-d")
    map_page.wait_idle()
    assert page.evaluate(extrusions) == []
    assert "buildings-fill" in map_page.style_layers("buildings")
    assert page.evaluate("() => window.citygisMap.getPitch()") == pytest.approx(0)
    assert map_page.rendered("buildings")
    assert map_page.errors == []
