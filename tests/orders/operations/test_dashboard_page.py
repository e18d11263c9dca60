"""/dashboard in headless Chromium, served by the real ASGI app: figures, chart, map, updates."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
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
from orders.appeals.models import Appeal
from orders.appeals.services import appeal_register
from tests.orders.operations.dashboard_set import FIRST, LAST, at, build_set
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
POLL_SECONDS = 1
FIGURES = (
    "received",
    "done",
    "archived",
    "reopened",
    "open",
    "in_work",
    "overdue",
    "median_hours_to_close",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def city(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[dict]:
    """The hand-made set of dashboard_set.py, committed for the server; flushed afterwards."""
    with django_db_blocker.unblock():
        # pytest-django creates the test database only when a collected test asks for ``db``
        # (test_the_page_shell_holds_no_data does); without one this would write to, and flush,
        # the real database.
        name = connections["default"].settings_dict["NAME"]
        assert name.startswith("test_"), f"refusing to load fixtures into database {name!r}"
        try:
            yield build_set()
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
    with override_settings(DASHBOARD_POLL_SECONDS=POLL_SECONDS):
        thread.start()
        for _ in range(200):
            if server.started or not thread.is_alive():
                break
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            asyncio.run_coroutine_threadsafe(sync_to_async(connections.close_all)(), loop).result(
                10
            )
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
    response = client.get("/dashboard")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<script src="/static/vendor/maplibre-gl.js">' in html
    assert 'src="/static/operations/dashboard.js"' in html
    assert "/api/dashboard" in html  # in the config, fetched with the token
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', html)


class Seen:
    def __init__(self, page: Page, base_url: str) -> None:
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.statuses: list[tuple[str, int]] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on(
            "request",
            lambda r: (
                self.outside.append(r.url)
                if r.url.startswith(("http:", "https:")) and not r.url.startswith(base_url)
                else None
            ),
        )
        page.on("response", lambda r: self.statuses.append((r.url, r.status)))

    def dashboard(self) -> list[int]:
        return [s for u, s in self.statuses if re.search(r"/api/dashboard\?", u)]


def open_page(browser: Browser, base_url: str, token: str | None, query: str = "") -> tuple:
    context = browser.new_context(viewport=VIEWPORT)
    if token:
        context.add_init_script(f"localStorage.setItem('citygis.token', '{token}')")
    page = context.new_page()
    seen = Seen(page, base_url)
    page.goto(f"{base_url}/dashboard{query}")
    page.wait_for_function(
        "() => ['ready', 'login', 'error'].includes(document.body.dataset.state)", timeout=30_000
    )
    return page, seen


def api_get(base_url: str, token: str, path: str) -> dict:
    request = urllib.request.Request(
        f"{base_url}{path}", headers={"Authorization": f"Token {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def api(base_url: str, token: str, query: str) -> dict:
    return api_get(base_url, token, f"/api/dashboard?{query}")


def shown(page: Page) -> dict[str, str]:
    return page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('#figures dd')]"
        ".map((dd) => [dd.dataset.figure, dd.dataset.value]))"
    )


def expected(totals: dict) -> dict[str, str]:
    return {k: "" if totals[k] is None else str(totals[k]) for k in FIGURES}


def test_the_figures_chart_tables_and_map_match_the_api(
    browser: Browser, base_url: str, city: dict
) -> None:
    query = f"from={FIRST}&to={LAST}"
    page, seen = open_page(browser, base_url, city["operator"], f"?{query}")
    assert page.evaluate("document.body.dataset.state") == "ready", page.inner_text("#status")
    data = api(base_url, city["operator"], query)
    assert shown(page) == expected(data["totals"])
    assert page.inner_text('[data-figure="received"]') == "6"
    assert page.inner_text('[data-figure="overdue"]') == "3"

    bars = page.evaluate(
        "() => [...document.querySelectorAll('#chart rect.bar[data-day]')]"
        ".map((r) => [r.dataset.day, Number(r.dataset.count)])"
    )
    assert bars == [[d["day"], d["received"]] for d in data["series"]]
    assert bars[-1] == ["2026-01-11", 0]  # the zero day is drawn, as a zero bar
    done = page.evaluate(
        "() => [...document.querySelectorAll('#chart circle.done')]"
        ".map((c) => Number(c.dataset.count))"
    )
    assert done == [d["done"] for d in data["series"]]

    services = page.locator("#by-organisation tbody tr")
    assert services.count() == 2
    water = page.locator(f'#by-organisation tr[data-id="{city["water"]}"]')
    assert water.locator('[data-figure="received"]').inner_text() == "4"
    assert page.locator("#by-category tbody tr").count() == 2
    assert (
        page.locator('#by-district tr[data-id="none"] [data-figure="overdue"]').inner_text() == "1"
    )

    page.wait_for_function(
        "() => { const m = window.dashboardMap; return m && m.loaded() && !m.isMoving(); }",
        timeout=30_000,
    )
    page.evaluate(
        "() => new Promise((done) => { const m = window.dashboardMap; m.once('idle', done);"
        " m.triggerRepaint(); })"
    )
    drawn = page.evaluate(
        "() => window.dashboardMap.queryRenderedFeatures({layers: ['dashboard-districts-fill']})"
        ".map((f) => [f.properties.name, f.properties.overdue])"
    )
    assert sorted(set(map(tuple, drawn))) == [("East", 1), ("West", 1)]

    # The repeated problems, as GET /api/problems/repeated answers with its defaults.
    problems = api_get(base_url, city["operator"], "/api/problems/repeated")["problems"]
    assert problems["features"], "the set's appeals at one West spot make a repeated place"
    listed = page.evaluate(
        "() => [...document.querySelectorAll('#problems li')]"
        ".map((li) => Number(li.dataset.appeals))"
    )
    assert listed == [f["properties"]["appeals"] for f in problems["features"]][:15]
    first = problems["features"][0]["properties"]
    assert page.locator("#problems li").first.inner_text().startswith(first["label"])
    circles = page.evaluate(
        "() => window.dashboardMap.queryRenderedFeatures({layers: ['dashboard-problems-circle']})"
        ".map((f) => f.properties.appeals)"
    )
    assert set(circles) == {f["properties"]["appeals"] for f in problems["features"]}

    # Filtered by a district from the select: the figures are the district's.
    page.select_option("#district", str(city["west"]))
    version = page.evaluate("document.body.dataset.version")
    page.click("#query button[type=submit]")
    page.wait_for_function(f"() => document.body.dataset.version !== '{version}'")
    west = api(base_url, city["operator"], f"{query}&district={city['west']}")
    assert shown(page) == expected(west["totals"])
    assert page.inner_text('[data-figure="received"]') == "4"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "dashboard.png")
    assert seen.errors == []
    assert seen.outside == []
    assert not [(u, s) for u, s in seen.statuses if s >= 400]


def in_a_thread(write: Callable[[], object]) -> None:
    """Run a write through the services layer off this thread: Playwright's loop runs here."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            write()
        except BaseException as exc:  # re-raised in the test's thread
            failed.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    if failed:
        raise failed[0]


