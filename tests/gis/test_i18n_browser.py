"""Issue #14 §4 in headless Chromium: the pages in the browser's language.

A browser that asks for Russian gets a Russian map and dashboard, their scripts' text included
(Django's JavaScript catalog, under our CSP), and the language switch changes the page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date

import pytest
from playwright.sync_api import Browser, Page
from pytest_django import DjangoDbBlocker

from tests.live_server import (
    IGNORE_STATIC_STREAMING,
    VIEWPORT,
    Seen,
    committed_data,
    live_server,
    log_in,
)
from tests.orders.operations.dashboard_set import FIRST, LAST, build_set

pytestmark = [pytest.mark.browser, IGNORE_STATIC_STREAMING]


@pytest.fixture(scope="module")
def city(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[dict]:
    with committed_data(django_db_blocker):
        yield build_set()


@pytest.fixture(scope="module")
def base_url(city: dict) -> Iterator[str]:
    with live_server() as url:
        yield url


@pytest.mark.django_db
def test_the_scripts_catalog_is_a_script_in_the_language_asked_for(client) -> None:
    """Django's catalog for gettext() in our scripts; asking for ``db`` makes the test database."""
    answer = client.get("/i18n/js", headers={"accept-language": "ru"})
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/javascript")
    assert json.dumps("Обращений нет.") in answer.content.decode()


def russian_page(browser: Browser, base_url: str, token: str | None = None) -> tuple[Page, Seen]:
    """A page in a browser whose language is Russian (Accept-Language: ru-RU)."""
    context = browser.new_context(viewport=VIEWPORT, locale="ru-RU")
    if token:
        log_in(context, base_url, token)
    page = context.new_page()
    return page, Seen(page, base_url)


def test_the_dashboard_speaks_russian_scripts_included(browser: Browser, base_url, city):
    page, seen = russian_page(browser, base_url, city["operator"])
    page.goto(f"{base_url}/dashboard?from={FIRST}&to={LAST}")
    page.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=30_000)
    assert page.evaluate("document.documentElement.lang") == "ru"
    assert page.locator("h1").inner_text() == "Сводка обращений"
    # Written by dashboard.js from the catalog: the tables' heads, the period, the status line.
    assert page.locator("#by-organisation th").first.inner_text() == "Служба"
    assert page.locator("#by-district th").nth(1).inner_text() == "Пост."
    period = page.locator("#period").inner_text()
    first, last = date.fromisoformat(FIRST), date.fromisoformat(LAST)
    assert period == f"с {first:%d.%m.%Y} по {last:%d.%m.%Y}", period
    assert re.match(
        r"Обновлено в \d\d:\d\d:\d\d; проверка каждые \d+ с\.", page.inner_text("#status")
    )
    assert seen.errors == [] and seen.outside == []
    page.context.close()


def test_the_map_lists_its_layers_in_russian_and_switches_to_kazakh(browser: Browser, base_url):
    page, seen = russian_page(browser, base_url)
    page.goto(f"{base_url}/")
    page.wait_for_selector("#layer-list li", timeout=30_000)
    layers = page.locator("#layer-list").inner_text()
    assert "Здания" in layers and "Дворы" in layers and "Buildings" not in layers
    assert page.locator("#login button[type=submit]").inner_text() == "Войти"
    # The switch: pick Kazakh, the page comes back in Kazakh and keeps it.
    with page.expect_navigation():
        page.select_option("#language", "kk")
    page.wait_for_selector("#layer-list li", timeout=30_000)
    assert page.evaluate("document.documentElement.lang") == "kk"
    assert "Ғимараттар" in page.locator("#layer-list").inner_text()
    page.reload()
    assert page.locator("#login button[type=submit]").inner_text() == "Кіру"
    assert seen.errors == [] and seen.outside == []
    page.context.close()
