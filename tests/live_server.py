"""The real ASGI app under uvicorn in a thread, and Debian's Chromium, for the browser tests.

A pytest plugin (tests/conftest.py lists it): its ``browser`` fixture starts after the module's
own ``base_url`` fixture, which commits the module's data (``demo_city``, or its own) and serves it
with ``live_server()``.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path

import pytest
import uvicorn
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from pytest_django import DjangoDbBlocker

from gis.roles import Role
from gis.services import user_create_or_update
from layers.models import Building, NetworkSegment, Yard

# Debian's Chromium, never a downloaded one.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # No GPU in the test machine: WebGL through SwiftShader.
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]
VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
# gis/asgi.py silences this for WhiteNoise's static files; pytest resets warning filters.
IGNORE_STATIC_STREAMING = pytest.mark.filterwarnings(
    "ignore:StreamingHttpResponse must consume synchronous"
)


# --- the data and the server -----------------------------------------------------------------


@contextmanager
def committed_data(django_db_blocker: DjangoDbBlocker) -> Iterator[None]:
    """Writes inside are committed, for the server's connections; flushed at the end.

    Flushed as after a transactional test. pytest-django creates the test database only when a
    collected test asks for ``db``: without one this would write to, and flush, the real one.
    """
    with django_db_blocker.unblock():
        name = connections["default"].settings_dict["NAME"]
        assert name.startswith("test_"), f"refusing to load fixtures into database {name!r}"
        try:
            yield
        finally:
            call_command("flush", interactive=False, verbosity=0, stdout=StringIO())


@pytest.fixture(scope="module")
def demo_city(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[dict]:
    """The demo city (``load_demo``) and an operator token, committed for a live server.

    A few places in it, read before any browser starts (with Playwright's sync API running,
    Django refuses queries in tests). Flushed after the module's last test, as transactional
    tests are.
    """
    if not Path(settings.DEMO_OSM_FILE).is_file():
        pytest.skip(f"demo extract missing: {settings.DEMO_OSM_FILE}")
    # pytest-django makes the test database only when a collected test asks for `db`: a module
    # using this has one (test_runs_on_the_test_database).
    with committed_data(django_db_blocker):
        call_command("load_demo", stdout=StringIO(), stderr=StringIO())
        _, token = user_create_or_update(username="map-operator", role=Role.OPERATOR)
        yard = Yard.objects.order_by("pk").first().geom.point_on_surface
        network = NetworkSegment.objects.order_by("pk").first().geom.interpolate_normalized(0.5)
        tall = next(
            b.geom.point_on_surface
            for b in Building.objects.filter(render_height_m__isnull=False).order_by("pk")
            if b.geom.geom_type != "Point"
        )
        yield {
            "operator": token,
            "yard": (yard.x, yard.y),
            "network": (network.x, network.y),
            "tall": (tall.x, tall.y),
        }


@pytest.fixture(scope="module")
def demo_url(demo_city: dict) -> Iterator[str]:
    """The demo city served by the real ASGI app (``live_server``), for the module."""
    with live_server() as url:
        yield url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_server() -> Iterator[str]:
    """gis.asgi.application (tiles in front of Django) under uvicorn in a background thread."""
    from gis.asgi import application  # builds the app: only when a test serves it
    from tiles import selectors as tile_selectors

    port = free_port()
    # lifespan on: at shutdown the tile server closes its database pool and LISTEN connection.
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
        # Close the connections of whatever ran in asgiref's thread there, so that the test
        # database can be dropped.
        asyncio.run_coroutine_threadsafe(sync_to_async(connections.close_all)(), loop).result(10)
        server.should_exit = True
        thread.join(10)
        loop.close()
        # The app is a module-level singleton: leave no tiles or bounds of this data behind.
        application.local.clear()
        tile_selectors.forget_bounds()


# --- the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(base_url: str) -> Iterator[Browser]:
    """Chromium, started after the module's server and data and so closed before them.

    Django refuses queries while Playwright's sync API has its event loop in this thread.
    """
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


def new_page(browser: Browser, token: str | None = None, base_url: str | None = None) -> Page:
    """A page in a context of its own (close ``page.context``), logged in with the token if given.

    The login is the pages' own (POST /api/session with the CSRF cookie): the context then holds
    the HttpOnly session cookie, as a browser that logged in on the map does.
    """
    context = browser.new_context(viewport=VIEWPORT)
    if token:
        log_in(context, base_url, token)
    return context.new_page()


def log_in(context: BrowserContext, base_url: str | None, token: str) -> None:
    """Open a browser session for ``context`` with an API token, as the login form does."""
    assert base_url, "log_in needs the server's base URL"
    assert context.request.get(f"{base_url}/api/session").ok
    csrf = next(c["value"] for c in context.cookies(base_url) if c["name"] == "csrftoken")
    answer = context.request.post(
        f"{base_url}/api/session",
        data={"token": token},
        headers={"X-CSRFToken": csrf, "Referer": f"{base_url}/"},
    )
    assert answer.ok, answer.text()


def collect_errors(page: Page, errors: list[str]) -> None:
    """Append the page's console errors and uncaught exceptions to ``errors``."""
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))


