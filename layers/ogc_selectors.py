"""Reads behind OGC API - Features (``/ogc/``): collection metadata, queryables, item queries.

Every document is scoped by the viewer: the collections its role may see (``layers.registry``),
the properties it may see (``LayerSpec.properties_for``), the rows it may see
(``LayerSpec.queryset_for``), and features shaped by ``layers.geojson.feature`` like the object
card's. The items request is parsed by ``layers.ogc_params`` (each parameter) and
``layers.ogc_cql2`` (the filter), which may only name the viewer's queryables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib.gis.db.models import Extent
from django.db import DEFAULT_DB_ALIAS, DataError, InternalError, ProgrammingError, transaction
from django.db.models import Max, Min, Q
from django.db.models.expressions import OrderBy
from django.utils import timezone
from django.utils.translation import gettext as _

from gis.exceptions import NotFound
from gis.replica import replica_read
from gis.roles import Viewer
from layers.geojson import feature, related_fields
from layers.ogc_cql2 import FilterError, filter_check, filter_parse
from layers.ogc_params import (
    GEOMETRY,
    GEOMETRY_FORMATS,
    BadQuery,
    bbox_parse,
    datetime_parse,
    limit_parse,
    offset_parse,
    properties_parse,
    queryables_for,
    sortby_parse,
)
from layers.registry import LayerSpec, layers_for

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
JSON_SCHEMA = "application/schema+json"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
OPENAPI_YAML = "application/vnd.oai.openapi"
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"

CONFORMANCE: tuple[str, ...] = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/property-property",
)

FID_RE = re.compile(r"^[0-9]{1,19}$")


# --- documents -------------------------------------------------------------------------------


def _link(href: str, rel: str, type_: str, title: str = "") -> dict[str, str]:
    out = {"href": href, "rel": rel, "type": type_}
    if title:
        out["title"] = title
    return out


def _with_query(url: str, params: Mapping[str, Any]) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None and v != ""})
    return f"{url}?{query}" if query else url


def landing_describe(*, base: str, schema_url: str, docs_url: str) -> dict[str, Any]:
    """The landing page: what the API is and where its parts are."""
    return {
        "title": "citygis OGC API - Features",
        "description": (
            "The city's layers as OGC API - Features collections, scoped by the caller's role "
            "(Authorization: Token …)."
        ),
        "links": [
            _link(_with_query(base, {"f": "json"}), "self", JSON, "This document"),
            _link(_with_query(base, {"f": "html"}), "alternate", HTML, "This document as HTML"),
            _link(f"{base}api", "service-desc", OPENAPI_JSON, "The API definition (OpenAPI 3.0)"),
            _link(schema_url, "service-desc", OPENAPI_YAML, "The API definition as YAML"),
            _link(docs_url, "service-doc", HTML, "The API documentation"),
            _link(f"{base}conformance", "conformance", JSON, "Conformance classes"),
            _link(f"{base}collections", "data", JSON, "The collections"),
        ],
    }


def conformance_describe(*, base: str) -> dict[str, Any]:
    return {
        "conformsTo": list(CONFORMANCE),
        "links": [
            _link(_with_query(f"{base}conformance", {"f": "json"}), "self", JSON),
            _link(_with_query(f"{base}conformance", {"f": "html"}), "alternate", HTML),
        ],
    }


def _instant(value: date | datetime | None, *, end: bool = False) -> str | None:
    """An RFC 3339 date-time for an extent: a date spans its whole (UTC) day."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return f"{value.isoformat()}T{'23:59:59' if end else '00:00:00'}Z"


def collection_extent(
    *, spec: LayerSpec, viewer: Viewer, using: str = DEFAULT_DB_ALIAS
) -> dict[str, Any] | None:
    """The spatial (CRS84) and temporal extent of the rows the viewer may see; None if none."""
    aggregates: dict[str, Any] = {"bbox": Extent(spec.geometry_field.name)}
    if spec.datetime_field:
        aggregates["first"] = Min(spec.datetime_field)
        aggregates["last"] = Max(spec.datetime_field)
    found = spec.queryset_for(viewer).using(using).aggregate(**aggregates)
    if found["bbox"] is None:
        return None
    extent: dict[str, Any] = {"spatial": {"bbox": [list(found["bbox"])], "crs": CRS84}}
    if spec.datetime_field:
        extent["temporal"] = {
            "interval": [[_instant(found["first"]), _instant(found["last"], end=True)]],
            "trs": GREGORIAN,
        }
    return extent


