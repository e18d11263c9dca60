"""Open311 GeoReport v2 under /open311/v2/: services are our categories, requests our appeals.

Every resource answers in the format its path ends with (``.json`` or ``.xml``), errors too, in
the spec's shape: ``[{"code": 400, "description": "…"}]`` or ``<errors><error>…</error></errors>``.
``service_request_id`` is the appeal's number; ``status`` is open or closed, and our own status
travels in ``extended_attributes.detailed_status``. Nothing personal ever leaves here: the
resident's name, phone and e-mail are taken on POST and never answered, and the description is
answered with e-mail addresses, phone numbers and the resident's name masked.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import validate_email
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from gis.exceptions import ApplicationError, TooManyRequests
from gis.links import absolute_url
from gis.throttling import request_ip, secret_checked
from orders.appeals import selectors
from orders.appeals.lifecycle import OPEN_STATUSES
from orders.appeals.models import Appeal, Category, IntegrationKey
from orders.appeals.services.registration import appeal_register

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = ("json", "xml")
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# When this API's discovery document last changed.
CHANGESET = "2026-11-25T00:00:00+00:00"
DEFAULT_WINDOW = timedelta(days=90)
MAX_REQUESTS = 1000
MAX_DESCRIPTION = 4000
MASK = "[redacted]"
TAG = "open311"
# XML names of the items of a list, by the list's name.
ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
}
STATUS_NOTES = {
    Appeal.Status.NEW: "Received; not yet assigned.",
    Appeal.Status.ASSIGNED: "Assigned to the responsible service.",
    Appeal.Status.IN_WORK: "The responsible service is working on it.",
    Appeal.Status.DONE: "Done; awaiting the resident's confirmation.",
    Appeal.Status.ARCHIVED: "Done and confirmed.",
    Appeal.Status.REOPENED: "Reopened: the fix did not hold.",
    Appeal.Status.REJECTED: "Closed: not a matter for the city.",
    Appeal.Status.DUPLICATE: "Closed as a duplicate of another request.",
}


class Open311Error(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


# --- no personal data ------------------------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w-])\+?\(?\d[\d\s().-]{5,}\d(?![\w-])")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def redact(text: str, *, names: tuple[str, ...] = ()) -> str:
    """The text with e-mail addresses, phone numbers (7+ digits) and the given names masked."""
    text = _EMAIL.sub(MASK, text)

    def phone(match: re.Match[str]) -> str:
        value = match.group(0)
        digits = sum(c.isdigit() for c in value)
        return MASK if digits >= 7 and not _ISO_DATE.fullmatch(value.strip()) else value

    text = _PHONE.sub(phone, text)
    for name in sorted({n.strip() for n in names if len(n.strip()) >= 3}, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", MASK, text, flags=re.IGNORECASE)
    return text


def _resident_names(appeal: Appeal) -> tuple[str, ...]:
    full = appeal.resident_name.strip()
    return (full, *full.split()) if full else ()


# --- shaping ---------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else None


def service_json(category: Category) -> dict[str, Any]:
    organisation = category.organisation.name if category.organisation else "the city"
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": (
            category.description
            or f"{category.name}: handled by {organisation} within {category.sla_hours:g} h."
        ),
        "metadata": False,
        "type": "realtime",
        "keywords": category.group,
        "group": category.group,
    }


def request_json(appeal: Appeal, *, now: datetime) -> dict[str, Any]:
    """One service request as the spec has it, plus our extended attributes; nothing personal."""
    return {
        "service_request_id": appeal.number,
        "status": "open" if appeal.status in OPEN_STATUSES else "closed",
        "status_notes": STATUS_NOTES.get(appeal.status, ""),
        "service_name": appeal.category.name,
        "service_code": appeal.category.code,
        "description": redact(appeal.text, names=_resident_names(appeal)),
        "agency_responsible": appeal.organisation.name if appeal.organisation else "",
        "service_notice": "",
        "requested_datetime": _iso(appeal.received_at),
        "updated_datetime": _iso(appeal.updated_at),
        "expected_datetime": _iso(appeal.sla_due),
        "address": appeal.address,
        "address_id": "",
        "zipcode": "",
        "lat": appeal.geom.y if appeal.geom else None,
        "long": appeal.geom.x if appeal.geom else None,
        "media_url": "",
        "extended_attributes": {
            "detailed_status": appeal.status,
            "overdue": appeal.is_overdue(now),
            "reopen_count": appeal.reopen_count,
            "duplicate_of": appeal.duplicate_of.number if appeal.duplicate_of else None,
        },
    }


def _xml_value(parent: ElementTree.Element, name: str, value: Any) -> None:
    element = ElementTree.SubElement(parent, name)
    if isinstance(value, dict):
        for key, item in value.items():
            _xml_value(element, key, item)
    elif isinstance(value, list | tuple):
        for item in value:
            _xml_value(element, ITEM_NAMES.get(name, "item"), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)


def to_xml(root: str, data: Any) -> bytes:
    """The spec's XML: a list under ``root`` (its items named by ``ITEM_NAMES``), or a dict."""
    element = ElementTree.Element(root)
    if isinstance(data, list):
        for item in data:
            _xml_value(element, ITEM_NAMES.get(root, "item"), item)
    else:
        for key, item in data.items():
            _xml_value(element, key, item)
    return ElementTree.tostring(element, encoding="utf-8", xml_declaration=True)


