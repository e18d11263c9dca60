"""Every request: an id on its answer, JSON for an error no view caught, no NUL bytes."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from psycopg_pool import PoolTimeout

from gis.exceptions import ApplicationError, NulByte, error_body, nul_in

log = logging.getLogger("citygis.errors")

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
"""A request id a proxy sent along (X-Request-ID) is kept when it looks like one."""
UNAVAILABLE_RETRY_S = 5
DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout)
DOWN_HOLD_S = 1.0
"""After a request waited DB_POOL_TIMEOUT for a connection in vain, the next ones answer 503 at
once for this long (each would wait as long, holding a thread); then one tries again. A
connection that broke (PostgreSQL restarted under it) answers its own request 503 but holds
nothing: the pool drops it and the next request gets a new one."""


def no_connection(exc: BaseException) -> bool:
    """The pool had no connection to give (the database away, or every connection busy)."""
    return isinstance(exc, PoolTimeout) or isinstance(exc.__cause__, PoolTimeout)


class DatabaseState:
    """When a request last found the database away, shared by the threads of a process."""

    def __init__(self) -> None:
        self.down_until = 0.0

    def seen_down(self) -> None:
        self.down_until = time.monotonic() + DOWN_HOLD_S

    @property
    def known_down(self) -> bool:
        return time.monotonic() < self.down_until


DATABASE = DatabaseState()
ALWAYS_ASKED = ("/healthz",)  # it reports the outage itself
# What Django's own handler turns into a 4xx (django.core.handlers.exception).
CLIENT_ERRORS = (Http404, PermissionDenied, BadRequest, SuspiciousOperation, MultiPartParserError)


def request_id(request: HttpRequest) -> str:
    rid = getattr(request, "request_id", None)
    if rid is None:
        sent = request.headers.get("X-Request-ID", "")
        rid = sent if REQUEST_ID.match(sent) else uuid.uuid4().hex[:16]
        request.request_id = rid  # type: ignore[attr-defined]  # ours, kept for the request's life
    return rid


class RequestIdMiddleware:
    """Every answer carries X-Request-ID; an exception becomes a JSON 500 (503: no database).

    The traceback goes to the log under the same id, so an operator's report ("request
    3f2a…") finds it; the client never sees it, with DEBUG on or off.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = request_id(request)
        response: HttpResponse
        if DATABASE.known_down and request.path not in ALWAYS_ASKED:
            response = unavailable(rid)
        else:
            response = self.get_response(request)
        response["X-Request-ID"] = rid
        return response

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if isinstance(exc, CLIENT_ERRORS):
            return None  # Django answers these itself: 400, 403, 404
        return error_response(request, exc)


def unavailable_body(**extra: str) -> dict[str, Any]:
    """The 503 of a request that found the database away: Django's side and the tile front's."""
    return error_body(
        "The database is unavailable; try again shortly.", code="unavailable", **extra
    )


def unavailable(rid: str) -> JsonResponse:
    response = JsonResponse(unavailable_body(request_id=rid), status=503)
    response["Retry-After"] = str(UNAVAILABLE_RETRY_S)
    return response


def error_response(request: HttpRequest, exc: BaseException | None) -> JsonResponse:
    rid = request_id(request)
    if isinstance(exc, DATABASE_DOWN):
        if no_connection(exc):
            DATABASE.seen_down()
        log.warning(
            "request %s %s %s: database unavailable: %s", rid, request.method, request.path, exc
        )
        return unavailable(rid)
    if exc is not None:  # Django's handler500 has logged its own (django.request)
        log.error(
            "request %s %s %s failed",
            rid,
            request.method,
            request.path,
            exc_info=(type(exc), exc, exc.__traceback__),
        )
    return JsonResponse(
        error_body(
            f"Internal error; the operations centre can look it up as request {rid}.",
            code="server_error",
            request_id=rid,
        ),
        status=500,
    )


NUL = "\x00"

ErrorWriter = Callable[[HttpRequest, ApplicationError], HttpResponse]
ERROR_WRITERS: dict[str, ErrorWriter] = {}
"""Path prefix → how an error the middleware answers is written there, for an app whose spec has
a format of its own (Open311's list of errors, in the path's format)."""


def error_writer_register(prefix: str, writer: ErrorWriter) -> None:
    """How the errors under ``prefix`` are written: an app's ``AppConfig.ready()`` says it."""
    ERROR_WRITERS[prefix] = writer


def error_written(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    """An error answered before any view runs: in its app's format, else our JSON."""
    for prefix, writer in ERROR_WRITERS.items():
        if request.path.startswith(prefix):
            return writer(request, error)
    return JsonResponse(error.body(), status=int(error.status))


def nul_at(request: HttpRequest) -> str | None:
    """Where a NUL byte is: "path", or the query or form parameter that holds one; else None."""
    if NUL in request.path:
        return "path"
    if where := nul_in(request.GET.lists()):
        return where
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            return nul_in(request.POST.lists())
        except (SuspiciousOperation, MultiPartParserError):
            return None  # too large or malformed: the view answers that (413, 400)
    return None


class RejectNulMiddleware:
    """400 for a NUL byte anywhere a view would read text (JSON bodies: gis.parsers)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (where := nul_at(request)) is not None:
            return error_written(request, NulByte(where))
        return self.get_response(request)
