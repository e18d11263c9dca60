"""One error type for the domain, one handler that turns errors into JSON."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response


class ApplicationError(Exception):
    """A domain error a user can act on; ``status`` is the HTTP status it maps to."""

    status: int = status.HTTP_400_BAD_REQUEST
    code = "invalid"

    def __init__(self, message: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        """The JSON body every door answers this error with (``error_body``)."""
        return error_body(self.message, code=self.code, **self.extra)

    @property
    def headers(self) -> dict[str, str]:
        """Headers its answer carries (``Retry-After``, ``WWW-Authenticate`` …): none here."""
        return {}

    def response(self) -> JsonResponse:
        """The answer a plain Django view gives this error: its body, status and headers."""
        return JsonResponse(self.body(), status=self.status, headers=self.headers)


class BadInput(ApplicationError):
    """A request body the API cannot accept (400), its fields' reasons in ``extra``."""

    code = "invalid"


class NulByte(BadInput):
    """A NUL byte where text is read (PostgreSQL text cannot hold one), and where it is."""

    def __init__(self, where: str) -> None:
        where = where.replace("\x00", "\\0")
        super().__init__(f"A NUL byte (%00) in {where}.", extra={"parameter": where})


def nul_in(pairs: Iterable[tuple[str, Iterable[str]]]) -> str | None:
    """The first name among ``(name, values)`` whose name or a value holds a NUL byte."""
    for name, values in pairs:
        if "\x00" in name or any("\x00" in v for v in values):
            return name
    return None


class BadQuery(ApplicationError):
    """Query parameters the API cannot answer (400)."""

    code = "bad_query"


class NotFound(ApplicationError):
    status = status.HTTP_404_NOT_FOUND
    code = "not_found"


class Forbidden(ApplicationError):
    status = status.HTTP_403_FORBIDDEN
    code = "forbidden"


class Unauthorized(ApplicationError):
    status = status.HTTP_401_UNAUTHORIZED
    code = "not_authenticated"


class Conflict(ApplicationError):
    status = status.HTTP_409_CONFLICT
    code = "conflict"


class Unavailable(ApplicationError):
    status = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "unavailable"


class TooManyRequests(ApplicationError):
    """429: the client must wait ``retry_after`` seconds (sent as ``Retry-After``)."""

    status = status.HTTP_429_TOO_MANY_REQUESTS
    code = "throttled"

    def __init__(self, message: str, *, retry_after: int, extra: dict[str, Any] | None = None):
        super().__init__(message, extra=extra)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


RENDERER_SWITCH = "format"
"""DRF's own ``?format=json|api|csv`` picks an answer's renderer on any view: not data."""


def unknown_fields(
    serializer: serializers.Serializer[Any], data: Any, prefix: str = ""
) -> list[str]:
    """The keys of ``data`` no writable field of the serializer takes (nested: ``a.b``, ``a.0.b``).

    DRF drops such keys without a word: a misspelt field, or one the endpoint does not take, would
    lose what the caller sent.
    """
    if not isinstance(data, Mapping):
        return []
    fields = serializer.fields
    unknown = []
    for key, value in data.items():
        field = fields.get(key)
        if field is None and not prefix and key == RENDERER_SWITCH:
            continue
        if field is None or field.read_only:
            unknown.append(f"{prefix}{key}")
        elif (
            isinstance(field, serializers.ListSerializer)
            and isinstance(field.child, serializers.Serializer)
            and isinstance(value, list)
        ):
            for i, item in enumerate(value):
                unknown += unknown_fields(field.child, item, f"{prefix}{key}.{i}.")
        elif isinstance(field, serializers.Serializer):
            unknown += unknown_fields(field, value, f"{prefix}{key}.")
    return unknown


def unknown_message(unknown: list[str], noun: str) -> str:
    """The words of the refusal, for bodies and query strings alike ("Unknown field: x.")."""
    return f"Unknown {noun}{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}."


def refuse_unknown(
    serializer: serializers.Serializer[Any],
    data: Any,
    error: type[ApplicationError],
    *,
    noun: str = "field",
) -> None:
    """``error`` (a 400) naming the fields of ``data`` the serializer does not take, if any.

    ``noun="query parameter"`` where ``data`` is a query string read outside Django (the ASGI
    front's lookups): it then answers as gis.strict does in Django.
    """
    if unknown := unknown_fields(serializer, data):
        known = sorted(name for name, field in serializer.fields.items() if not field.read_only)
        raise error(unknown_message(unknown, noun), extra={"unknown": unknown, "known": known})


def validated(
    serializer: serializers.Serializer[Any],
    *,
    error: type[ApplicationError] = ApplicationError,
    message: str = "Invalid input.",
    noun: str = "field",
) -> dict[str, Any]:
    """The serializer's validated data, or ``error`` (a 400) with each field's reasons.

    A key the serializer has no field for is refused first, named (``refuse_unknown``).
    """
    refuse_unknown(serializer, getattr(serializer, "initial_data", None), error, noun=noun)
    if not serializer.is_valid():
        raise error(message, extra={"fields": serializer.errors})
    data: dict[str, Any] = serializer.validated_data
    return data


def error_body(message: str, *, code: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF handler: domain and validation errors become ``{"error": {...}}`` bodies, in JSON.

    Always JSON, whatever the request chose (``?format=csv``, ``.svg``): an error is no CSV
    report or chart, and its documented type is ``application/json``.
    """
    response = _error_response(exc, context)
    request = context.get("request")
    if response is not None and request is not None:
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
    return response


def _error_response(exc: Exception, context: dict[str, Any]) -> Response | None:
    # Imported here: rest_framework.views reads the authentication classes at import, and they
    # (gis.authentication) import this module.
    from rest_framework.views import exception_handler

    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body(
                f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes.",
                code="too_large",
            ),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, ApplicationError):
        return Response(
            exc.body(),
            status=exc.status,
            headers=exc.headers or None,
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = exception_handler(exc, context)
    if response is not None:
        detail = response.data
        message = detail.get("detail") if isinstance(detail, dict) else None
        code = getattr(exc, "default_code", "error")
        if message is not None and len(detail) == 1:
            response.data = error_body(str(message), code=code)
        else:
            response.data = error_body("Invalid input.", code=code, fields=detail)
    return response