def answer(data: Any, fmt: str, *, root: str, status: int = 200) -> HttpResponse:
    if fmt == "xml":
        body = to_xml(root, data)
    else:
        body = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False).encode()
    return HttpResponse(body, status=status, content_type=CONTENT_TYPES[fmt])


def errors_answer(code: int, description: str, fmt: str) -> HttpResponse:
    """The spec's list of errors, of one error: what every Open311 error answers."""
    return answer([{"code": code, "description": description}], fmt, root="errors", status=code)


def error_answer(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    """An error answered before the view (gis.middleware), in the path's format."""
    fmt = "xml" if request.path.endswith(".xml") else "json"
    return errors_answer(int(error.status), error.message, fmt)


# --- views -----------------------------------------------------------------------------------


class FirstRenderer(BaseContentNegotiation):
    """The path names the format, so the Accept header never makes a 406."""

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        content_type = request.content_type.split(";")[0].strip().lower()
        return next((p for p in parsers if p.media_type == content_type), None)

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix=None):
        return renderers[0], renderers[0].media_type


class Open311View(APIView):
    """Anonymous (an api_key authorises a POST), answered in the path's format, errors too."""

    authentication_classes: list[type] = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = FirstRenderer

    def handle_exception(self, exc: Exception) -> HttpResponse:
        fmt = self.kwargs.get("fmt", "json")
        if isinstance(exc, Open311Error):
            code, description = exc.code, exc.description
        elif isinstance(exc, ApplicationError):
            code, description = int(exc.status), exc.message
        elif isinstance(exc, Http404):
            code, description = 404, "Not found."
        elif isinstance(exc, exceptions.APIException):
            code, description = exc.status_code, str(exc.detail)
        else:
            raise exc
        response = errors_answer(code, description, fmt)
        wait = getattr(exc, "retry_after", None) or getattr(exc, "wait", None)
        if code == 429 and wait:
            response["Retry-After"] = str(math.ceil(wait))
        return response


class DiscoveryApi(Open311View):
    @extend_schema(
        summary="Open311 service discovery",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT)},
        tags=[TAG],
    )
    def get(self, request: Request, fmt: str) -> HttpResponse:
        base = absolute_url(request, "/open311/v2/")
        changeset = CHANGESET
        data = {
            "changeset": changeset,
            "contact": "The city's operations centre.",
            "key_service": "Ask the operations centre for an api_key (manage.py appeals_key).",
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": base.rstrip("/"),
                    "changeset": changeset,
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        }
        return answer(data, fmt, root="discovery")


class ServicesApi(Open311View):
    @extend_schema(
        summary="Open311 services: our appeal categories",
        parameters=[OpenApiParameter("jurisdiction_id", OpenApiTypes.STR)],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT)},
        tags=[TAG],
    )
    def get(self, request: Request, fmt: str) -> HttpResponse:
        data = [service_json(c) for c in selectors.categories_active()]
        return answer(data, fmt, root="services")


