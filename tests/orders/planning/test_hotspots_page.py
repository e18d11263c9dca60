"""/planning/hotspots in headless Chromium, served by the real ASGI app: map, candidates, chart."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.test.utils import override_settings
from playwright.sync_api import Browser
from pytest_django import DjangoDbBlocker

from gis.roles import Role
from gis.services import user_create_or_update
from tests.live_server import (
    IGNORE_STATIC_STREAMING,
    asks_to_log_in,
    committed_data,
    live_server,
    open_page,
    screenshot,
    staff_page_shell,
    wait_map_idle,
)
from tests.orders.planning.conftest import breaks_make, days_ago

pytestmark = [
    pytest.mark.browser,
    IGNORE_STATIC_STREAMING,
]


@pytest.fixture(scope="module")
def city(
    django_db_setup: None, django_db_blocker: DjangoDbBlocker, tmp_path_factory
) -> Iterator[dict]:
    """The breaks fixture, a water density raster and an operator, committed for the server.

    Flushed after the module's last test, as transactional tests are.
    """
    media = tmp_path_factory.mktemp("media")
    # test_the_page_shell_holds_no_data asks for ``db``, so that the test database exists.
    with override_settings(MEDIA_ROOT=media), committed_data(django_db_blocker):
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


@pytest.fixture(scope="module")
def base_url(city: dict) -> Iterator[str]:
    with live_server() as url:
        yield url


@pytest.mark.django_db
def test_the_page_shell_holds_no_data_and_loads_nothing_from_outside(client) -> None:
    staff_page_shell(
        client, "/planning/hotspots", script="planning/hotspots.js", api="/api/networks/hotspots"
    )


def test_planners_see_clusters_candidates_and_the_chart(
    browser: Browser, base_url: str, city: dict
) -> None:
    page, seen = open_page(browser, base_url, "/planning/hotspots", city["operator"])
    assert page.evaluate("document.body.dataset.state") == "ready", page.inner_text("#status")
    # Default period, 3 years: every fixture break, the 2-year-old record at cluster A too.
    assert page.locator("#clusters li").count() == 2
    assert "Water: 6 breaks" in page.locator("#clusters li").first.inner_text()
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

    wait_map_idle(page, "hotspotsMap")
    drawn = page.evaluate(
        "() => window.hotspotsMap.queryRenderedFeatures({layers: ['hotspots-circle']})"
        ".map((f) => f.properties.incidents)"
    )
    assert sorted(drawn) == [3, 6]

    # Water only: the density raster of water breaks is drawn under the clusters.
    page.select_option("#kind", "water")
    page.click("#query button[type=submit]")
    page.wait_for_function("() => window.hotspotsMap.getLayer('density') !== undefined")
    wait_map_idle(page, "hotspotsMap")
    statuses = seen.last_status()
    raster = [u for u, s in statuses.items() if "/tiles/raster/density-water/" in u]
    assert raster and all(statuses[u] in (200, 204) for u in raster)
    assert any(statuses[u] == 200 for u in raster)

    screenshot(page, "hotspots.png")
    assert seen.errors == []
    assert seen.outside == []
    assert not [u for u, s in seen.last_status().items() if s >= 400]


def test_without_a_token_the_page_asks_for_one_and_shows_no_data(
    browser: Browser, base_url: str, city: dict
) -> None:
    page, seen = open_page(browser, base_url, "/planning/hotspots")
    asks_to_log_in(page, seen)
    assert seen.last_status()[f"{base_url}/api/networks/hotspots?eps_m=50&min_points=3&k=3"] == 401
