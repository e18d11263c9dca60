"""Open311 GeoReport v2: round trips in JSON and XML, the spec's errors, nothing personal."""

from __future__ import annotations

from datetime import datetime, timedelta
from xml.etree import ElementTree

import pytest
from django.utils import timezone

from orders.appeals.models import Appeal
from orders.appeals.open311 import redact
from orders.appeals.services.intake import integration_key_create
from orders.appeals.services.transitions import appeal_transition
from tests.orders.appeals.conftest import NETWORK_N, at

pytestmark = pytest.mark.django_db
BASE = "/open311/v2"
PERSONAL = ("Anna", "Smith", "anna@example.org", "410 555 0100", "4105550100")


@pytest.fixture
def api_key(categories) -> str:
    return integration_key_create(name="fixmystreet", purpose="open311")[1]


def xml(response) -> ElementTree.Element:
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    return ElementTree.fromstring(response.content)


def post_request(client, key: str, fmt: str = "json", **fields):
    where = at(0, NETWORK_N + 4)
    data = {
        "api_key": key,
        "service_code": "pipe-burst",
        "lat": str(where.y),
        "long": str(where.x),
        "description": "Water everywhere. Call Anna Smith at 410 555 0100 or anna@example.org",
        "first_name": "Anna",
        "last_name": "Smith",
        "email": "anna@example.org",
        "phone": "410-555-0100",
        **fields,
    }
    return client.post(f"{BASE}/requests.{fmt}", data)  # form-encoded, as the spec posts


def test_discovery_and_services_in_json_and_xml(client, categories):
    discovery = client.get(f"{BASE}/discovery.json").json()
    assert discovery["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert discovery["endpoints"][0]["url"] == "http://testserver/open311/v2"
    root = xml(client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.find("endpoints/endpoint/formats")] == [
        "text/xml",
        "application/json",
    ]
    services = client.get(f"{BASE}/services.json").json()
    codes = {s["service_code"] for s in services}
    assert {"pipe-burst", "pothole", "other"} <= codes
    pipe = next(s for s in services if s["service_code"] == "pipe-burst")
    assert pipe["metadata"] is False and pipe["type"] == "realtime" and pipe["group"] == "water"
    root = xml(client.get(f"{BASE}/services.xml"))
    assert root.tag == "services" and len(root.findall("service")) == len(services)
    assert root.find("service/metadata").text == "false"


def test_service_definition_and_its_404(client, categories):
    assert client.get(f"{BASE}/services/pothole.json").json() == {
        "service_code": "pothole",
        "attributes": [],
    }
    assert xml(client.get(f"{BASE}/services/pothole.xml")).tag == "service_definition"
    missing = client.get(f"{BASE}/services/castle.json")
    assert missing.status_code == 404
    assert missing.json() == [
        {"code": 404, "description": "No service with service_code 'castle'."}
    ]
    root = xml(client.get(f"{BASE}/services/castle.xml"))
    assert root.tag == "errors" and root.find("error/code").text == "404"


def test_post_json_round_trip_creates_an_appeal_through_the_same_service(client, api_key, city):
    response = post_request(client, api_key)
    assert response.status_code == 201, response.content
    (created,) = response.json()
    number = created["service_request_id"]
    appeal = Appeal.objects.get(number=number)
    assert appeal.channel == "open311" and appeal.resident_email == "anna@example.org"
    assert appeal.resident_name == "Anna Smith" and appeal.linked_id == city["pipe"].pk
    (request,) = client.get(f"{BASE}/requests/{number}.json").json()
    assert request["service_request_id"] == number
    assert request["status"] == "open"
    assert request["service_code"] == "pipe-burst"
    assert request["agency_responsible"] == "Water and sewer service (demo)"
    assert request["extended_attributes"]["detailed_status"] == "new"
    assert request["lat"] == pytest.approx(appeal.geom.y)
    assert datetime.fromisoformat(request["requested_datetime"]).tzinfo is not None
    assert client.get(f"{BASE}/tokens/{number}.json").json() == [
        {"service_request_id": number, "token": number}
    ]


def test_post_xml_round_trip_with_an_address(client, api_key, city):
    response = post_request(
        client, api_key, "xml", lat="", long="", address_string="12 Main Street, Baltimore"
    )
    assert response.status_code == 201, response.content
    number = xml(response).find("request/service_request_id").text
    root = xml(client.get(f"{BASE}/requests/{number}.xml"))
    assert root.tag == "service_requests"
    request = root.find("request")
    assert request.find("service_request_id").text == number
    assert request.find("address").text == "12 Main Street, Baltimore"
    assert request.find("extended_attributes/detailed_status").text == "new"
    assert float(request.find("lat").text) == pytest.approx(
        city["house"].geom.point_on_surface.y, abs=1e-4
    )
    token = xml(client.get(f"{BASE}/tokens/{number}.xml"))
    assert token.find("request/token").text == number


def test_requests_list_filters_and_maps_statuses(client, api_key, people, city):
    first = post_request(client, api_key).json()[0]["service_request_id"]
    second = post_request(
        client, api_key, service_code="pothole", lat=str(at(0, 5).y), long=str(at(0, 5).x)
    ).json()[0]["service_request_id"]
    appeal = Appeal.objects.get(number=second)
    for step in ("assigned", "in_work", "done"):
        appeal_transition(appeal_id=appeal.pk, to=step, by=people["operator"])
    old = post_request(client, api_key).json()[0]["service_request_id"]
    Appeal.objects.filter(number=old).update(received_at=timezone.now() - timedelta(days=200))

    def ids(query: str = "") -> list[str]:
        response = client.get(f"{BASE}/requests.json?{query}")
        assert response.status_code == 200, response.content
        return [r["service_request_id"] for r in response.json()]

    assert ids() == [second, first]  # the last 90 days by default, newest first
    assert ids("status=open") == [first]
    assert ids("status=closed") == [second]
    assert ids("status=open,closed") == [second, first]
    assert ids("service_code=pothole") == [second]
    assert ids(f"service_request_id={old},{first}") == [first, old]
    start = (timezone.now() - timedelta(days=300)).isoformat()
    assert ids(f"start_date={start}".replace("+", "%2B")) == [second, first, old]
    closed = client.get(f"{BASE}/requests.json?status=closed").json()[0]
    assert closed["extended_attributes"]["detailed_status"] == "done"
    root = xml(client.get(f"{BASE}/requests.xml?status=closed"))
    assert [r.find("status").text for r in root.findall("request")] == ["closed"]


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"api_key": ""}, 403, "api_key"),
        ({"api_key": "wrong"}, 403, "api_key"),
        ({"service_code": ""}, 400, "service_code is required"),
        ({"service_code": "castle"}, 400, "service_code"),
        ({"lat": "", "long": ""}, 400, "location is required"),
        ({"lat": "north"}, 400, "lat must be a number"),
        ({"lat": "95"}, 400, "lat must be within"),
        ({"long": ""}, 400, "lat and long go together"),
        ({"email": "not-an-address"}, 400, "email"),
        ({"description": "x" * 4001}, 400, "description"),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_errors_in_the_specs_format(client, api_key, city, change, code, words, fmt):
    response = post_request(client, api_key, fmt, **change)
    assert response.status_code == code
    if fmt == "json":
        (error,) = response.json()
        assert error["code"] == code and words in error["description"]
    else:
        root = xml(response)
        assert root.tag == "errors"
        assert root.find("error/code").text == str(code)
        assert words in root.find("error/description").text
    assert not Appeal.objects.exists()