class ServiceDefinitionApi(Open311View):
    @extend_schema(
        summary="Open311 service definition (no extra attributes are asked)",
        parameters=[OpenApiParameter("jurisdiction_id", OpenApiTypes.STR)],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT),
            404: OpenApiResponse(description="unknown service_code"),
        },
        tags=[TAG],
    )
    def get(self, request: Request, code: str, fmt: str) -> HttpResponse:
        category = selectors.category_by_code(code)
        if category is None:
            raise Open311Error(404, f"No service with service_code {code!r}.")
        return answer(
            {"service_code": category.code, "attributes": []}, fmt, root="service_definition"
        )


def _param(request: Request, name: str) -> str:
    """A parameter from the query string or the (form or JSON) body, as text."""
    value = request.query_params.get(name)
    if value is None and request.method == "POST":
        data = request.data
        value = data.get(name) if hasattr(data, "get") else None
    if value is None:
        return ""
    if not isinstance(value, str | int | float):
        raise Open311Error(400, f"{name} must be text.")
    return str(value).strip()


def _date_param(request: Request, name: str) -> datetime | None:
    raw = _param(request, name)
    if not raw:
        return None
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        raise Open311Error(400, f"{name} must be a W3C date-time, e.g. 2026-01-31T08:00:00Z.")
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if not 1900 <= value.year <= 2100:
        raise Open311Error(400, f"{name} must be between the years 1900 and 2100.")
    return value.astimezone(UTC)


def _float_param(request: Request, name: str, low: float, high: float) -> float | None:
    raw = _param(request, name)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} must be a number.") from None
    if not low <= value <= high:
        raise Open311Error(400, f"{name} must be within {low:g}…{high:g}.")
    return value


REQUESTS_PARAMETERS = [
    OpenApiParameter("service_request_id", OpenApiTypes.STR, description="comma list of ids"),
    OpenApiParameter("service_code", OpenApiTypes.STR, description="comma list of codes"),
    OpenApiParameter("start_date", OpenApiTypes.DATETIME),
    OpenApiParameter("end_date", OpenApiTypes.DATETIME),
    OpenApiParameter("status", OpenApiTypes.STR, description="open, closed, or both"),
    OpenApiParameter("jurisdiction_id", OpenApiTypes.STR),
]