def test_a_new_appeal_shows_up_without_a_reload(
    browser: Browser, base_url: str, city: dict, django_db_blocker: DjangoDbBlocker
) -> None:
    page, seen = open_page(browser, base_url, city["operator"])  # the last 30 days
    assert page.evaluate("document.body.dataset.state") == "ready", page.inner_text("#status")
    before = int(
        page.evaluate("document.querySelector('[data-figure=\"received\"]').dataset.value")
    )
    version = page.evaluate("document.body.dataset.version")
    # Unchanged appeals: the polls are answered 304.
    page.wait_for_timeout(POLL_SECONDS * 2500)
    assert 304 in seen.dashboard()
    assert page.evaluate("document.body.dataset.version") == version

    page.evaluate("window.notReloaded = true")
    with django_db_blocker.unblock():
        in_a_thread(
            lambda: appeal_register(
                category=city["water_category"], channel=Appeal.Channel.WEB, point=at(-400, 20)
            )
        )
    page.wait_for_function(
        "(n) => document.querySelector('[data-figure=\"received\"]').dataset.value === n",
        arg=str(before + 1),
        timeout=15_000,
    )
    assert page.evaluate("window.notReloaded") is True
    today = api(base_url, city["operator"], "")
    assert shown(page) == expected(today["totals"])
    assert seen.errors == []


def test_without_a_token_the_page_asks_for_one_and_shows_no_data(
    browser: Browser, base_url: str, city: dict
) -> None:
    page, seen = open_page(browser, base_url, None)
    assert page.evaluate("document.body.dataset.state") == "login"
    assert page.locator("#login").is_visible()
    assert page.locator("#results").is_hidden()
    assert page.locator("#chart svg").count() == 0
    assert page.evaluate("window.dashboardData") is None
    assert seen.dashboard() == [401]
    assert seen.outside == []


def test_a_new_repeated_place_shows_up_without_a_reload(
    browser: Browser, base_url: str, city: dict, django_db_blocker: DjangoDbBlocker
) -> None:
    """Three appeals about one unlinked spot become a repeated problem on the open dashboard."""
    page, _ = open_page(browser, base_url, city["operator"])
    assert page.evaluate("document.body.dataset.state") == "ready", page.inner_text("#status")
    before = page.locator("#problems li[data-appeals]").count()
    page.evaluate("window.notReloaded = true")

    def three_appeals() -> None:
        for north_m in (0, 5, 10):
            appeal_register(
                category=city["water_category"],
                channel=Appeal.Channel.WEB,
                point=at(0, 2000 + north_m),
            )

    with django_db_blocker.unblock():
        in_a_thread(three_appeals)
    page.wait_for_function(
        "(n) => document.querySelectorAll('#problems li[data-appeals]').length === n",
        arg=before + 1,
        timeout=15_000,
    )
    assert page.evaluate("window.notReloaded") is True
    assert "3 unlinked appeals" in page.locator("#problems").inner_text()
