"""The OpenAPI schema is valid and every documented operation answers as it documents.

schemathesis generates requests from /api/schema/ (bounded examples per operation) and sends them
to the application in-process; the database is the real test PostGIS with a few objects in it.
Each answer must be no 5xx, a documented status, a documented content type, and match its
documented schema.

Then statefully: schemathesis follows the schema's links (each app's ``openapi.LINKS``) from
lists and creations to the objects they name, as an operator, a planner and a contractor, with
the same checks. Every operation that takes an id must answer something other than 404 at least
once, so none is tested only on objects that are not there.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from django.contrib.gis.geos import LineString, MultiLineString, MultiPolygon, Point, Polygon
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client, RequestFactory
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from gis import openapi
from gis.openapi import Link
from gis.roles import Role
from gis.services import user_create_or_update
from layers.models import (
    Building,
    NetworkKind,
    NetworkSegment,
    Organisation,
    SnowploughRoute,
    Yard,
)
from orders.appeals.models import Appeal, Callback, Category
from orders.appeals.services.intake import intake_receive
from orders.appeals.services.registration import appeal_register, categories_load
from orders.permits.demo import SYSTEM
from orders.permits.models import Claim
from orders.permits.services.lifecycle import permit_extension_request, permit_restoration_add
from orders.permits.services.sending import claims_send
from orders.permits.services.sweep import claims_create_overdue
from orders.planning.api import YardPlansApi
from tests.factories import overdue_permit, pdf_bytes

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())

LON, LAT = -76.57, 39.28
# Every hypothesis run here: repeatable, no time limit (a request may wait for PostGIS).
FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def keep_connection():
    """As Django's test client does: requests must not close the test's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def city(db, keep_connection):
    square = Polygon.from_bbox((LON, LAT, LON + 0.0005, LAT + 0.0005))
    square.srid = 4326
    house = Building(
        source="t", source_id="1", street="Main Street", housenumber="12", geom=MultiPolygon(square)
    )
    house.refresh_search_key()  # as importers do: the address search reads the keys
    house.save()
    Yard.objects.create(source="t", source_id="1", address="12 Main Street", geom=square)
    NetworkSegment.objects.create(
        source="t",
        source_id="1",
        kind=NetworkKind.WATER,
        geom=LineString((LON, LAT), (LON + 0.001, LAT), srid=4326),
    )
    SnowploughRoute.objects.create(
        source="t",
        source_id="1",
        name="Main Street",
        geom=MultiLineString(LineString((LON, LAT), (LON + 0.001, LAT)), srid=4326),
    )
    Building.objects.create(
        source="t",
        source_id="2",
        street="Point St",
        housenumber="1",
        geom=Point(LON, LAT, srid=4326),
    )
    return user_create_or_update(username="schemathesis", role=Role.OPERATOR)[1]


def test_schema_is_valid_openapi():
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


@pytest.mark.django_db
@schema.parametrize()
@settings(FUZZ, max_examples=30)
@pytest.mark.parametrize("as_operator", [False, True], ids=["public", "operator"])
def test_no_operation_answers_5xx(case, city, as_operator):
    headers = {"Authorization": f"Token {city}"} if as_operator else {}
    case.call_and_validate(headers=headers, checks=CHECKS)


# --- statefully, along the links -------------------------------------------------------------

# Operations with an id no answer names, by design: a confirmation token reaches the resident
# alone, the Telegram secret is the bot's configuration.
UNLINKED = {
    "api_appeals_confirm_retrieve",
    "api_appeals_confirm_create",
    "api_intake_telegram_create",
}


