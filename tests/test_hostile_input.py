"""Input an attacker or a broken client sends gets a clear 4xx, never a 500 (issue #18 §4).

Each case answered 500 with a traceback in the log before; the anonymous ones needed no token.
"""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator

from gis.roles import Role
from gis.services import user_create_or_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> dict[str, str]:
    _, token = user_create_or_update(username="hostile-operator", role=Role.OPERATOR)
    return {"HTTP_AUTHORIZATION": f"Token {token}"}


def post_json(client, path: str, body: str, **headers):
    return client.post(path, body, content_type="application/json", **headers)


def assert_clear_4xx(response, *statuses: int) -> None:
    assert response.status_code in (statuses or range(400, 500)), response.content[:300]
    if response["Content-Type"].startswith("application/json"):
        assert "error" in response.json() or "errors" in response.content.decode()


# --- POST /api/within, anonymous -----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"type": "Polygon", "coordinates": []},
        {"type": "Polygon", "coordinates": None},
        {"type": "Polygon", "coordinates": "POLYGON((0 0,1 0,1 1,0 0))"},
        {"type": "Polygon", "coordinates": [["a", "b"]]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0]]]},
        {"type": "Polygon", "coordinates": [[[1e400, 0], [1, 0], [1, 1], [1e400, 0]]]},
        {"type": "MultiPolygon", "coordinates": []},
        {"type": "MultiPolygon", "coordinates": [[]]},
        {"type": "Feature", "geometry": None},
        {"type": "FeatureCollection", "features": [None]},
        {"type": "FeatureCollection", "features": "x"},
        [],
        "Polygon",
        None,
    ],
    ids=lambda b: json.dumps(b)[:40],
)
def test_within_with_broken_geojson_is_400(client, body):
    response = post_json(client, "/api/within", json.dumps(body))
    assert_clear_4xx(response, 400)


def test_within_with_a_form_body_is_a_clear_4xx(client):
    response = client.post("/api/within", {"type": "Polygon", "coordinates": "[]"})
    assert_clear_4xx(response, 400, 415)


# --- JSON nested 5,000 deep, on every JSON write ----------------------------------------------


def json_writes() -> list[tuple[str, str]]:
    """(method, path) of every operation in the OpenAPI schema that takes a JSON body."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if method in ("post", "put", "patch") and "application/json" in content:
                found.append((method, re.sub(r"\{[^}]+\}", "1", path)))
    return found


DEEP = "[" * 5000 + "]" * 5000


def test_the_schema_lists_json_writes():
    writes = json_writes()
    assert ("post", "/api/within") in writes and ("post", "/api/appeals") in writes
    assert len(writes) > 15


@pytest.mark.parametrize(("method", "path"), json_writes())
def test_json_nested_5000_deep_is_a_4xx_on_every_json_write(client, operator, method, path):
    response = getattr(client, method)(path, DEEP, content_type="application/json", **operator)
    assert response.status_code < 500, (path, response.content[:300])


def test_json_nested_5000_deep_to_the_telegram_webhook_is_400(client, settings):
    settings.TELEGRAM_WEBHOOK_SECRET = "s3cret-path"
    response = post_json(client, "/api/intake/telegram/s3cret-path", DEEP)
    assert_clear_4xx(response, 400)


# --- NUL bytes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/open311/v2/requests/%00.json",
        "/open311/v2/requests.json?service_code=%00",
        "/open311/v2/requests.json?status=%00",
        "/open311/v2/requests.json?service_request_id=%00",
        "/open311/v2/requests.json?start_date=%00",
        "/open311/v2/services/%00.json",
        "/open311/v2/services.json?jurisdiction_id=%00",
        "/api/appeals?category=%00",
        "/api/appeals?status=%00",
        "/api/appeals?q=%00",
        "/api/search?q=ab%00cd",
        "/api/problems/repeated?category=%00",
    ],
)
def test_a_nul_byte_anywhere_is_a_4xx_or_an_answer_never_a_500(client, operator, path):
    response = client.get(path, **operator)
    assert response.status_code < 500, response.content[:300]


def test_a_nul_byte_in_an_open311_post_field_is_a_spec_error_naming_it(client):
    response = client.post(
        "/open311/v2/requests.json",
        {"api_key": "x", "service_code": "pothole", "description": "a\x00b"},
    )
    assert response.status_code == 400
    assert response.json() == [{"code": 400, "description": "A NUL byte (%00) in description."}]


def test_a_nul_byte_in_a_query_names_the_parameter(client, operator):
    response = client.get("/api/appeals?category=%00", **operator)
    assert response.status_code == 400
    assert response.json()["error"]["parameter"] == "category"


# --- dates at the edge of the calendar ------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "from=9999-12-01&to=9999-12-31",
        "from=0001-01-01&to=0001-01-02",
        "from=0001-01-01&to=9999-12-31",
        "from=2026-01-01&to=2025-01-01",
    ],
)
def test_dashboard_at_the_edges_of_the_calendar_is_400_or_an_answer(client, operator, query):
    for path in ("/api/dashboard", "/api/dashboard/districts"):
        response = client.get(f"{path}?{query}", **operator)
        assert response.status_code in (200, 400), (path, response.content[:300])


# --- nothing unanswered is HTML -------------------------------------------------------------


def api_routes() -> list[str]:
    """Every URL pattern under /api/ without parameters (the parameterised ones are above)."""
    found: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                if "<" not in route and "(" not in route and route.startswith("api/"):
                    found.append("/" + route.replace("^", "").replace("$", ""))

    walk(get_resolver().url_patterns, "")
    return sorted(set(found))


@pytest.mark.parametrize("path", api_routes())
def test_garbage_query_parameters_never_make_a_500(client, operator, path):
    response = client.get(f"{path}?from=%00&to=x&limit=1e999&offset=-1&bbox=a,b,c,d", **operator)
    assert response.status_code < 500, (path, response.content[:300])


def test_a_nul_byte_in_an_open311_xml_path_is_the_specs_xml_error_list(client):
    # Refused by the middleware before any view: the appeals app says how Open311 writes errors.
    response = client.get("/open311/v2/requests.xml?status=%00")
    assert response.status_code == 400
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    error = ElementTree.fromstring(response.content).find("error")
    assert error.findtext("code") == "400"
    assert error.findtext("description") == "A NUL byte (%00) in status."
