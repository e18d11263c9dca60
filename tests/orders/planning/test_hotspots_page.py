"""/planning/hotspots in headless Chromium, served by the real ASGI app: map, candidates, chart."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
import uvicorn
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.test.utils import override_settings
from playwright.sync_api import Browser, Page, sync_playwright
from pytest_django import DjangoDbBlocker

from gis.asgi import application
from gis.roles import Role
from gis.services import user_create_or_update
from tests.orders.planning.conftest import breaks_make, days_ago
from tiles import selectors as tile_selectors

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous"),
]

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
# As tests/tiles/test_map_page.py: Debian's Chromium, never a downloaded one; WebGL in software.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]
VIEWPORT = {"width": 1280, "height": 800}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def city(
    django_db_setup: None, django_db_blocker: DjangoDbBlocker, tmp_path_factory
) -> Iterator[dict]:
    """The breaks fixture, a water density raster and an operator, committed for the server.

    Flushed after the module's last test, as transactional tests are.
    """
    media = tmp_path_factory.mktemp("media")
    with override_settings(MEDIA_ROOT=media), django_db_blocker.unblock():
        # pytest-django creates the test database only when a collected test asks for ``db``
        # (test_the_page_shell_holds_no_data does); without one this would write to, and flush,
        # the real database.
        name = connections["default"].settings_dict["NAME"]
        assert name.startswith("test_"), f"refusing to load fixtures into database {name!r}"
        try:
            made = breaks_make()
            call_command(
                "export_density",
                str(media / "water.tif"),
                "--kind",
                "water",
                "--since",
                days_ago(1000).isoformat(),
                stdout=StringIO(),
            )
            _, token = user_create_or_update(username="hotspots-operator", role=Role.OPERATOR)
            yield {"operator": token, "segment": made["a"].name}
        finally:
            call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(scope="module")
def base_url(city: dict) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    for _ in range(200):
        if server.started or not thread.is_alive():
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(sync_to_async(connections.close_all)(), loop).result(10)
        server.should_exit = True
        thread.join(10)
        loop.close()
        application.local.clear()
        tile_selectors.forget_bounds()


@pytest.fixture(scope="module")
def browser(base_url: str) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.mark.django_db
def test_the_page_shell_holds_no_data_and_loads_nothing_from_outside(client) -> None:
    response = client.get("/planning/hotspots")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<script src="/static/vendor/maplibre-gl.js">' in html
    assert 'src="/static/planning/hotspots.js"' in html
    assert "/api/networks/hotspots" in html  # in the config, fetched with the token
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', html)


class Seen:
    def __init__(self, page: Page, base_url: str) -> None:
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.statuses: dict[str, int] = {}
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        # Our origin only; blob: and data: URLs are the browser's own (MapLibre's images).
        page.on(
            "request",
            lambda r: (
                self.outside.append(r.url)
                if r.url.startswith(("http:", "https:")) and not r.url.startswith(base_url)
                else None
            ),
        )
        page.on("response", lambda r: self.statuses.__setitem__(r.url, r.status))


def open_page(browser: Browser, base_url: str, token: str | None) -> tuple[Page, Seen]:
    context = browser.new_context(viewport=VIEWPORT)
    if token:
        context.add_init_script(f"localStorage.setItem('citygis.token', '{token}')")
    page = context.new_page()
    seen = Seen(page, base_url)
    page.goto(f"{base_url}/planning/hotspots")
    page.wait_for_function(
        "() => ['ready', 'login', 'error'].includes(document.body.dataset.state)", timeout=30_000
    )
    return page, seen


def wait_map_idle(page: Page) -> None:
    page.wait_for_function(
        "() => { const m = window.hotspotsMap; return m && m.loaded() && !m.isMoving()"
        " && m.areTilesLoaded(); }",
        timeout=30_000,
    )
    page.evaluate(
        "() => new Promise((done) => { const m = window.hotspotsMap; m.once('idle', done);"
        " m.triggerRepaint(); })"
    )


def test_planners_see_clusters_candidates_and_the_chart(
    browser: Browser, base_url: str, city: dict
) -> None:
    page, seen = open_page(browser, base_url, city["operator"])
    assert page.evaluate("document.body.dataset.state") == "ready", page.inner_text("#status")
    # Default period, 3 years: every fixture break, the 2-year-old record at cluster A too.
    assert page.locator("#clusters li").count() == 2
    assert "water: 6 breaks" in page.locator("#clusters li").first.inner_text()
    candidates = page.locator("#candidates tbody tr")
    assert candidates.count() == 1
    assert city["segment"] in candidates.inner_text() and "Water Co" in candidates.inner_text()

    bars = page.locator("#chart svg rect.bar")
    assert bars.count() >= 5
    total = page.evaluate(
        "() => [...document.querySelectorAll('#chart rect.bar')]"
        ".reduce((n, r) => n + Number(r.dataset.count), 0)"
    )
    assert total == 13

    wait_map_idle(page)
    drawn = page.evaluate(
        "() => window.hotspotsMap.queryRenderedFeatures({layers: ['hotspots-circle']})"
        ".map((f) => f.properties.incidents)"
    )
    assert sorted(drawn) == [3, 6]

    # Water only: the density raster of water breaks is drawn under the clusters.
    page.select_option("#kind", "water")
    page.click("#query button[type=submit]")
    page.wait_for_function("() => window.hotspotsMap.getLayer('density') !== undefined")
    wait_map_idle(page)
    raster = [u for u, s in seen.statuses.items() if "/tiles/raster/density-water/" in u]
    assert raster and all(seen.statuses[u] in (200, 204) for u in raster)
    assert any(seen.statuses[u] == 200 for u in raster)

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "hotspots.png")
    assert seen.errors == []
    assert seen.outside == []
    assert not [u for u, s in seen.statuses.items() if s >= 400]


def test_without_a_token_the_page_asks_for_one_and_shows_no_data(
    browser: Browser, base_url: str, city: dict
) -> None:
    page, seen = open_page(browser, base_url, None)
    assert page.evaluate("document.body.dataset.state") == "login"
    assert page.locator("#login").is_visible()
    assert page.locator("#results").is_hidden()
    assert page.locator("#chart svg").count() == 0
    assert seen.outside == []
    assert seen.statuses[f"{base_url}/api/networks/hotspots?eps_m=50&min_points=3&k=3"] == 401