class Seen:
    """What a page saw: errors, requests outside our origin, every response's status."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.statuses: list[tuple[str, int]] = []
        collect_errors(page, self.errors)
        # Our origin only; blob: and data: URLs are the browser's own (MapLibre's images).
        page.on(
            "request",
            lambda r: (
                self.outside.append(r.url)
                if r.url.startswith(("http:", "https:")) and not r.url.startswith(base_url)
                else None
            ),
        )
        page.on("response", lambda r: self.statuses.append((r.url, r.status)))

    def last_status(self) -> dict[str, int]:
        """Each URL's latest status."""
        return dict(self.statuses)


def open_page(
    browser: Browser, base_url: str, path: str, token: str | None = None
) -> tuple[Page, Seen]:
    """A page that says in ``body[data-state]`` when it is done: ready, login or error."""
    page = new_page(browser, token, base_url)
    seen = Seen(page, base_url)
    page.goto(f"{base_url}{path}")
    page.wait_for_function(
        "() => ['ready', 'login', 'error'].includes(document.body.dataset.state)", timeout=30_000
    )
    return page, seen


def staff_page_shell(client: Client, path: str, *, script: str, api: str) -> str:
    """A staff page (gis/templates/gis/panel.html) as the server sends it, checked.

    No data in it (the API's URL only, fetched with the token), nothing from another origin.
    """
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<script src="/static/vendor/maplibre-gl.js">' in html
    assert f'src="/static/{script}"' in html
    assert api in html  # in the config
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', html)
    return html


def asks_to_log_in(page: Page, seen: Seen) -> None:
    """A staff page opened without a token: the login form; no results, chart or outside request."""
    assert page.evaluate("document.body.dataset.state") == "login"
    assert page.locator("#login").is_visible()
    assert page.locator("#results").is_hidden()
    assert page.locator("#chart svg").count() == 0
    assert seen.outside == []


def wait_map_idle(page: Page, name: str, *, tiles: bool = True) -> None:
    """Until the MapLibre map ``window[name]`` is loaded (tiles too) and still, and drawn once."""
    page.wait_for_function(
        "([name, tiles]) => { const m = window[name];"
        " return m && m.loaded() && !m.isMoving() && (!tiles || m.areTilesLoaded()); }",
        arg=[name, tiles],
        timeout=30_000,
    )
    page.evaluate(
        "(name) => new Promise((done) => {"
        " const m = window[name]; m.once('idle', done); m.triggerRepaint(); })",
        name,
    )


def screenshot(page: Page, name: str) -> None:
    """What the page shows, saved as var/screenshots/<name>."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name)
