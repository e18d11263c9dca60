"""/dashboard in headless Chromium, served by the real ASGI app: figures, chart, map, updates."""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from django.db import connections
from django.test.utils import override_settings
from playwright.sync_api import Browser, Page
from pytest_django import DjangoDbBlocker

from orders.appeals.models import Appeal
from orders.appeals.services.registration import appeal_register
from tests.live_server import (
    IGNORE_STATIC_STREAMING,
    Seen,
    asks_to_log_in,
    committed_data,
    live_server,
    open_page,
    screenshot,
    staff_page_shell,
    wait_map_idle,
)
from tests.orders.operations.dashboard_set import FIRST, LAST, at, build_set

pytestmark = [
    pytest.mark.browser,
    IGNORE_STATIC_STREAMING,
]

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


@pytest.fixture(scope="module")
def city(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[dict]:
    """The hand-made set of dashboard_set.py, committed for the server; flushed afterwards.

    test_the_page_shell_holds_no_data asks for ``db``, so that the test database exists.
    """
    with committed_data(django_db_blocker):
        yield build_set()


@pytest.fixture(scope="module")
def base_url(city: dict) -> Iterator[str]:
    with override_settings(DASHBOARD_POLL_SECONDS=POLL_SECONDS), live_server() as url:
        yield url


@pytest.mark.django_db
def test_the_page_shell_holds_no_data_and_loads_nothing_from_outside(client) -> None:
    staff_page_shell(client, "/dashboard", script="operations/dashboard.js", api="/api/dashboard")


def dashboard_polls(seen: Seen) -> list[int]:
    """The statuses of the page's /api/dashboard requests."""
    return [s for u, s in seen.statuses if re.search(r"/api/dashboard\?", u)]


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
    page, seen = open_page(browser, base_url, f"/dashboard?{query}", city["operator"])
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

    wait_map_idle(page, "dashboardMap", tiles=False)
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

    screenshot(page, "dashboard.png")
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
    page, seen = open_page(browser, base_url, "/dashboard", city["operator"])  # the last 30 days
    assert page.evaluate("document.body.dataset.state") == "ready", page.inner_text("#status")
    before = int(
        page.evaluate("document.querySelector('[data-figure=\"received\"]').dataset.value")
    )
    version = page.evaluate("document.body.dataset.version")
    # Unchanged appeals: the polls are answered 304.
    page.wait_for_timeout(POLL_SECONDS * 2500)
    assert 304 in dashboard_polls(seen)
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
    page, seen = open_page(browser, base_url, "/dashboard")
    asks_to_log_in(page, seen)
    assert page.evaluate("window.dashboardData") is None
    assert dashboard_polls(seen) == [401]


def test_a_new_repeated_place_shows_up_without_a_reload(
    browser: Browser, base_url: str, city: dict, django_db_blocker: DjangoDbBlocker
) -> None:
    """Three appeals about one unlinked spot become a repeated problem on the open dashboard."""
    page, _ = open_page(browser, base_url, "/dashboard", city["operator"])
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