@replica_read
def collection_describe(
    *, spec: LayerSpec, viewer: Viewer, base: str, using: str = DEFAULT_DB_ALIAS
) -> dict[str, Any]:
    """One collection's metadata: id, title, extent from the data, CRS and links."""
    url = f"{base}collections/{spec.name}"
    doc: dict[str, Any] = {
        "id": spec.name,
        "title": str(spec.title),
        "description": str(spec.description)
        or _("%(title)s of the city (%(geometry)s).")
        % {"title": str(spec.title), "geometry": spec.geometry_type},
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
    }
    extent = collection_extent(spec=spec, viewer=viewer, using=using)
    if extent is not None:
        doc["extent"] = extent
    doc["links"] = [
        _link(_with_query(url, {"f": "json"}), "self", JSON, "This collection"),
        _link(_with_query(url, {"f": "html"}), "alternate", HTML, "This collection as HTML"),
        _link(_with_query(f"{url}/items", {"f": "json"}), "items", GEOJSON, "Items as GeoJSON"),
        _link(_with_query(f"{url}/items", {"f": "html"}), "items", HTML, "Items as HTML"),
        _link(f"{url}/queryables", QUERYABLES_REL, JSON_SCHEMA, "Queryables"),
        _link(f"{url}/queryables", "queryables", JSON_SCHEMA, "Queryables"),
        _link(f"{url}/feature-schema", "describedby", JSON_SCHEMA, "Schema of the features"),
        # Link relations compare case-insensitively (RFC 8288), GDAL < 3.7 does not: it reads
        # only "describedBy", and without a schema it guesses field types from the first page
        # (a page where every flats is null makes flats a string).
        _link(f"{url}/feature-schema", "describedBy", JSON_SCHEMA, "Schema of the features"),
    ]
    return doc


@replica_read
def collections_describe(
    *, viewer: Viewer, base: str, using: str = DEFAULT_DB_ALIAS
) -> dict[str, Any]:
    """Every collection the viewer's role may see, in registry order."""
    url = f"{base}collections"
    return {
        "collections": [
            collection_describe(spec=spec, viewer=viewer, base=base, using=using)
            for spec in layers_for(viewer)
        ],
        "links": [
            _link(_with_query(url, {"f": "json"}), "self", JSON, "The collections"),
            _link(_with_query(url, {"f": "html"}), "alternate", HTML, "The collections as HTML"),
        ],
    }


# --- queryables ------------------------------------------------------------------------------


def queryables_describe(*, spec: LayerSpec, viewer: Viewer, base: str) -> dict[str, Any]:
    """The collection's queryables as a JSON Schema (Part 3), as the viewer's role sees them."""
    url = f"{base}collections/{spec.name}/queryables"
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": url,
        "type": "object",
        "title": str(spec.title),
        "properties": {
            name: q.schema for name, q in queryables_for(spec=spec, viewer=viewer).items()
        },
        "additionalProperties": False,
        "links": [
            _link(url, "self", JSON_SCHEMA, "Queryables"),
            _link(f"{base}collections/{spec.name}", "collection", JSON, str(spec.title)),
        ],
    }


def feature_schema_describe(*, spec: LayerSpec, viewer: Viewer, base: str) -> dict[str, Any]:
    """A JSON Schema of the collection's GeoJSON features, with the viewer's typed properties."""
    props = {
        name: q.schema
        for name, q in queryables_for(spec=spec, viewer=viewer).items()
        if name != GEOMETRY
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base}collections/{spec.name}/feature-schema",
        "title": _("%(title)s: a feature") % {"title": spec.title},
        "type": "object",
        "required": ["type", "id", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "integer"},
            "geometry": {
                "title": "Geometry",
                "format": GEOMETRY_FORMATS.get(spec.geometry_type, "geometry-any"),
            },
            "properties": {
                "type": "object",
                "properties": {
                    "layer": {"title": "Layer", "type": "string", "enum": [spec.name]},
                    **props,
                },
            },
        },
    }


# --- items -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemsQuery:
    where: Q
    order_by: tuple[OrderBy, ...]
    properties: tuple[str, ...] | None
    limit: int
    offset: int


def items_query_parse(*, spec: LayerSpec, viewer: Viewer, params: Mapping[str, str]) -> ItemsQuery:
    """The items request's parameters, checked against what this viewer may see."""
    queryables = queryables_for(spec=spec, viewer=viewer)
    where = Q()
    if params.get("bbox"):
        where &= Q(**{f"{spec.geometry_field.name}__intersects": bbox_parse(text=params["bbox"])})
    elif "bbox" in params:
        raise BadQuery("bbox", _("bbox is empty."))
    if "datetime" in params:
        where &= datetime_parse(spec=spec, text=params["datetime"])
    lang = params.get("filter-lang", "cql2-text")
    if lang != "cql2-text":
        raise BadQuery(
            "filter-lang",
            _("Unsupported filter-lang %(value)s; use cql2-text.") % {"value": repr(lang[:40])},
        )
    if params.get("filter-crs", CRS84) != CRS84:
        raise BadQuery("filter-crs", _("filter-crs must be %(crs84)s.") % {"crs84": CRS84})
    if params.get("filter", "").strip():
        cql = filter_parse(text=params["filter"], queryables=queryables)
        filter_check(spec=spec, where=cql)
        where &= cql
    order_by: tuple[OrderBy, ...] = ()
    if params.get("sortby", "").strip():
        order_by = sortby_parse(text=params["sortby"], queryables=queryables)
    properties = None
    if "properties" in params:
        properties = properties_parse(
            text=params["properties"], allowed=spec.properties_for(viewer)
        )
    return ItemsQuery(
        where=where,
        order_by=order_by,
        properties=properties,
        limit=limit_parse(text=params.get("limit")),
        offset=offset_parse(text=params.get("offset")),
    )