class RequestsApi(Open311View):
    @extend_schema(
        summary="Open311 service requests (default: the last 90 days, at most 1000)",
        parameters=REQUESTS_PARAMETERS,
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT),
            400: OpenApiResponse(description="[{code, description}]"),
        },
        tags=[TAG],
    )
    def get(self, request: Request, fmt: str) -> HttpResponse:
        ids = [i for i in _param(request, "service_request_id").split(",") if i.strip()]
        codes = [c for c in _param(request, "service_code").split(",") if c.strip()]
        statuses = [s.strip() for s in _param(request, "status").split(",") if s.strip()]
        unknown = sorted(set(statuses) - {"open", "closed"})
        if unknown:
            raise Open311Error(400, "status must be open, closed, or both (comma separated).")
        start, end = _date_param(request, "start_date"), _date_param(request, "end_date")
        if start and end and start > end:
            raise Open311Error(400, "start_date is after end_date.")
        now = timezone.now()
        rows = selectors.open311_requests(
            ids=[i.strip() for i in ids],
            codes=[c.strip() for c in codes],
            statuses=statuses,
            start=start,
            end=end,
            now=now,
            window=DEFAULT_WINDOW,
        )[:MAX_REQUESTS]
        return answer(_requests(rows, now), fmt, root="service_requests")

    @extend_schema(
        summary="Open311: post a service request (api_key required); it becomes an appeal",
        request={
            "application/x-www-form-urlencoded": OpenApiTypes.OBJECT,
            "application/json": OpenApiTypes.OBJECT,
        },
        parameters=[
            OpenApiParameter(name, OpenApiTypes.STR, required=name in ("api_key", "service_code"))
            for name in (
                "api_key",
                "service_code",
                "address_string",
                "email",
                "first_name",
                "last_name",
                "phone",
                "description",
                "jurisdiction_id",
            )
        ]
        + [
            OpenApiParameter("lat", OpenApiTypes.DOUBLE),
            OpenApiParameter("long", OpenApiTypes.DOUBLE),
        ],
        responses={
            201: OpenApiResponse(OpenApiTypes.OBJECT),
            400: OpenApiResponse(description="[{code, description}]: a missing or bad field"),
            403: OpenApiResponse(description="[{code, description}]: a missing or bad api_key"),
        },
        tags=[TAG],
    )
    def post(self, request: Request, fmt: str) -> HttpResponse:
        try:
            with secret_checked(request_ip(request)):
                selectors.integration_key_check(
                    raw=_param(request, "api_key"), purpose=IntegrationKey.Purpose.OPEN311
                )
        except TooManyRequests:
            raise
        except ApplicationError:
            raise Open311Error(403, "api_key is missing or not valid.") from None
        code = _param(request, "service_code")
        if not code:
            raise Open311Error(400, "service_code is required.")
        category = selectors.category_by_code(code)
        if category is None:
            raise Open311Error(400, f"service_code {code!r} is not a service here.")
        lat = _float_param(request, "lat", -90, 90)
        lon = _float_param(request, "long", -180, 180)
        if (lat is None) != (lon is None):
            raise Open311Error(400, "lat and long go together.")
        address = _param(request, "address_string")
        if lat is None and not address:
            raise Open311Error(400, "A location is required: lat and long, or address_string.")
        if len(address) > 255:
            raise Open311Error(400, "address_string is longer than 255 characters.")
        description = _param(request, "description")
        if len(description) > MAX_DESCRIPTION:
            raise Open311Error(400, f"description is longer than {MAX_DESCRIPTION} characters.")
        email = _param(request, "email")
        if email:
            try:
                validate_email(email)
            except DjangoValidationError:
                raise Open311Error(400, "email is not a valid e-mail address.") from None
        name = " ".join(
            p for p in (_param(request, "first_name"), _param(request, "last_name")) if p
        )
        phone = _param(request, "phone")
        if len(name) > 255 or len(phone) > 64:
            raise Open311Error(400, "first_name, last_name or phone is too long.")
        appeal = appeal_register(
            category=category,
            channel=Appeal.Channel.OPEN311,
            text=description,
            address=address,
            point=Point(lon, lat, srid=4326) if lat is not None else None,
            resident_name=name,
            resident_phone=phone,
            resident_email=email,
            by_label="open311",
        )
        notice = f"Expected by {_iso(appeal.sla_due)}." if appeal.sla_due else ""
        data = [{"service_request_id": appeal.number, "service_notice": notice, "account_id": ""}]
        return answer(data, fmt, root="service_requests", status=201)


def _requests(rows: QuerySet[Appeal] | list[Appeal], now: datetime) -> list[dict[str, Any]]:
    return [request_json(a, now=now) for a in rows]


class RequestApi(Open311View):
    @extend_schema(
        summary="Open311: one service request",
        parameters=[OpenApiParameter("jurisdiction_id", OpenApiTypes.STR)],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT),
            404: OpenApiResponse(description="[{code, description}]"),
        },
        tags=[TAG],
    )
    def get(self, request: Request, service_request_id: str, fmt: str) -> HttpResponse:
        rows = list(selectors.open311_requests(ids=[service_request_id], now=timezone.now()))
        if not rows:
            raise Open311Error(404, f"No service request {service_request_id!r}.")
        return answer(_requests(rows, timezone.now()), fmt, root="service_requests")


class TokenApi(Open311View):
    @extend_schema(
        summary="Open311: the request id of a token (our tokens are the request ids themselves)",
        parameters=[OpenApiParameter("jurisdiction_id", OpenApiTypes.STR)],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT),
            404: OpenApiResponse(description="[{code, description}]"),
        },
        tags=[TAG],
    )
    def get(self, request: Request, token: str, fmt: str) -> HttpResponse:
        if not selectors.open311_requests(ids=[token], now=timezone.now()).exists():
            raise Open311Error(404, f"No service request for token {token!r}.")
        return answer([{"service_request_id": token, "token": token}], fmt, root="service_requests")
