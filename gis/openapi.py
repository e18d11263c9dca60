"""The answers every operation can give, added to the OpenAPI schema (a drf-spectacular hook).

Some refusals come from layers under the views, for any operation: a NUL byte or an undocumented
parameter (400, gis.middleware, gis.strict), a token that is not one (401), too many attempts or
anonymous writes (429, gis.throttling), a body over the endpoint's limit (413) or in a media type
it does not parse (415), an id that is not there (404 on a path with one), the database away or
its connections all busy (503). A client and a fuzzer read them in the schema like the rest.
Open311's ``.xml`` twins answer XML: the schema says so.

Links (OpenAPI ``links``) say which answer names the object another operation takes: each app
declares its own in its ``openapi`` module (``LINKS``), and ``operation_links`` writes them in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from gis.apps import app_modules

ERROR = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "request_id": {"type": "string"},
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}
EVERYWHERE = {
    "400": "a NUL byte, or a query parameter the operation does not document",
    "401": "an Authorization header that is no valid token",
    "429": "too many requests: wait Retry-After seconds",
    "503": "the database is away or every connection busy: retry after Retry-After seconds",
}
WRITE = {
    "403": "the role may not, or a browser session's write without its CSRF token",
    "413": "a body over the endpoint's limit",
    "415": "a body in a media type the endpoint does not parse",
}
WITH_ID = {"404": "no such object, or not one this role may see"}
WITH_FORMAT = {"404": "a format the operation does not answer in"}
# GeoReport v2 answers lists, and its errors as a list of {code, description}.
OPEN311_LISTS = ("/open311/v2/requests", "/open311/v2/services.", "/open311/v2/tokens/")
OPEN311_ERRORS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
    },
}
WRITES = {"post", "put", "patch", "delete"}


def _answer(description: str, path: str) -> dict[str, Any]:
    if path.endswith(".xml"):
        return {"description": description, "content": {"text/xml": {"schema": {"type": "string"}}}}
    schema = OPEN311_ERRORS if path.startswith("/open311/") else ERROR
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _open311_lists(responses: dict[str, Any]) -> None:
    for status, response in responses.items():
        json_content = response.get("content", {}).get("application/json")
        if json_content is not None and status.startswith("2"):
            json_content["schema"] = {"type": "array", "items": {"type": "object"}}


def _as_xml(responses: dict[str, Any]) -> None:
    for response in responses.values():
        content = response.get("content")
        if content and "text/xml" not in content:
            response["content"] = {"text/xml": {"schema": {"type": "string"}}}


def common_answers(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """``POSTPROCESSING_HOOKS``: every operation lists the refusals any request may meet."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result["paths"].items():
        xml = path.endswith(".xml")
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if xml:
                _as_xml(responses)
            elif path.startswith(OPEN311_LISTS):
                _open311_lists(responses)
            extra = dict(EVERYWHERE)
            if method in WRITES:
                extra |= WRITE
            if "{" in path:
                extra |= WITH_ID
            if any(p.get("name") == "format" for p in operation.get("parameters", ())):
                extra |= WITH_FORMAT
            for status, description in extra.items():
                responses.setdefault(status, _answer(description, path))
    return result


# --- links: which answer names the object another operation takes --------------------------------


@dataclass(frozen=True)
class Link:
    """An OpenAPI link: ``source``'s ``status`` answer names the object ``target`` takes.

    ``parameters`` maps each of the target's path parameters to a runtime expression:
    ``$response.body#/results/0/id`` (a JSON pointer into the answer) or ``$request.path.id``
    (the source's own path parameter). A client follows them from a list to an object; the
    fuzzer (tests/test_openapi.py) follows them to reach real objects instead of 404s.
    """

    source: str
    status: int
    target: str
    parameters: dict[str, str]


def links_to(source: str, status: int, targets: tuple[str, ...], **parameters: str) -> list[Link]:
    """The same parameters from one answer to several operations (an object's actions)."""
    return [Link(source, status, target, parameters) for target in targets]


def _app_links() -> Iterator[Link]:
    """``LINKS`` of each installed app's ``openapi`` module: the apps declare their own."""
    for module in app_modules("openapi"):
        yield from getattr(module, "LINKS", ())


def operation_links(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """``POSTPROCESSING_HOOKS``: each app's ``LINKS`` written into the responses they start from.

    A link naming an operation or a status the schema does not have is a mistake in the code,
    not in a request: the schema is not built (ImproperlyConfigured), so the test of the schema
    fails.
    """
    operations = {
        operation["operationId"]: (path, operation)
        for path, methods in result["paths"].items()
        for operation in methods.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    for link in _app_links():
        for name in (link.source, link.target):
            if name not in operations:
                raise ImproperlyConfigured(f"OpenAPI link names no operation {name!r}")
        response = operations[link.source][1]["responses"].get(str(link.status))
        if response is None:
            raise ImproperlyConfigured(f"{link.source} documents no {link.status} to link from")
        target_path, target = operations[link.target]
        taken = {p["name"] for p in target.get("parameters", []) if p["in"] == "path"}
        if set(link.parameters) != taken:
            raise ImproperlyConfigured(
                f"link {link.source} -> {link.target} gives {sorted(link.parameters)}, "
                f"the path {target_path} takes {sorted(taken)}"
            )
        response.setdefault("links", {})[link.target] = {
            "operationId": link.target,
            "parameters": link.parameters,
        }
    return result