@pytest.fixture
def linked_city(city, settings, tmp_path):
    """One of each object the links lead to, and a token per role."""
    settings.MEDIA_ROOT = tmp_path / "media"
    categories_load()
    acme = Organisation.objects.create(
        name="Acme", kind=Organisation.Kind.CONTRACTOR, email="acme@example.org"
    )
    tokens = {
        "operator": city,
        "planner": user_create_or_update(username="st-planner", role=Role.PLANNER)[1],
        "contractor": user_create_or_update(
            username="st-acme", role=Role.CONTRACTOR, organisation_name="Acme"
        )[1],
    }
    today = timezone.localdate()
    # Away from the yard: a yard under an open permit is left out of the plan.
    work_area = Polygon.from_bbox((LON + 0.002, LAT, LON + 0.0022, LAT + 0.0002))
    work_area.srid = 4326
    permit = overdue_permit(contractor_id=acme.pk, geom=work_area)
    claims_create_overdue(now=timezone.now())
    claims_send(claim_ids=list(Claim.objects.values_list("pk", flat=True)))  # with their PDFs
    permit_extension_request(
        viewer=SYSTEM, permit_id=permit.pk, new_deadline=today + timedelta(days=9), reason="Rain"
    )
    permit_restoration_add(
        viewer=SYSTEM,
        permit_id=permit.pk,
        restored_on=today,
        text="Asphalt laid again",
        files=[SimpleUploadedFile("act.pdf", pdf_bytes(), content_type="application/pdf")],
    )
    appeal = appeal_register(
        category=Category.objects.get(code="pipe-burst"),
        channel=Appeal.Channel.PHONE,
        text="Water in the yard",
        point=Point(LON, LAT, srid=4326),
        resident_phone="+7 700 555 01 99",
    )
    now = timezone.now()
    Callback.objects.create(appeal=appeal, done_at=now, due_at=now)
    intake_receive(source="email", external_id="1", text="A pothole", point=Point(LON, LAT))
    # A RequestFactory's request sends no request signals: the test's connection stays open.
    answer = YardPlansApi.as_view()(
        RequestFactory().post(
            "/api/yards/plans",
            {"year": today.year + 1, "count": 1},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {tokens['planner']}",
        )
    )
    assert answer.status_code == 201, answer.data
    return tokens


def _operations() -> dict[str, Any]:
    return {
        operation.definition.raw["operationId"]: operation
        for operation in (result.ok() for result in schema.get_all_operations())
    }


def _links() -> list[tuple[str, dict[str, Any]]]:
    """(source operation, link) for every link of the schema, in the schema's order."""
    return [
        (operation_id, link)
        for operation_id, operation in _operations().items()
        for status, response in operation.definition.raw["responses"].items()
        if status.startswith("2")
        for link in response.get("links", {}).values()
    ]


def _resolve(expression: str, path_parameters: dict[str, Any], body: Any) -> Any:
    """A link's runtime expression against one answer; None where the answer has no such value."""
    if expression.startswith("$request.path."):
        return path_parameters[expression.removeprefix("$request.path.")]
    value = body
    for part in expression.removeprefix("$response.body#/").split("/"):
        try:
            value = value[int(part)] if isinstance(value, list) else value[part]
        except (KeyError, IndexError, TypeError, ValueError):
            return None
    return value


def _example_query(operation) -> dict[str, Any]:
    """The documented example of each required query parameter: what a client would send."""
    query = {}
    for parameter in operation.query:
        if parameter.is_required:
            examples = parameter.definition.get("examples") or {}
            assert examples, f"{operation.label}: give the required {parameter.name} an example"
            query[parameter.name] = next(iter(examples.values()))["value"]
    return query


def _follow(operations, links, headers) -> dict[str, list[dict[str, Any]]]:
    """Path parameters of real objects per operation, read along the links from GET answers.

    Lists and details are asked as a client asks them (no optional parameters); what their
    answers name is asked in turn, three links deep.
    """
    reached: dict[str, list[dict[str, Any]]] = {
        name: [{}]
        for name, operation in operations.items()
        if operation.method.upper() == "GET" and not operation.path_parameters
    }
    for _ in range(3):
        answers: dict[str, Any] = {}  # a source's body, asked once a round for all its links
        for source, link in links:
            operation = operations[source]
            if operation.method.upper() != "GET" or not reached.get(source):
                continue
            path_parameters = reached[source][0]
            if source not in answers:
                case = operation.Case(
                    path_parameters=path_parameters, query=_example_query(operation)
                )
                response = case.call(headers=headers)
                answers[source] = response.json() if response.status_code == 200 else None
            body = answers[source]
            if body is None:
                continue
            values = {
                name: _resolve(expression, path_parameters, body)
                for name, expression in link["parameters"].items()
            }
            known = reached.setdefault(link["operationId"], [])
            if None not in values.values() and values not in known:
                known.append(values)
    return reached


