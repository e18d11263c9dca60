"""The map's date control in headless Chromium: it changes which works are drawn."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from playwright.sync_api import Browser
from pytest_django import DjangoDbBlocker

from gis.roles import Role
from gis.services import user_create_or_update
from layers.models import Organisation
from tests.factories import CITY_LAT, CITY_LON
from tests.live_server import (
    IGNORE_STATIC_STREAMING,
    collect_errors,
    committed_data,
    live_server,
    new_page,
)
from tests.orders.operations.conftest import CONTRACTOR, OTHER_CONTRACTOR, make_works
from tests.orders.operations.test_works import key
from tests.tiles.test_map_page import MapPage

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    IGNORE_STATIC_STREAMING,
]


@pytest.mark.django_db
def test_runs_on_the_test_database() -> None:
    assert connection.settings_dict["NAME"].startswith("test_")


@pytest.fixture(scope="module")
def demo_city(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[dict]:
    """The works fixture and an operator token, committed for the server; flushed afterwards."""
    with committed_data(django_db_blocker):
        orgs = {
            "acme": Organisation.objects.create(name=CONTRACTOR, kind=Organisation.Kind.CONTRACTOR),
            "other": Organisation.objects.create(
                name=OTHER_CONTRACTOR, kind=Organisation.Kind.CONTRACTOR
            ),
            "water": Organisation.objects.create(
                name="Water service", kind=Organisation.Kind.SERVICE
            ),
        }
        make_works(orgs)
        _, token = user_create_or_update(username="works-operator", role=Role.OPERATOR)
        yield {"operator": token}


@pytest.fixture(scope="module")
def base_url(demo_city: dict) -> Iterator[str]:
    with live_server() as url:
        yield url


def drawn_works(map_page: MapPage) -> set[str]:
    features = map_page.page.evaluate(
        "(ids) => window.citygisMap.queryRenderedFeatures({layers: ids})"
        ".map((f) => ({properties: f.properties}))",
        map_page.style_layers("works"),
    )
    return {key(f) for f in features}


def test_the_date_control_changes_which_works_are_drawn(
    browser: Browser, base_url: str, demo_city: dict
) -> None:
    page = new_page(browser, demo_city["operator"], base_url)
    map_page = MapPage(page=page, base_url=base_url)
    collect_errors(page, map_page.errors)
    page.on("response", map_page.on_response)
    try:
        map_page.open(f"#16/{CITY_LAT + 0.001}/{CITY_LON + 0.0018}")
        control = page.locator("#works-day")
        assert control.is_visible()
        today = page.evaluate("() => new Date().toLocaleDateString('en-CA')")
        assert control.input_value() == today
        map_page.show_only("works")

        control.fill("2025-06-10")
        map_page.wait_idle()
        assert drawn_works(map_page) == {"P1", "P4", "P6", "Y1", "R1"}

        control.fill("2025-06-25")
        map_page.wait_idle()
        # P6 was restored on the 12th and R1 ended on the 11th; P2 started on the 13th.
        assert drawn_works(map_page) == {"P1", "P2", "P4", "Y1"}
        assert map_page.errors == []
        assert map_page.refused == []
    finally:
        page.context.close()


def test_the_public_has_no_date_control(browser: Browser, base_url: str) -> None:
    page = new_page(browser)
    try:
        map_page = MapPage(page=page, base_url=base_url)
        map_page.open()
        assert page.locator("#works-day").is_hidden()
        assert map_page.style_layers("works") == []
    finally:
        page.context.close()
