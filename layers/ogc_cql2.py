"""The CQL2-text ``filter`` of OGC API - Features (Part 3), as a Q on the viewer's queryables.

The field mapping handed to pygeofilter holds the viewer's queryables and nothing else, so a
column the role may not see is a 400, never a lookup.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException, MultiPolygon, Polygon
from django.core.exceptions import FieldError, ValidationError
from django.db.models import F, Q, Value
from django.utils.translation import gettext as _
from lark.exceptions import LarkError
from pygeofilter import ast
from pygeofilter.backends.django.evaluate import DjangoFilterEvaluator
from pygeofilter.backends.evaluator import handle
from pygeofilter.parsers.cql2_text import parse as cql2_text_parse

from gis.exceptions import ApplicationError
from layers.ogc_params import GEOMETRY, BadQuery, Queryable, bbox_parse
from layers.registry import LayerSpec


class FilterError(BadQuery):
    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__("filter", message, **extra)


def like_regex(*, pattern: str) -> str:
    """A CQL2 LIKE pattern (``%`` any run, ``_`` one character, backslash escapes) as a regex."""
    out, chars = ["^"], iter(pattern)
    for char in chars:
        if char == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    out.append("$")
    return "".join(out)


def _name(expression: F) -> str:
    """The field an F names: Django sets ``F.name``, django-stubs do not declare it."""
    name: str = expression.name  # type: ignore[attr-defined]
    return name


class CityFilterEvaluator(DjangoFilterEvaluator):
    """pygeofilter's Django evaluator, limited to the viewer's queryables.

    pygeofilter falls back to the raw name for an attribute missing from the mapping; here it is
    an error, so only allow-listed names ever reach a lookup. LIKE follows CQL2 (``_`` is one
    character, which pygeofilter's Django backend does not do), and ``BBOX(…)`` is an envelope.
    """

    def __init__(self, lookups: Mapping[str, str]) -> None:
        # Unannotated in pygeofilter; untyped_calls_exclude does not reach a call through super().
        super().__init__(dict(lookups), None)  # type: ignore[no-untyped-call]
        self.geometry_lookup = lookups.get(GEOMETRY)

    def _no_geometry(self, *operands: Any) -> None:
        if any(isinstance(o, F) and _name(o) == self.geometry_lookup for o in operands):
            raise FilterError(
                _("geometry can only be used in a spatial predicate (S_INTERSECTS…).")
            )

    @handle(ast.Comparison, subclasses=True)
    def comparison(self, node: ast.Comparison, lhs: Any, rhs: Any) -> Q:
        self._no_geometry(lhs, rhs)
        where: Q = super().comparison(node, lhs, rhs)
        return where

    @handle(ast.Between)
    def between(self, node: ast.Between, lhs: Any, low: Any, high: Any) -> Q:
        self._no_geometry(lhs, low, high)
        where: Q = super().between(node, lhs, low, high)
        return where

    @handle(ast.In)
    def in_(self, node: ast.In, lhs: Any, *options: Any) -> Q:
        self._no_geometry(lhs, *options)
        where: Q = super().in_(node, lhs, *options)
        return where

    @handle(ast.Attribute)
    def attribute(self, node: ast.Attribute) -> F:
        if node.name not in self.field_mapping:
            raise FilterError(
                _("Unknown property %(name)s in filter.") % {"name": repr(node.name)},
                queryables=sorted(self.field_mapping),
            )
        return F(self.field_mapping[node.name])

    @handle(ast.Like)
    def like(self, node: ast.Like, lhs: Any) -> Q:
        if not isinstance(lhs, F):
            raise FilterError(_("LIKE needs a property on its left."))
        if not isinstance(node.pattern, str):
            raise FilterError(_("LIKE needs a text pattern on its right."))
        self._no_geometry(lhs)
        lookup = "iregex" if node.nocase else "regex"
        where = Q(**{f"{_name(lhs)}__{lookup}": like_regex(pattern=node.pattern)})
        return ~where if node.not_ else where

    @handle(ast.Function)
    def function(self, node: ast.Function, *args: Any) -> Polygon | MultiPolygon:
        values = [a.value if isinstance(a, Value) else a for a in args]
        if node.name.lower() == "bbox" and len(values) in (4, 6):
            return bbox_parse(text=",".join(str(v) for v in values))
        raise FilterError(_("Function %(name)s is not supported.") % {"name": repr(node.name)})


def filter_parse(*, text: str, queryables: Mapping[str, Queryable]) -> Q:
    """A CQL2-text filter as a Q on the viewer's queryables; anything else is a 400."""
    try:
        tree = cql2_text_parse(text)
    except (LarkError, ValueError, TypeError, OverflowError) as exc:
        # A literal the grammar accepts can still fail to convert (DATE('2021-13-01')).
        message = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise FilterError(_("Invalid CQL2 filter: %(message)s") % {"message": message}) from None
    lookups = {name: q.lookup for name, q in queryables.items()}
    try:
        where = CityFilterEvaluator(lookups).evaluate(tree)
    except ApplicationError:
        raise
    except (
        ValueError,
        TypeError,
        KeyError,
        AssertionError,
        NotImplementedError,
        GEOSException,
        GDALException,
    ) as exc:
        raise FilterError(_("Unsupported CQL2 filter: %(exc)s") % {"exc": exc}) from None
    if not isinstance(where, Q):
        raise FilterError(_("The filter must be a predicate, e.g. flats > 10."))
    return where


def filter_check(*, spec: LayerSpec, where: Q) -> None:
    """Build the SQL (no query runs): a lookup a value cannot take is a 400 here, not a 500."""
    try:
        qs = spec.model._default_manager.filter(where)
        qs.query.get_compiler(using=qs.db).as_sql()
    except (
        FieldError,
        ValidationError,
        ValueError,
        TypeError,
        AttributeError,  # a GIS lookup given a non-geometry value
        GEOSException,
        GDALException,
    ) as exc:
        message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        raise FilterError(
            _("The filter does not fit the data: %(message)s") % {"message": message}
        ) from None
