"""Strict input: an undocumented query parameter is a 400 naming it, an oversized body a 413.

Each operation's query parameters are read from the OpenAPI schema (drf-spectacular builds it
once per process, on the first request with a query string), so the documented list and the
accepted list are one: a new parameter is documented, or it is refused. Bodies are checked by
their serializers (``gis.exceptions.validated``), and by size here before a byte is read: an
API view takes ``max_body_bytes`` at most (``settings.MAX_BODY_BYTES`` when it does not say).
The Open311 endpoints keep the GeoReport spec's own rules, and paths the schema does not
describe (tiles, the admin) are left to their views.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from gis.exceptions import RENDERER_SWITCH, error_body, unknown_message

OPEN311_PREFIX = "/open311/"
QUERY_PARAMETER = "query parameter"


@dataclass(frozen=True)
class Operation:
    template: str
    path: re.Pattern[str]
    method: str
    parameters: frozenset[str]


def _path_pattern(template: str) -> re.Pattern[str]:
    """``/api/appeals/{id}`` as a pattern matching ``/api/appeals/12``."""
    return re.compile("^" + re.sub(r"\\\{[^\\}]+\\\}", "[^/]+", re.escape(template)) + "$")


@cache
def documented_operations() -> tuple[Operation, ...]:
    """Every operation of the schema but Open311's; literal paths before templated ones."""
    from drf_spectacular.generators import SchemaGenerator  # it reads the URLconf: not at import

    schema = SchemaGenerator().get_schema(request=None, public=True)
    templates = sorted(
        (path for path in schema["paths"] if not path.startswith(OPEN311_PREFIX)),
        key=lambda path: path.count("{"),
    )
    return tuple(
        Operation(
            template=template,
            path=_path_pattern(template),
            method=method.upper(),
            parameters=frozenset(
                p["name"] for p in operation.get("parameters", ()) if p["in"] == "query"
            ),
        )
        for template in templates
        for method, operation in schema["paths"][template].items()
    )


def undocumented(method: str, path: str, names: Iterable[str]) -> tuple[list[str], list[str]]:
    """The ``names`` the operation at ``method path`` does not document, and those it does.

    Two empty lists when no documented operation is there: its view answers as it will (404, 405).
    """
    method = "GET" if method == "HEAD" else method
    for operation in documented_operations():
        if operation.method == method and operation.path.match(path):
            unknown = [
                name
                for name in names
                if name not in operation.parameters and name != RENDERER_SWITCH
            ]
            return unknown, sorted(operation.parameters)
    return [], []


def body_limit(view_func: Callable[..., HttpResponse]) -> int | None:
    """The most bytes a request body to this API view may have; None for a page (the admin)."""
    view_class = getattr(view_func, "cls", None)  # DRF's APIView.as_view() sets it
    if view_class is None:
        return None
    return getattr(view_class, "max_body_bytes", settings.MAX_BODY_BYTES)


class StrictInputMiddleware:
    """400 for a query parameter the operation does not document, 413 for an oversized body.

    An undocumented parameter would be ignored; a body's size is told by Content-Length, so it
    is refused before a byte of it is read.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.GET and request.method != "OPTIONS":
            unknown, known = undocumented(request.method or "GET", request.path_info, request.GET)
            if unknown:
                message = unknown_message(unknown, QUERY_PARAMETER)
                body = error_body(message, code="bad_query", unknown=unknown, known=known)
                return JsonResponse(body, status=400)
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., HttpResponse], *args: object
    ) -> HttpResponse | None:
        limit = body_limit(view_func)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django's own parsing answers a malformed length
        if limit is not None and length > limit:
            message = f"The request body is {length:,} bytes; this endpoint takes {limit:,}."
            return JsonResponse(error_body(message, code="too_large", limit=limit), status=413)
        return None