@pytest.mark.parametrize(
    "query", ["status=pending", "start_date=yesterday", "end_date=2026-13-45T00:00:00"]
)
def test_get_errors_in_the_specs_format(client, categories, query):
    response = client.get(f"{BASE}/requests.json?{query}")
    assert response.status_code == 400
    assert response.json()[0]["code"] == 400
    assert client.get(f"{BASE}/requests/A-1999-000001.json").status_code == 404
    assert xml(client.get(f"{BASE}/tokens/nope.xml")).find("error/code").text == "404"


def test_a_broken_body_and_a_stray_token_header_are_spec_errors(client, api_key, categories):
    broken = client.post(f"{BASE}/requests.json", "{", content_type="application/json")
    assert broken.status_code == 400 and broken.json()[0]["code"] == 400
    assert client.get(f"{BASE}/services.json", HTTP_AUTHORIZATION="Token bad").status_code == 200
    wrong_method = client.delete(f"{BASE}/services.xml")
    assert wrong_method.status_code == 405 and xml(wrong_method).tag == "errors"


def test_open311_never_answers_names_phones_or_e_mails(client, api_key, city):
    number = post_request(client, api_key).json()[0]["service_request_id"]
    answers = [
        client.get(f"{BASE}/requests.json").content,
        client.get(f"{BASE}/requests.xml").content,
        client.get(f"{BASE}/requests/{number}.json").content,
        client.get(f"{BASE}/requests/{number}.xml").content,
        post_request(client, api_key, "xml").content,
    ]
    for body in answers:
        text = body.decode()
        for secret in PERSONAL:
            assert secret not in text, (secret, text)
    description = client.get(f"{BASE}/requests/{number}.json").json()[0]["description"]
    assert description == "Water everywhere. Call [redacted] at [redacted] or [redacted]"


def test_redact_keeps_addresses_and_dates():
    assert redact("1200 N Charles St, since 2026-01-05") == "1200 N Charles St, since 2026-01-05"
    assert redact("call +7 (727) 123-45-67!") == "call [redacted]!"
    assert (
        redact("Ivan Petrov wrote", names=("Ivan Petrov", "Ivan", "Petrov")) == "[redacted] wrote"
    )
