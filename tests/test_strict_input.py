"""Strict input: an unknown field or query parameter is a 400 naming it, never silently dropped.

Every operation the OpenAPI schema documents (Open311 aside: the GeoReport spec's rules) refuses
a query parameter it does not document, and every write refuses a body field it does not take.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from rest_framework import serializers

from gis.exceptions import unknown_fields
from gis.roles import Role
from gis.services import user_create_or_update
from gis.strict import OPEN311_PREFIX, documented_operations
from orders.appeals.models import Appeal
from orders.appeals.services.registration import categories_load
from tests.front import run_front

pytestmark = pytest.mark.django_db

OPERATIONS = documented_operations()


@pytest.fixture
def operator() -> dict[str, str]:
    token = user_create_or_update(username="strict", role=Role.OPERATOR)[1]
    return {"HTTP_AUTHORIZATION": f"Token {token}"}


def test_an_appeal_with_a_field_it_does_not_know_is_refused_and_not_made(client, operator):
    categories_load()
    body = {
        "category": "pothole",
        "address": "12 Main Street",
        "location": {"type": "Point", "coordinates": [-76.57, 39.28]},
    }
    response = client.post("/api/appeals", body, content_type="application/json", **operator)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == "Unknown field: location."
    assert error["unknown"] == ["location"] and "lon" in error["known"]
    assert not Appeal.objects.exists()


def test_a_nested_unknown_field_is_named_with_its_path():
    class Item(serializers.Serializer):
        yard = serializers.IntegerField()

    class Plan(serializers.Serializer):
        year = serializers.IntegerField()
        first = Item()
        items = Item(many=True)
        number = serializers.CharField(read_only=True)

    body = {"year": 1, "first": {"yard": 1, "kind": 2}, "items": [{"yard": 1}, {"colour": 3}]}
    assert unknown_fields(Plan(data=body), {**body, "number": "x", "yaer": 2}) == [
        "first.kind",
        "items.1.colour",
        "number",
        "yaer",
    ]


def test_a_field_only_the_answer_carries_is_not_taken_either(client, operator):
    categories_load()
    body = {"category": "pothole", "address": "12 Main Street", "number": "A-1"}
    response = client.post("/api/appeals", body, content_type="application/json", **operator)
    assert response.status_code == 400
    assert response.json()["error"]["unknown"] == ["number"]


@pytest.mark.parametrize(
    "operation",
    [o for o in OPERATIONS if o.method == "GET"],
    ids=lambda o: f"{o.method} {o.template}",
)
def test_every_documented_read_refuses_an_unknown_query_parameter(client, operator, operation):
    path = re.sub(r"\{[^}]+\}", "1", operation.template)  # any id: refused before the lookup
    response = client.get(f"{path}?colour=red", **operator)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "bad_query" and error["unknown"] == ["colour"]
    assert error["known"] == sorted(operation.parameters)


def test_every_list_and_write_is_covered():
    """The schema's lists and writes are what the middleware reads: none is missed."""
    templates = {o.template for o in OPERATIONS}
    lists = {
        "/api/appeals",
        "/api/permits",
        "/api/claims",
        "/ogc/collections/{collection_id}/items",
    }
    assert lists <= templates
    assert not any(t.startswith(OPEN311_PREFIX) for t in templates)


def test_open311_keeps_the_specs_rules(client):
    response = client.get("/open311/v2/services.json?colour=red")
    assert response.status_code == 200


def test_the_format_switch_of_the_browsable_api_is_not_a_parameter(client):
    response = client.get("/api/appeals/categories?format=json")
    assert response.status_code == 200


def test_search_at_the_asgi_front_refuses_an_unknown_parameter_as_django_does(client):
    from layers.asgi import JSON_ROUTES

    async def django_stand_in(scope, receive, send):
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    paths = ("/api/search?q=Main&colour=red", "/api/nearby?lon=0&lat=0&colour=red")

    async def scenario(http, server):
        return [await http.get(path) for path in paths]

    front = run_front(scenario, app=django_stand_in, json_routes=JSON_ROUTES)
    for answer, path in zip(front, paths, strict=True):
        assert answer.status_code == 400
        assert answer.json()["error"]["unknown"] == ["colour"]
        assert answer.json()["error"]["message"] == "Unknown query parameter: colour."
        django = client.get(path)
        assert django.status_code == 400 and django.json() == answer.json()


@pytest.mark.parametrize(
    ("path", "size", "status"),
    [
        ("/api/appeals", 300 * 1024, 413),  # over the default MAX_BODY_BYTES
        ("/api/within", 300 * 1024, 400),  # an area may be larger: read, then found not JSON
        ("/api/within", 3 * 1024 * 1024, 413),
    ],
)
def test_each_endpoint_takes_a_body_up_to_its_own_limit(client, operator, path, size, status):
    response = client.post(path, "x" * size, content_type="application/json", **operator)
    assert response.status_code == status, response.content
    if status == 413:
        assert response.json()["error"]["code"] == "too_large"


def test_a_restoration_upload_may_be_larger_than_a_json_body():
    from orders.permits.api.restoration import RestorationApi

    assert RestorationApi.max_body_bytes > 10 * 1024 * 1024 > settings.MAX_BODY_BYTES
