"""Issue #18 §1 in headless Chromium: what a contractor uploads or a resident types never runs.

An operator is logged in (the HttpOnly session the pages use). A restoration "document" that is
an HTML page with a script (stored before uploads were parsed: they cannot be stored now) is only
ever downloaded; every page runs under the Content-Security-Policy with no violation; script in a
street name or an appeal's text shows as text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import MultiPolygon
from django.core.files.base import ContentFile
from playwright.sync_api import Browser
from pytest_django import DjangoDbBlocker

from gis.roles import Role
from gis.services import user_create_or_update
from layers.models import Building, Organisation
from orders.permits.models import RestorationAct, RestorationDocument
from orders.permits.selectors import local_today
from orders.permits.services.issuing import permit_issue
from orders.permits.services.lifecycle import permit_start
from tests.factories import CITY_LAT, CITY_LON, rectangle
from tests.live_server import (
    IGNORE_STATIC_STREAMING,
    Seen,
    committed_data,
    live_server,
    new_page,
    wait_map_idle,
)
from tests.orders.permits.conftest import SYSTEM, site

pytestmark = [pytest.mark.browser, IGNORE_STATIC_STREAMING]

# What an attacker's page would do in an operator's browser: report that it ran, and try to read
# the session and call the API with it.
PAYLOAD = (
    "<html><body><script>"
    "fetch('/steal?ran=1&c=' + encodeURIComponent(document.cookie));"
    "fetch('/api/session').then(r => r.text()).then(t => fetch('/steal?who=' + t));"
    "</script><img src=x onerror=\"fetch('/steal?img=1')\"></body></html>"
)
HOSTILE_NAME = "<script>fetch('/steal?street=1')</script><img src=x onerror=fetch('/steal?i=1')>"


@pytest.fixture(scope="module")
def city(django_db_setup: None, django_db_blocker: DjangoDbBlocker, tmp_path_factory) -> Iterator:
    with committed_data(django_db_blocker):
        acme = Organisation.objects.create(name="Acme Digging", kind="contractor")
        today = local_today()
        permit = permit_issue(
            viewer=SYSTEM,
            contractor_id=acme.pk,
            geom=site(0),
            purpose="Repair a water main",
            responsible_person="Ivan Petrov",
            responsible_phone="+1 555 0100",
            address="10 Main Street",
            issued_on=today - timedelta(days=5),
            planned_start=today - timedelta(days=1),
            deadline=today + timedelta(days=10),
        ).permit
        permit_start(viewer=SYSTEM, permit_id=permit.pk)
        act = RestorationAct.objects.create(permit=permit, restored_on=today, text="done")
        document = RestorationDocument(act=act, kind="document", original_name="report.html")
        document.file.save("report.html", ContentFile(PAYLOAD.encode()), save=True)
        house = Building(
            source="t",
            source_id="x",
            street=HOSTILE_NAME,
            housenumber="1",
            geom=MultiPolygon(rectangle(30, 30), srid=4326),
        )
        house.refresh_search_key()
        house.save()
        _, operator = user_create_or_update(username="xss-operator", role=Role.OPERATOR)
        get_user_model().objects.create_superuser("chief", "chief@example.city", "chief-password")
        yield {
            "operator": operator,
            "document": f"/api/permits/{permit.pk}/restoration/documents/{document.pk}",
            "house": house.pk,
        }


@pytest.fixture(scope="module")
def base_url(city: dict) -> Iterator[str]:
    with live_server() as url:
        yield url


@pytest.mark.django_db
def test_runs_on_the_test_database() -> None:
    """Asks for ``db``, so that pytest-django makes the test database the module's data needs."""


def stolen(seen: Seen) -> list[str]:
    return [url for url, _ in seen.statuses if "/steal" in url]


def test_an_uploaded_html_document_is_downloaded_never_run(
    browser: Browser, base_url: str, city: dict
) -> None:
    page = new_page(browser, city["operator"], base_url)
    seen = Seen(page, base_url)
    try:
        page.goto(f"{base_url}/")
        with page.expect_download() as download:
            page.evaluate("(url) => { window.location.href = url; }", city["document"])
        assert download.value.suggested_filename == "report.bin"
        # Even fetched and shown by a page of ours, it would be a sandboxed document.
        headers = page.evaluate(
            "async (url) => Object.fromEntries((await fetch(url)).headers)", city["document"]
        )
        assert headers["content-type"] == "application/octet-stream"
        assert headers["content-disposition"].startswith("attachment")
        assert "sandbox" in headers["content-security-policy"]
        page.wait_for_timeout(500)
        assert stolen(seen) == []
        # The session is there, and out of every script's reach.
        assert page.evaluate("() => fetch('/api/session').then(r => r.json())")["authenticated"]
        assert "sessionid" not in page.evaluate("() => document.cookie")
    finally:
        page.context.close()


def test_script_in_a_street_name_shows_as_text_in_the_card_and_the_search(
    browser: Browser, base_url: str, city: dict
) -> None:
    page = new_page(browser, city["operator"], base_url)
    seen = Seen(page, base_url)
    try:
        page.goto(f"{base_url}/#18/{CITY_LAT + 0.00013}/{CITY_LON + 0.00017}")
        wait_map_idle(page, "citygisMap")
        page.mouse.click(640, 400)
        card = page.locator(".maplibregl-popup-content .card")
        card.wait_for()
        assert HOSTILE_NAME in card.inner_text()
        assert card.locator("script, img").count() == 0
        page.wait_for_timeout(300)
        assert stolen(seen) == []
        assert seen.errors == []
    finally:
        page.context.close()


PAGES = ["/", "/dashboard", "/planning/hotspots", "/ogc/?f=html", "/api/docs/", "/admin/login/"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_runs_under_the_content_security_policy_without_a_violation(
    browser: Browser, base_url: str, city: dict, path: str
) -> None:
    page = new_page(browser, city["operator"], base_url)
    seen = Seen(page, base_url)
    try:
        response = page.goto(f"{base_url}{path}")
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        page.wait_for_load_state("networkidle")
        assert [e for e in seen.errors if "Content Security Policy" in e] == []
        assert seen.outside == []
    finally:
        page.context.close()


def test_the_admin_map_widget_starts_without_inline_script(
    browser: Browser, base_url: str, city: dict
) -> None:
    page = new_page(browser)
    seen = Seen(page, base_url)
    try:
        page.goto(f"{base_url}/admin/login/")
        page.fill("#id_username", "chief")
        page.fill("#id_password", "chief-password")
        page.click("input[type=submit]")
        page.goto(f"{base_url}/admin/layers/building/{city['house']}/change/")
        page.wait_for_function("() => window.geodjango_geom && window.geodjango_geom.map")
        options = json.loads(page.locator(".dj_map_wrapper > script").text_content())
        assert options["id"] == "id_geom"
        assert [e for e in seen.errors if "Content Security Policy" in e] == []
        assert stolen(seen) == []
    finally:
        page.context.close()