def _fuzz_on(operation, path_parameters, headers, statuses: set[int]):
    """A hypothesis test of ``operation`` on one real object: generated query and body."""

    @given(case=operation.as_strategy())
    @settings(FUZZ, max_examples=5)
    def fuzz(case):
        case.path_parameters = dict(path_parameters)
        response = case.call(headers=headers)
        statuses.add(response.status_code)
        case.validate_response(response, checks=CHECKS)

    return fuzz


def test_links_lead_every_operation_with_an_id_to_real_objects(linked_city):
    """Every operation that takes an id is reached, along the links, on an object that is there."""
    operations, links = _operations(), _links()
    answered: dict[str, set[int]] = {}

    for token in linked_city.values():
        headers = {"Authorization": f"Token {token}"}
        for name, known in _follow(operations, links, headers).items():
            operation = operations[name]
            if not operation.path_parameters:
                continue
            for path_parameters in known[:2]:
                statuses = answered.setdefault(name, set())
                _fuzz_on(operation, path_parameters, headers, statuses)()

    with_ids = {name for name, op in operations.items() if op.path_parameters} - UNLINKED
    only_404 = sorted(name for name in with_ids if answered.get(name, {404}) <= {404})
    assert not only_404, f"reached only as 404, or not at all: {only_404}"


def test_the_fuzzer_follows_the_links_statefully(linked_city):
    """Schemathesis's state machine along the schema's links: the same checks, in sequences."""
    schema.config.phases.stateful.inference.algorithms = []  # the schema's own links only
    for token in linked_city.values():

        class Workflow(schema.as_state_machine()):
            def get_call_kwargs(self, case, token=token):
                return {"headers": {"Authorization": f"Token {token}"}}

            def validate_response(self, response, case, **kwargs):
                case.validate_response(response, checks=CHECKS)

        Workflow.run(settings=settings(FUZZ, max_examples=25, stateful_step_count=6))


@pytest.mark.parametrize(
    ("link", "refused"),
    [
        (Link("appeals_list", 200, "no_such_operation", {"id": "x"}), "names no operation"),
        (Link("appeals_list", 299, "appeals_detail", {"id": "x"}), "documents no 299"),
        (Link("appeals_list", 200, "appeals_detail", {"pk": "x"}), "takes ['id']"),
    ],
    ids=["unknown operation", "undocumented status", "wrong parameter"],
)
def test_a_link_that_names_nothing_stops_the_schema(monkeypatch, link, refused):
    monkeypatch.setattr(openapi, "_app_links", lambda: [link])
    with pytest.raises(ImproperlyConfigured, match=re.escape(refused)):
        call_command("spectacular", "--file", "/dev/null")


def test_a_permit_before_its_restoration_act_answers_as_documented(linked_city):
    """Found by schemathesis on the demo: the act is null until made, and the schema says so."""
    work_area = Polygon.from_bbox((LON + 0.004, LAT, LON + 0.0042, LAT + 0.0002))
    work_area.srid = 4326
    acme = Organisation.objects.get(name="Acme")
    permit = overdue_permit(contractor_id=acme.pk, geom=work_area)
    case = schema["/api/permits/{id}"]["GET"].Case(path_parameters={"id": permit.pk})
    headers = {"Authorization": f"Token {linked_city['operator']}"}
    response = case.call(headers=headers)
    assert response.status_code == 200
    assert response.json()["properties"]["restoration"] is None
    case.validate_response(response, checks=CHECKS)


@pytest.mark.parametrize(
    "path",
    [
        "/api/reports/departments?format=csv&from=not-a-date",
        "/api/networks/breaks-chart.svg?format=svg&since=not-a-date",
    ],
)
def test_an_error_answers_json_whatever_format_was_asked(city, path):
    """Found by schemathesis under load: a 429 of a CSV report came as CSV, of a chart as SVG."""
    response = Client().get(path, HTTP_AUTHORIZATION=f"Token {city}")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] in {"bad_query", "invalid"}