# undefined_function (no such operator for these types), datatype_mismatch
TYPE_MISMATCH = frozenset({"42883", "42804"})


def _sqlstate(exc: Exception) -> str | None:
    return getattr(exc.__cause__, "sqlstate", None)


def _timestamp() -> str:
    return timezone.now().astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@replica_read
def items_page(
    *,
    spec: LayerSpec,
    viewer: Viewer,
    query: ItemsQuery,
    base: str,
    params: Mapping[str, str],
    using: str = DEFAULT_DB_ALIAS,
) -> dict[str, Any]:
    """One page of the collection's items as a GeoJSON FeatureCollection with paging links.

    ``params`` are the request's own (to repeat in self/next/prev links).
    """
    qs = (
        spec.queryset_for(viewer)
        .using(using)
        .filter(query.where)
        .select_related(*related_fields(spec, viewer))
        .order_by(*query.order_by, "pk")
    )
    try:
        # A savepoint: a value the database rejects (out of range, a GEOS error on a broken
        # polygon in a filter) must not poison the request's connection.
        with transaction.atomic(using=using):
            matched = qs.count()
            rows = []
            if query.offset < matched:  # past the end the database is not asked at all
                rows = list(qs[query.offset : query.offset + query.limit])
    except (DataError, InternalError, ProgrammingError) as exc:
        # A type mismatch the filter made (street > 5: "operator does not exist") is the
        # client's; any other programming error is ours and stays a 500.
        if isinstance(exc, ProgrammingError) and _sqlstate(exc) not in TYPE_MISMATCH:
            raise
        raise FilterError(
            _("The query could not be evaluated: %(0)s") % {"0": str(exc).splitlines()[0]}
        ) from None
    url = f"{base}collections/{spec.name}/items"
    kept = {k: v for k, v in params.items() if k not in ("f", "limit", "offset")}

    def page(offset: int, f: str) -> str:
        return _with_query(url, {**kept, "limit": query.limit, "offset": offset or None, "f": f})

    links = [
        _link(page(query.offset, "json"), "self", GEOJSON, "This page"),
        _link(page(query.offset, "html"), "alternate", HTML, "This page as HTML"),
        _link(f"{base}collections/{spec.name}", "collection", JSON, str(spec.title)),
    ]
    if query.offset + len(rows) < matched:
        nxt = query.offset + query.limit
        links += [
            _link(page(nxt, "json"), "next", GEOJSON, "Next page"),
            _link(page(nxt, "html"), "next", HTML, "Next page as HTML"),
        ]
    if query.offset > 0:
        prev = max(0, min(query.offset, matched) - query.limit)
        links += [
            _link(page(prev, "json"), "prev", GEOJSON, "Previous page"),
            _link(page(prev, "html"), "prev", HTML, "Previous page as HTML"),
        ]
    return {
        "type": "FeatureCollection",
        "features": [feature(spec, obj, viewer, properties=query.properties) for obj in rows],
        "numberMatched": matched,
        "numberReturned": len(rows),
        "timeStamp": _timestamp(),
        "links": links,
    }


@replica_read
def item_get(
    *, spec: LayerSpec, viewer: Viewer, fid: str, base: str, using: str = DEFAULT_DB_ALIAS
) -> dict[str, Any]:
    """One feature by id, if this viewer may see its row; otherwise 404."""
    qs = spec.queryset_for(viewer).using(using).select_related(*related_fields(spec, viewer))
    obj = qs.filter(pk=int(fid)).first() if FID_RE.match(fid) and int(fid) < 2**63 else None
    if obj is None:
        raise NotFound(
            _("No feature %(value)s in collection %(name)s.")
            % {"value": repr(fid[:40]), "name": repr(spec.name)}
        )
    url = f"{base}collections/{spec.name}/items/{obj.pk}"
    return {
        **feature(spec, obj, viewer),
        "links": [
            _link(_with_query(url, {"f": "json"}), "self", GEOJSON, "This feature"),
            _link(_with_query(url, {"f": "html"}), "alternate", HTML, "This feature as HTML"),
            _link(f"{base}collections/{spec.name}", "collection", JSON, str(spec.title)),
        ],
    }
