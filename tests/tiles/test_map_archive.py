"""The map in headless Chromium reads the public layers from the PMTiles archive, or live tiles."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.gis.geos import LineString, MultiPolygon
from django.db import connection
from django.test import override_settings
from playwright.sync_api import Browser, Page, Request, Route
from pytest_django import DjangoDbBlocker

from gis.roles import Role
from gis.services import user_create_or_update
from layers.models import Street
from tests.factories import CITY_LAT, CITY_LON, building, rectangle
from tests.live_server import (
    IGNORE_STATIC_STREAMING,
    collect_errors,
    committed_data,
    live_server,
    new_page,
    wait_map_idle,
)
from tiles.services import tiles_export_public

pytestmark = [pytest.mark.browser, IGNORE_STATIC_STREAMING]

ARCHIVE_PATH = "/tiles/public.pmtiles"
# A live tile: /tiles/{layers}/{z}/{x}/{y}.pbf (the TileJSON's template).
LIVE_TILE = re.compile(r"^/tiles/(?P<layers>[^/]+)/\d+/\d+/\d+\.(?:pbf|mvt)$")
HERE = f"#16/{CITY_LAT}/{CITY_LON}"


@pytest.mark.django_db
def test_runs_on_the_test_database() -> None:
    assert connection.settings_dict["NAME"].startswith("test_")


@pytest.fixture(scope="module")
def data(
    django_db_setup: None,
    django_db_blocker: DjangoDbBlocker,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict]:
    """A few houses on a street, committed, and the archive exported from them (z13–16)."""
    archive = tmp_path_factory.mktemp("archive") / "public.pmtiles"
    settings = override_settings(
        PMTILES_PATH=archive, PMTILES_MINZOOM=13, PMTILES_MAXZOOM=16, PMTILES_LAYERS=[]
    )
    settings.enable()
    try:
        with committed_data(django_db_blocker):
            for i in range(6):
                building(
                    geom=MultiPolygon(
                        rectangle(25, 18, lon=CITY_LON + i * 0.0005, lat=CITY_LAT), srid=4326
                    ),
                    street="Eastern Avenue",
                    housenumber=str(100 + 2 * i),
                    kind="house",
                )
            Street.objects.create(
                name="Eastern Avenue",
                kind="primary",
                geom=LineString(
                    (CITY_LON - 0.001, CITY_LAT - 0.0003),
                    (CITY_LON + 0.004, CITY_LAT - 0.0003),
                    srid=4326,
                ),
            )
            _, token = user_create_or_update(username="archive-operator", role=Role.OPERATOR)
            assert tiles_export_public().export is not None
            yield {"archive": archive, "operator": token}
    finally:
        settings.disable()


@pytest.fixture(scope="module")
def base_url(data: dict) -> Iterator[str]:
    with live_server() as url:
        yield url


@dataclass
class Seen:
    page: Page
    base_url: str
    errors: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)

    def script_errors(self) -> list[str]:
        """Errors but the browser's own line for each failed request (the archive's here)."""
        return [e for e in self.errors if not e.startswith("Failed to load resource")]

    def paths(self) -> list[str]:
        return [urlsplit(r.url).path for r in self.requests if r.url.startswith(self.base_url)]

    def archive_ranges(self) -> list[str]:
        """The Range headers of the requests for the archive."""
        return [
            r.headers.get("range", "")
            for r in self.requests
            if r.url.startswith(self.base_url) and urlsplit(r.url).path == ARCHIVE_PATH
        ]

    def live_tile_layers(self) -> set[str]:
        """The layers named by live tile requests (/tiles/{layers}/{z}/{x}/{y}.pbf)."""
        return {
            name
            for path in self.paths()
            if (found := LIVE_TILE.match(path))
            for name in found["layers"].split(",")
        }

    def sources_of(self, name: str) -> set[str]:
        """The style sources the style layers of a catalog layer draw from."""
        return set(
            self.page.evaluate(
                "(name) => window.citygisMap.getStyle().layers"
                ".filter((l) => l.metadata && l.metadata['citygis:layer'] === name)"
                ".map((l) => l.source)",
                name,
            )
        )

    def source_url(self, source: str) -> str:
        return self.page.evaluate(
            "(id) => window.citygisMap.getStyle().sources[id].url || ''", source
        )

    def rendered_houses(self) -> set[str]:
        return set(
            self.page.evaluate(
                "() => window.citygisMap.queryRenderedFeatures({layers: ['buildings-fill']})"
                ".map((f) => f.properties.housenumber)"
            )
        )

    def open(self, fragment: str = HERE) -> None:
        self.page.goto(f"{self.base_url}/{fragment}")
        wait_map_idle(self.page, "citygisMap")


def seen_page(browser: Browser, base_url: str, token: str | None = None) -> Seen:
    page = new_page(browser, token, base_url)
    seen = Seen(page=page, base_url=base_url)
    collect_errors(page, seen.errors)
    page.on("request", lambda request: seen.requests.append(request))
    return seen


@pytest.fixture
def public(browser: Browser, base_url: str) -> Iterator[Seen]:
    seen = seen_page(browser, base_url)
    yield seen
    seen.page.context.close()


def test_the_public_map_reads_the_public_layers_from_the_archive(public: Seen) -> None:
    public.open()

    assert public.errors == []
    assert public.sources_of("buildings") == {"archive"}
    assert public.sources_of("streets") == {"archive"}
    assert public.source_url("archive") == f"pmtiles://{public.base_url}{ARCHIVE_PATH}"
    assert public.rendered_houses() >= {"100", "102"}
    # Byte ranges of the one file, and no live tile at all: every public layer is in it.
    ranges = public.archive_ranges()
    assert ranges and all(re.fullmatch(r"bytes=\d+-\d+", r) for r in ranges)
    assert public.live_tile_layers() == set()
    assert not [p for p in public.paths() if p.startswith("/tiles/") and p.endswith(".json")]
    # The attribution, and when the data was read.
    attribution = public.page.locator(".maplibregl-ctrl-attrib").inner_text()
    assert "OpenStreetMap contributors" in attribution
    assert public.page.locator("#freshness").is_visible()


def test_an_archive_that_cannot_be_read_falls_back_to_the_live_tiles(public: Seen) -> None:
    def gone(route: Route) -> None:
        route.fulfill(status=404, content_type="application/json", body='{"error": {}}')

    public.page.route(f"{public.base_url}{ARCHIVE_PATH}", gone)
    public.open()

    assert public.archive_ranges()
    assert public.script_errors() == []
    assert public.sources_of("buildings") == {"public"}
    assert public.rendered_houses() >= {"100", "102"}
    assert {"buildings", "streets"} <= public.live_tile_layers()
    assert public.page.locator("#freshness").is_hidden()


def test_an_archive_lost_mid_visit_falls_back_to_the_live_tiles(public: Seen) -> None:
    public.open(f"#14/{CITY_LAT}/{CITY_LON}")
    assert public.sources_of("buildings") == {"archive"}
    assert public.live_tile_layers() == set()

    public.page.route(
        f"{public.base_url}{ARCHIVE_PATH}", lambda route: route.fulfill(status=503, body="")
    )
    # Tiles not read yet: their ranges now fail.
    public.page.evaluate(
        "([lon, lat]) => window.citygisMap.jumpTo({center: [lon, lat], zoom: 16})",
        [CITY_LON, CITY_LAT],
    )
    public.page.wait_for_function(
        "() => window.citygisMap.getStyle().layers"
        ".some((l) => l.id === 'buildings-fill' && l.source === 'public')",
        timeout=30_000,
    )
    wait_map_idle(public.page, "citygisMap")
    assert public.rendered_houses() >= {"100", "102"}
    assert "buildings" in public.live_tile_layers()
    assert public.script_errors() == []


def test_without_an_archive_the_map_reads_the_live_tiles(
    browser: Browser, base_url: str, data: dict
) -> None:
    archive: Path = data["archive"]
    aside = archive.with_suffix(".aside")
    archive.rename(aside)
    seen = seen_page(browser, base_url)
    try:
        seen.open()
        assert (
            seen.page.evaluate(
                "JSON.parse(document.getElementById('citygis-config').textContent).pmtiles"
            )
            is None
        )
        assert seen.sources_of("buildings") == {"public"}
        assert seen.archive_ranges() == []
        assert seen.rendered_houses() >= {"100", "102"}
        assert seen.errors == []
    finally:
        seen.page.context.close()
        aside.rename(archive)


def test_staff_read_every_layer_live(browser: Browser, base_url: str, data: dict) -> None:
    seen = seen_page(browser, base_url, token=data["operator"])
    try:
        seen.open()
        assert seen.sources_of("buildings") == {"public"}
        assert seen.sources_of("networks") == {"restricted"}
        assert seen.archive_ranges() == []
        assert seen.rendered_houses() >= {"100", "102"}
        assert seen.errors == []
    finally:
        seen.page.context.close()
