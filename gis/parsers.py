"""The JSON every API reads: DRF's parser, with a bound on how deeply a body may nest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_JSON_DEPTH = 64
"""Deeper than any body of ours (a GeoJSON MultiPolygon is 5 levels): deeper is an attack, which
Python's decoder would answer with a RecursionError (a 500) at a few thousand levels, and code
reading the result at a few hundred."""


def json_body_check(data: Any, limit: int = MAX_JSON_DEPTH) -> None:
    r"""ParseError when ``data`` nests deeper than ``limit`` or holds a NUL character.

    Walked without recursion. PostgreSQL text cannot hold NUL (written \u0000 in JSON), so a
    string with one could only end in an error deeper down.
    """
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            raise ParseError(
                _("The JSON body nests deeper than %(limit)s levels.") % {"limit": limit}
            )
        if isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    raise ParseError(_("The JSON body contains a NUL character (\\u0000)."))
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str) and "\x00" in value:
            raise ParseError(_("The JSON body contains a NUL character (\\u0000)."))


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; a body nested too deep is a 400, not a RecursionError."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(
                _("The JSON body nests deeper than %(max_json_depth)s levels.")
                % {"max_json_depth": MAX_JSON_DEPTH}
            ) from None
        json_body_check(data)
        return data
